//! Table tests of `decode_firehose` on frames built from real signed commits.

use reprise_events::{CidCheck, EventKind, GapRange, Operation};
use reprise_testkit::firehose_frames::{
    LiveRepo, account_frame, commit_frame, error_frame, frame, identity_frame, info_frame, spoil_blocks,
};
use serde_json::{Value, json};
use shrike::cbor::Value as Cbor;

use super::*;
use crate::stream::Filters;

const HOST: &str = "ws://127.0.0.1:1/xrpc/com.atproto.sync.subscribeRepos";

fn ctx() -> FirehoseContext {
    FirehoseContext {
        host: HOST.into(),
        filters: Filters { wanted_collections: vec!["fm.plyr.*".into()], wanted_dids: Vec::new() },
        max_frame_bytes: 1 << 20,
    }
}

fn track(title: &str) -> Value {
    json!({"$type": "fm.plyr.track", "title": title, "artist": "Firehose Artist", "fileType": "mp3",
           "createdAt": "2026-06-01T12:00:00.000Z", "audioUrl": "https://audio.example/a.mp3"})
}

/// The events of a message frame, or a panic naming what it was instead.
fn events(bytes: &[u8], ctx: &FirehoseContext) -> (i64, Vec<FirehoseEvent>) {
    match decode_firehose(bytes, ctx) {
        FirehoseFrame::Message { seq, events } => (seq, events),
        other => panic!("expected a message, got {other:?}"),
    }
}

/// Asserts `bytes` is rejected with a reason containing `why`, keeping `kept` bytes, at `seq`.
fn check_rejected(bytes: &[u8], why: &str, seq: Option<i64>) {
    let FirehoseFrame::Rejected { seq: got_seq, event } = decode_firehose(bytes, &ctx()) else {
        panic!("{why}: not rejected")
    };
    let reason = event.envelope.reject_reason.clone().unwrap_or_default();
    assert!(reason.contains(why), "expected {why:?} in {reason:?}");
    assert_eq!(event.envelope.kind(), EventKind::Rejected);
    assert_eq!(got_seq, seq, "{why}");
    assert_eq!(event.frame, bytes[..bytes.len().min(1 << 20)], "{why}: the frame is kept");
}

fn frame_json(e: &FirehoseEvent) -> Value {
    serde_json::from_slice(&e.frame).unwrap()
}

#[test]
fn create_update_delete_give_the_jetstream_envelope_and_a_v1_shaped_frame() {
    let mut repo = LiveRepo::new(1);
    let create = repo.create("fm.plyr.track", "3kaaaaaaaaaa2", &track("One")).commit_frame(10);
    let update = repo.update("fm.plyr.track", "3kaaaaaaaaaa2", &track("One (edit)")).commit_frame(11);
    let delete = repo.delete("fm.plyr.track", "3kaaaaaaaaaa2").commit_frame(12);

    let (seq, created) = events(&create, &ctx());
    assert_eq!(seq, 10);
    let [e] = &created[..] else { panic!("{created:?}") };
    let env = &e.envelope;
    assert_eq!(env.kind(), EventKind::Commit);
    assert_eq!(env.did.as_deref(), Some(repo.did()));
    assert_eq!(
        (env.collection.as_deref(), env.rkey.as_deref()),
        (Some("fm.plyr.track"), Some("3kaaaaaaaaaa2"))
    );
    assert_eq!(env.operation, Some(Operation::Create));
    assert_eq!(env.cid_check, Some(CidCheck::Match));
    assert_eq!(env.event_time_us, Some((1_780_000_000 + 10) * 1_000_000));
    let record = crate::commit_record(&e.frame).unwrap();
    assert_eq!(crate::record_cid(record.get().as_bytes()).unwrap(), env.cid.clone().unwrap());
    let f = frame_json(e);
    assert_eq!(f["kind"], "commit");
    assert_eq!(f["commit"]["rev"], env.rev.clone().unwrap());
    assert_eq!(f["commit"]["record"]["title"], "One");
    assert_eq!(f["firehose"]["seq"], 10);
    assert_eq!(f["firehose"]["host"], HOST);
    assert!(f["firehose"]["commit"].as_str().unwrap().starts_with("bafyrei"));

    let (_, updated) = events(&update, &ctx());
    assert_eq!(updated[0].envelope.operation, Some(Operation::Update));
    let f = frame_json(&updated[0]);
    assert_eq!(f["commit"]["record"]["title"], "One (edit)");
    assert_eq!(f["firehose"]["prev"], env.cid.clone().unwrap(), "an update names the version it replaces");
    assert_eq!(f["firehose"]["since"], env.rev.clone().unwrap());

    let (_, deleted) = events(&delete, &ctx());
    let d = &deleted[0].envelope;
    assert_eq!((d.operation, d.cid.as_deref(), d.cid_check.as_ref()), (Some(Operation::Delete), None, None));
    assert!(frame_json(&deleted[0])["commit"].get("record").is_none());
    assert!(d.rev > env.rev, "revs grow");
}

