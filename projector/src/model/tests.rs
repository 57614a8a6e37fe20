//! The registry's promises: each collection and event kind has one model and a lexicon, and deleting
//! an account empties every table of every model that keeps an account's rows, in a rebuild as in
//! incremental application. A model added to the registry is covered as soon as the sample below has
//! a record of its collections.

use std::collections::BTreeSet;
use std::path::Path;

use reprise_events::{EventLog, NewEvent};
use reprise_lexicons::Catalog;
use reprise_testkit::{FrameBuilder, account, records};
use serde_json::json;

use crate::model::MODELS;
use crate::model::descriptor::{AccountRows, Folds, Model};
use crate::{Projector, VIEWS_FILE, rebuild};

const DID: &str = "did:plc:ownerowneraaaaaaaaaaaaaa";
const T: &str = "2026-05-01T10:00:00.000Z";

/// The collections a model folds (none for a model of other events).
fn collections(model: &Model) -> &'static [&'static str] {
    match model.folds {
        Folds::Records { collections, .. } => collections,
        Folds::Events { .. } => &[],
    }
}

#[test]
fn each_collection_and_event_kind_has_one_model_and_each_collection_a_lexicon() {
    let catalog = Catalog::builtin();
    let (mut names, mut seen, mut kinds) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    for model in MODELS {
        assert!(names.insert(model.name), "two models named {}", model.name);
        for c in collections(model) {
            assert!(seen.insert(*c), "{c} is folded by two models");
            assert!(catalog.has(c), "{c} ({}) has no lexicon: every version would be invalid", model.name);
        }
        if let Folds::Events { kinds: k, .. } = model.folds {
            for kind in k {
                assert!(kinds.insert(kind.as_str()), "{} events are folded by two models", kind.as_str());
            }
        }
    }
    assert!(seen.contains("fm.plyr.track") && kinds.contains("media"), "{seen:?} {kinds:?}");
}

/// A valid record of `collection` and its record key, owned by the account the test deletes.
fn sample(collection: &str, n: usize) -> (String, serde_json::Value) {
    let rkey = tid(n);
    let track = records::track_uri(DID, "3kaaaaaaaaaa2");
    let mut alpha_status = records::status("song", T, T);
    alpha_status["$type"] = json!("fm.teal.alpha.actor.status");
    let (rkey, record) = match collection {
        "fm.plyr.track" => (
            "3kaaaaaaaaaa2".to_owned(),
            json!({"$type": "fm.plyr.track", "title": "song",
            "artist": "someone", "fileType": "mp3", "createdAt": T}),
        ),
        "fm.plyr.like" => (rkey, records::like(&track, T)),
        "fm.plyr.comment" => (rkey, records::comment(&track, "hi", 5, T)),
        "fm.plyr.list" => (rkey, records::list("mine", "playlist", &[&track], T)),
        "fm.plyr.actor.profile" => ("self".to_owned(), records::profile("hi")),
        "fm.teal.feed.play" => (rkey, records::play("song", "someone", Some(&track), T)),
        "fm.teal.alpha.feed.play" => {
            (rkey, records::alpha_play("song", "someone", "https://plyr.fm/track/x", T))
        }
        "fm.teal.actor.status" => ("self".to_owned(), records::status("song", T, T)),
        "fm.teal.alpha.actor.status" => ("self".to_owned(), alpha_status),
        other => panic!("no sample record of {other}: add one to this test"),
    };
    (rkey, record)
}

/// The `n`th record key or rev (a TID).
fn tid(n: usize) -> String {
    format!("3kaaaaaaaa{}a2", char::from(b'b' + n as u8))
}

/// The tables a model declares.
fn tables(model: &Model) -> Vec<&'static str> {
    model
        .tables
        .split("CREATE ")
        .filter_map(|s| s.split("TABLE IF NOT EXISTS ").nth(1)?.split_whitespace().next())
        .collect()
}

fn count(views: &Path, table: &str) -> i64 {
    let conn = rusqlite::Connection::open(views).unwrap();
    conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0)).unwrap()
}

/// Every table of every model whose rows belong to accounts: empty or not, as `expected`.
fn check_tables(views: &Path, expect_empty: bool, when: &str) {
    for model in MODELS.iter().filter(|m| !matches!(m.account, AccountRows::None)) {
        let declared = tables(model);
        assert!(!declared.is_empty(), "{}: no tables read from its declaration", model.name);
        for table in declared {
            let n = count(views, table);
            assert_eq!(n == 0, expect_empty, "{when}: {table} of {} has {n} rows", model.name);
        }
    }
}

fn append(log: &mut EventLog, frames: &[String], received: &mut i64) {
    let events: Vec<NewEvent> = frames
        .iter()
        .map(|f| {
            *received += 1;
            let d = reprise_ingest::decode_v1(f.as_bytes());
            NewEvent {
                envelope: d.envelope,
                frame: f.clone().into_bytes(),
                source_cursor: d.cursor,
                received_at_us: *received,
            }
        })
        .collect();
    log.append("test", &events, None).unwrap();
}

#[test]
fn deleting_an_account_empties_every_table_of_every_model_that_keeps_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = EventLog::open(dir.path()).unwrap();
    let mut received = 1_779_800_000_000_000;
    let mut owner = FrameBuilder::new(DID);
    let collections = MODELS.iter().flat_map(|m| collections(m));
    let frames: Vec<String> = collections
        .enumerate()
        .map(|(n, c)| {
            let (rkey, record) = sample(c, n);
            owner.put("create", c, &rkey, &tid(n), record)
        })
        .collect();
    append(&mut log, &frames, &mut received);
    let catalog = std::sync::Arc::new(Catalog::builtin());
    let views = dir.path().join(VIEWS_FILE);
    let mut projector = Projector::open(dir.path(), 100, catalog.clone()).unwrap();
    let before = projector.catch_up(None).unwrap();
    assert_eq!((before.applied, before.ignored), (frames.len() as u64, 0), "every sample is a valid version");
    check_tables(&views, false, "before the deletion");
    let rebuilt = dir.path().join("rebuilt").join(VIEWS_FILE);
    rebuild(dir.path(), &rebuilt, None, &catalog).unwrap();
    check_tables(&rebuilt, false, "rebuilt before the deletion");

    append(&mut log, &[account(DID, 10, false, Some("deleted"))], &mut received);
    projector.catch_up(None).unwrap();
    check_tables(&views, true, "after the deletion");
    rebuild(dir.path(), &rebuilt, None, &catalog).unwrap();
    check_tables(&rebuilt, true, "rebuilt after the deletion");
}
