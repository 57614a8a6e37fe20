//! The tracks read model under replays, reorderings, deletes and bad records.

mod support;

use reprise_projector::{Catalog, VIEWS_FILE, rebuild};
use reprise_testkit::{FrameBuilder, Mix, Rng, dump_views as dump, generate};
use serde_json::json;
use support::World;

const DID: &str = "did:plc:mcc5yghbk7tixqryac2yxku7";
const T1: &str = "2026-05-01T10:00:00.000Z";

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

#[test]
fn create_update_delete() {
    let mut w = World::new();
    let mut r = FrameBuilder::new(DID);
    w.given(&[r.track("create", "3kaaaaaaaaaa2", "3kaaaaaaaaab2", "first", T1)]);
    w.project(100);
    assert_eq!(w.titles(), pairs(&[("3kaaaaaaaaaa2", "first")]));
    w.given(&[r.track("update", "3kaaaaaaaaaa2", "3kaaaaaaaaac2", "renamed", T1)]);
    w.project(100);
    assert_eq!(w.titles(), pairs(&[("3kaaaaaaaaaa2", "renamed")]));
    w.given(&[r.delete("fm.plyr.track", "3kaaaaaaaaaa2", "3kaaaaaaaaad2")]);
    w.project(100);
    assert_eq!(w.titles(), pairs(&[]));
}

#[test]
fn an_older_rev_after_a_newer_one_does_not_win() {
    let mut w = World::new();
    let mut r = FrameBuilder::new(DID);
    w.given(&[
        r.track("update", "3kaaaaaaaaaa2", "3kaaaaaaaaac2", "newer", T1),
        r.track("create", "3kaaaaaaaaaa2", "3kaaaaaaaaab2", "older", T1),
    ]);
    w.project(100);
    assert_eq!(w.titles(), pairs(&[("3kaaaaaaaaaa2", "newer")]));
}

#[test]
fn a_delete_then_a_replayed_create_does_not_resurrect() {
    let mut w = World::new();
    let mut r = FrameBuilder::new(DID);
    let create = r.track("create", "3kaaaaaaaaaa2", "3kaaaaaaaaab2", "gone", T1);
    w.given(&[create.clone(), r.delete("fm.plyr.track", "3kaaaaaaaaaa2", "3kaaaaaaaaac2")]);
    w.project(100);
    // The same create delivered again (a rewind, another host) is the same event: the log drops it.
    let mut replayed: serde_json::Value = serde_json::from_str(&create).unwrap();
    replayed["time_us"] = json!(1);
    w.given(&[replayed.to_string()]);
    assert_eq!(w.log.head(), 2);
    // A create the log has not seen, at a rev older than the tombstone, reaches the projector and loses.
    w.given(&[r.track("create", "3kaaaaaaaaaa2", "3kaaaaaaaaab3", "older create", T1)]);
    w.project(100);
    assert_eq!(w.titles(), pairs(&[]));
    // A genuinely newer create of the same key is a new record and does appear.
    w.given(&[r.track("create", "3kaaaaaaaaaa2", "3kaaaaaaaaad2", "back", T1)]);
    w.project(100);
    assert_eq!(w.titles(), pairs(&[("3kaaaaaaaaaa2", "back")]));
}

#[test]
fn an_update_for_an_unknown_record_is_a_create() {
    let mut w = World::new();
    let mut r = FrameBuilder::new(DID);
    w.given(&[r.track("update", "3kaaaaaaaaaa2", "3kaaaaaaaaab2", "only update", T1)]);
    w.project(100);
    assert_eq!(w.titles(), pairs(&[("3kaaaaaaaaaa2", "only update")]));
}

#[test]
fn an_invalid_update_after_a_valid_create_changes_nothing() {
    let mut w = World::new();
    let mut r = FrameBuilder::new(DID);
    w.given(&[r.track("create", "3kaaaaaaaaaa2", "3kaaaaaaaaab2", "valid", T1)]);
    for (rev, bad) in [
        (
            "3kaaaaaaaaac2",
            json!({"$type": "fm.plyr.track", "artist": "a", "fileType": "mp3", "createdAt": T1}),
        ),
        (
            "3kaaaaaaaaad2",
            json!({"$type": "fm.plyr.track", "title": "", "artist": "a", "fileType": "mp3", "createdAt": T1}),
        ),
        (
            "3kaaaaaaaaae2",
            json!({"$type": "fm.plyr.track", "title": "x", "artist": "a", "fileType": "mp3", "createdAt": "yesterday"}),
        ),
        (
            "3kaaaaaaaaaf2",
            json!({"$type": "fm.plyr.like", "title": "x", "artist": "a", "fileType": "mp3", "createdAt": T1}),
        ),
        (
            "3kaaaaaaaaag2",
            json!({"$type": "fm.plyr.track", "title": 5, "artist": "a", "fileType": "mp3", "createdAt": T1}),
        ),
        (
            "3kaaaaaaaaah2",
            json!({"$type": "fm.plyr.track", "title": "x", "artist": "a", "fileType": "mp3", "createdAt": T1, "features": "nope"}),
        ),
        (
            "3kaaaaaaaaai2",
            json!({"$type": "fm.plyr.track", "title": "x", "artist": "a", "fileType": "mp3", "createdAt": T1, "duration": -3}),
        ),
    ] {
        w.given(&[r.put("update", "fm.plyr.track", "3kaaaaaaaaaa2", rev, bad)]);
    }
    w.project(100);
    assert_eq!(w.titles(), pairs(&[("3kaaaaaaaaaa2", "valid")]));
    // The invalid versions did not move the head: a valid version newer than the first is still applied.
    w.given(&[r.track("update", "3kaaaaaaaaaa2", "3kaaaaaaaaab3", "valid again", T1)]);
    w.project(100);
    assert_eq!(w.titles(), pairs(&[("3kaaaaaaaaaa2", "valid again")]));
}