#[test]
fn a_multi_op_commit_keeps_only_the_wanted_collections() {
    let mut repo = LiveRepo::new(2);
    repo.create("fm.plyr.track", "3kaaaaaaaaaa2", &track("A"));
    repo.create("fm.plyr.like", "3kaaaaaaaaab2", &json!({"$type": "fm.plyr.like", "createdAt": "2026-06-01T12:00:00.000Z",
        "subject": {"uri": "at://did:plc:x/fm.plyr.track/3k", "cid": "bafyreigm4hr7b6fcgdbevnhyfcnfcaalw3f4npgkwzh4okrcpxa2ukn7ne"}}));
    repo.create(
        "app.bsky.feed.post",
        "3kaaaaaaaaac2",
        &json!({"$type": "app.bsky.feed.post", "text": "hi",
        "createdAt": "2026-06-01T12:00:00.000Z"}),
    );
    let bytes = repo.commit_frame(3);
    let (_, got) = events(&bytes, &ctx());
    let collections: Vec<_> = got.iter().map(|e| e.envelope.collection.clone().unwrap()).collect();
    assert_eq!(collections, ["fm.plyr.like", "fm.plyr.track"]);
    let like = frame_json(&got[0]);
    assert_eq!(
        like["commit"]["record"]["subject"]["cid"],
        "bafyreigm4hr7b6fcgdbevnhyfcnfcaalw3f4npgkwzh4okrcpxa2ukn7ne"
    );
    let teal = Filters { wanted_collections: vec!["fm.teal.*".into()], wanted_dids: Vec::new() };
    let nothing = FirehoseContext { filters: teal, ..ctx() };
    assert_eq!(events(&bytes, &nothing), (3, Vec::new()), "nothing wanted: the seq alone");
    let someone_else = Filters { wanted_dids: vec!["did:plc:someoneelse".into()], ..ctx().filters };
    let other_did = FirehoseContext { filters: someone_else, ..ctx() };
    assert_eq!(events(&bytes, &other_did), (3, Vec::new()));
}

#[test]
fn blobs_and_bytes_come_through_in_the_atproto_json_form() {
    let mut repo = LiveRepo::new(3);
    let blob = json!({"$type": "blob", "ref": {"$link": "bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy"},
                      "mimeType": "audio/mpeg", "size": 1000});
    let mut record = track("With audio");
    record["audioBlob"] = blob.clone();
    record["waveform"] = json!({"$bytes": "AAEC"});
    let (_, got) = events(&repo.create("fm.plyr.track", "3kaaaaaaaaaa2", &record).commit_frame(1), &ctx());
    let f = frame_json(&got[0]);
    assert_eq!(f["commit"]["record"]["audioBlob"], blob);
    assert_eq!(f["commit"]["record"]["waveform"], json!({"$bytes": "AAEC"}));
}

#[test]
fn identity_and_account_frames_read_like_the_v1_ones() {
    let did = reprise_testkit::did(4);
    let (seq, got) = events(&identity_frame(5, &did, Some("artist.test")), &ctx());
    assert_eq!(seq, 5);
    let e = &got[0];
    assert_eq!((e.envelope.kind(), e.envelope.upstream_seq), (EventKind::Identity, Some(5)));
    assert_eq!(crate::identity_body(&e.frame).unwrap().handle.as_deref(), Some("artist.test"));
    let (_, got) = events(&account_frame(6, &did, false, Some("takendown")), &ctx());
    let e = &got[0];
    assert_eq!((e.envelope.kind(), e.envelope.did.as_deref()), (EventKind::Account, Some(did.as_str())));
    let body = crate::account_body(&e.frame).unwrap();
    assert_eq!((body.active, body.status.as_deref()), (false, Some("takendown")));
    let (_, got) = events(&account_frame(7, &did, true, None), &ctx());
    assert_eq!(crate::account_body(&got[0].frame).unwrap().status, None);
}

#[test]
fn too_big_commits_and_syncs_are_gaps_for_the_repo() {
    let mut repo = LiveRepo::new(5);
    repo.create("fm.plyr.track", "3kaaaaaaaaaa2", &track("A")).commit();
    repo.create("fm.plyr.track", "3kaaaaaaaaab2", &track("B")).delete("fm.plyr.track", "3kaaaaaaaaaa2");
    let c = repo.commit();
    let (_, got) = events(&commit_frame(9, &c, &[], true), &ctx());
    let kinds: Vec<_> = got.iter().map(|e| (e.envelope.kind(), e.envelope.operation)).collect();
    assert_eq!(kinds, [(EventKind::Gap, None), (EventKind::Commit, Some(Operation::Delete))]);
    assert_eq!(got[0].envelope.gap, Some(GapRange { from: 9, to: 10 }));
    assert_eq!(got[0].envelope.did.as_deref(), Some(repo.did()));
    assert_eq!(frame_json(&got[0])["gap"]["reason"], "tooBig commit: its records are not in the frame");

    let time = reprise_testkit::firehose_frames::firehose_time(11);
    let sync = frame(
        1,
        Some("#sync"),
        &Cbor::Map(vec![
            ("did", Cbor::Text(repo.did())),
            ("seq", Cbor::Signed(11)),
            ("rev", Cbor::Text("3kaaaaaaaaaa2")),
            ("time", Cbor::Text(&time)),
            ("blocks", Cbor::Bytes(b"")),
        ]),
    );
    let (_, got) = events(&sync, &ctx());
    assert_eq!(
        (got[0].envelope.kind(), got[0].envelope.gap),
        (EventKind::Gap, Some(GapRange { from: 11, to: 12 }))
    );
}

#[test]
fn info_and_error_frames() {
    assert_eq!(
        decode_firehose(&info_frame("OutdatedCursor", "old"), &ctx()),
        FirehoseFrame::Info { name: "OutdatedCursor".into(), message: Some("old".into()) }
    );
    let bytes = error_frame("FutureCursor", "cursor in the future");
    let FirehoseFrame::Error { error, event, .. } = decode_firehose(&bytes, &ctx()) else { panic!() };
    assert_eq!(error, "FutureCursor");
    assert_eq!(
        event.envelope.reject_reason.as_deref(),
        Some("error frame FutureCursor: cursor in the future")
    );
    assert_eq!(event.frame, bytes);
}

#[test]
fn what_cannot_be_trusted_is_rejected_with_its_reason() {
    let mut repo = LiveRepo::new(6);
    let c = repo.create("fm.plyr.track", "3kaaaaaaaaaa2", &track("A")).commit();
    let car = c.relevant_car().unwrap();
    let record_cid = c.ops[0].cid.unwrap();
    let good = commit_frame(4, &c, &car, false);
    let corrupted = spoil_blocks(&car, |cid, data| {
        if *cid == record_cid {
            *data.last_mut().unwrap() ^= 1;
        }
        true
    });
    check_rejected(&commit_frame(4, &c, &corrupted, false), "does not match its CID", Some(4));
    let missing = spoil_blocks(&car, |cid, _| *cid != record_cid);
    check_rejected(&commit_frame(4, &c, &missing, false), "is not in the commit's blocks", Some(4));
    // The op names another CID than its record's: the record it names is not there.
    let mut wrong = repo.create("fm.plyr.track", "3kaaaaaaaaab2", &track("B")).commit();
    wrong.ops[0].cid = Some(record_cid);
    let wrong_car = wrong.relevant_car().unwrap();
    check_rejected(&commit_frame(5, &wrong, &wrong_car, false), "is not in the commit's blocks", Some(5));
    check_rejected(&commit_frame(4, &c, b"not a car", false), "commit blocks are not a CAR", Some(4));
    check_rejected(&good[..good.len() - 7], "unreadable frame body", None);
    check_rejected(&good[..3], "not a firehose frame", None);
    check_rejected(b"\xff\xfe garbage", "not a firehose frame", None);
    check_rejected(&[good.clone(), vec![0]].concat(), "trailing bytes", None);
    let unknown = frame(1, Some("#labels"), &Cbor::Map(vec![("seq", Cbor::Signed(8))]));
    check_rejected(&unknown, "missing body field `did`", Some(8));
    let time = reprise_testkit::firehose_frames::firehose_time(8);
    let unknown = frame(
        1,
        Some("#labels"),
        &Cbor::Map(vec![
            ("seq", Cbor::Signed(8)),
            ("did", Cbor::Text(repo.did())),
            ("time", Cbor::Text(&time)),
        ]),
    );
    check_rejected(&unknown, "unknown message type \"#labels\"", Some(8));
    check_rejected(&frame(2, Some("#commit"), &Cbor::Map(vec![])), "unknown frame op 2", None);
    let bad_did = identity_frame(3, "not-a-did", None);
    check_rejected(&bad_did, "invalid `did`", Some(3));

    let small = FirehoseContext { max_frame_bytes: 100, ..ctx() };
    let FirehoseFrame::Rejected { event, .. } = decode_firehose(&good, &small) else { panic!() };
    assert_eq!(event.frame, good[..100]);
    assert!(event.envelope.reject_reason.unwrap().contains("exceeds the 100-byte limit"));
}

#[test]
fn a_rejected_commit_names_its_repo() {
    let mut repo = LiveRepo::new(7);
    let c = repo.create("fm.plyr.track", "3kaaaaaaaaaa2", &track("A")).commit();
    let FirehoseFrame::Rejected { event, .. } = decode_firehose(&commit_frame(4, &c, b"x", false), &ctx())
    else {
        panic!()
    };
    assert_eq!(event.envelope.did.as_deref(), Some(repo.did()));
}

#[test]
fn firehose_urls() {
    assert_eq!(check_firehose_url("ws://127.0.0.1:2583/xrpc/com.atproto.sync.subscribeRepos"), Ok(()));
    assert_eq!(check_firehose_url("wss://bsky.network/xrpc/com.atproto.sync.subscribeRepos"), Ok(()));
    for bad in [
        "http://h/xrpc/com.atproto.sync.subscribeRepos",
        "ws://h/subscribe",
        "ws://h/xrpc/com.atproto.sync.subscribeRepos?cursor=5",
        "ws:///xrpc/com.atproto.sync.subscribeRepos",
        "ws://h",
    ] {
        assert!(check_firehose_url(bad).is_err(), "{bad}");
    }
}