#[test]
fn a_future_created_at_does_not_pin_a_track_to_the_top() {
    let mut w = World::new();
    let mut r = FrameBuilder::new(DID);
    w.given(&[r.track("create", "3kaaaaaaaaaa2", "3kaaaaaaaaab2", "from 2099", "2099-01-01T00:00:00Z")]);
    w.project(100);
    let conn = rusqlite::Connection::open(w.dir.path().join(VIEWS_FILE)).unwrap();
    let (sort, indexed): (i64, i64) = conn
        .query_row("SELECT sort_at_us, indexed_at_us FROM tracks", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!(sort, indexed);
}

#[test]
fn rebuild_equals_incremental_for_random_batch_sizes_and_interleavings() {
    for seed in 0..6u64 {
        let mut rng = Rng::new(seed);
        let mut fixture = Vec::new();
        let mix = Mix { track_update: 200, track_delete: 120, redelivery: 60, ..Mix::default() };
        generate(&mut fixture, 600, 6, seed, &mix).unwrap();
        let mut frames: Vec<String> =
            String::from_utf8(fixture).unwrap().lines().map(str::to_owned).collect();
        // Shuffle within small windows: Jetstream reorders, it does not scramble.
        for i in 0..frames.len() {
            let j = (i + rng.below(8) as usize).min(frames.len() - 1);
            frames.swap(i, j);
        }
        let mut w = World::new();
        let mut at = 0;
        while at < frames.len() {
            let n = 1 + rng.below(90) as usize;
            let end = (at + n).min(frames.len());
            w.given(&frames[at..end]);
            at = end;
            if rng.below(3) == 0 {
                w.project(1 + rng.below(50) as usize);
            }
        }
        w.project(1 + rng.below(50) as usize);
        let out = tempfile::tempdir().unwrap();
        rebuild(w.dir.path(), &out.path().join(VIEWS_FILE), None, &Catalog::builtin()).unwrap();
        let (incremental, rebuilt) =
            (dump(&w.dir.path().join(VIEWS_FILE)), dump(&out.path().join(VIEWS_FILE)));
        assert!(
            incremental.lines().any(|l| l.starts_with("tracks:")),
            "seed {seed}: the fixture made tracks"
        );
        assert_eq!(incremental, rebuilt, "seed {seed}");
    }
}

#[test]
fn reordered_delivery_converges_to_the_same_tracks() {
    let mut fixture = Vec::new();
    // Without account events: a deletion's effect depends on which commits it sees (by design), so
    // only per-record ordering is order-independent.
    let mix = Mix { track_update: 300, track_delete: 150, account: 0, ..Mix::default() };
    generate(&mut fixture, 400, 4, 11, &mix).unwrap();
    let frames: Vec<String> = String::from_utf8(fixture).unwrap().lines().map(str::to_owned).collect();
    let mut forward = World::new();
    forward.given(&frames);
    forward.project(1000);
    let mut backward = World::new();
    backward.given(&frames.iter().rev().cloned().collect::<Vec<_>>());
    backward.project(7);
    assert_eq!(forward.titles(), backward.titles());
    assert!(!forward.titles().is_empty());
}

#[test]
fn rebuild_until_a_seq_stops_there() {
    let mut w = World::new();
    let mut r = FrameBuilder::new(DID);
    w.given(&[r.track("create", "3kaaaaaaaaaa2", "3kaaaaaaaaab2", "v1", T1)]);
    w.given(&[r.track("update", "3kaaaaaaaaaa2", "3kaaaaaaaaac2", "v2", T1)]);
    let out = tempfile::tempdir().unwrap();
    let views = out.path().join(VIEWS_FILE);
    let report = rebuild(w.dir.path(), &views, Some(1), &Catalog::builtin()).unwrap();
    assert_eq!(report.report.checkpoint, 1);
    let conn = rusqlite::Connection::open(&views).unwrap();
    let title: String = conn.query_row("SELECT title FROM tracks", [], |r| r.get(0)).unwrap();
    assert_eq!(title, "v1");
}
