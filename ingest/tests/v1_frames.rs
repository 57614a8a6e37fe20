//! Every shape of v1 frame, good and hostile, and what its envelope says.

use reprise_events::{EventKind, Operation};
use reprise_ingest::decode_v1;

const DID: &str = "did:plc:mcc5yghbk7tixqryac2yxku7";
const CID: &str = "bafyreidqpc7si3dbimffi64lz3xsx2qt45ip7rpna2qpslcddp23itjjzm";

fn commit(op: &str, extra: &str) -> String {
    format!(
        r#"{{"did":"{DID}","time_us":1779719009132431,"kind":"commit","commit":{{"rev":"3mmoojp7vgo2g","operation":"{op}","collection":"fm.plyr.track","rkey":"3mmoojp7etg2g"{extra}}}}}"#
    )
}

/// Asserts that `frame` is rejected with a reason containing `reason`.
fn rejected(frame: &str, reason: &str) {
    let d = decode_v1(frame.as_bytes());
    assert_eq!(d.envelope.kind, Some(EventKind::Rejected), "{frame}");
    let got = d.envelope.reject_reason.unwrap_or_default();
    assert!(got.contains(reason), "{frame}\n  expected reason containing {reason:?}\n  got {got:?}");
}

#[test]
fn the_real_reference_frames_all_decode() {
    let text = include_str!("../../fixtures/jetstream-examples.jsonl");
    let kinds: Vec<_> = text.lines().map(|l| decode_v1(l.as_bytes()).envelope.kind()).collect();
    assert_eq!(kinds.len(), 10);
    assert!(!kinds.contains(&EventKind::Rejected), "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| **k == EventKind::Account).count(), 3);
}

#[test]
fn a_create_fills_the_whole_envelope() {
    let d = decode_v1(commit("create", &format!(r#","record":{{"title":"x"}},"cid":"{CID}""#)).as_bytes());
    let e = d.envelope;
    assert_eq!(d.cursor, Some(1779719009132431));
    assert_eq!(e.kind, Some(EventKind::Commit));
    assert_eq!(e.operation, Some(Operation::Create));
    assert_eq!(e.did.as_deref(), Some(DID));
    assert_eq!(e.collection.as_deref(), Some("fm.plyr.track"));
    assert_eq!(e.rkey.as_deref(), Some("3mmoojp7etg2g"));
    assert_eq!(e.rev.as_deref(), Some("3mmoojp7vgo2g"));
    assert_eq!(e.cid.as_deref(), Some(CID));
}

#[test]
fn a_delete_needs_no_record_or_cid() {
    let e = decode_v1(commit("delete", "").as_bytes()).envelope;
    assert_eq!((e.kind, e.operation, e.cid), (Some(EventKind::Commit), Some(Operation::Delete), None));
}

#[test]
fn identity_and_account_frames_carry_their_upstream_seq() {
    let e = decode_v1(format!(r#"{{"did":"{DID}","time_us":5,"kind":"account","account":{{"active":false,"did":"{DID}","seq":42,"status":"takendown","time":"2025-01-09T19:42:18.972Z"}}}}"#).as_bytes()).envelope;
    assert_eq!((e.kind, e.upstream_seq), (Some(EventKind::Account), Some(42)));
    let e = decode_v1(
        format!(r#"{{"did":"{DID}","time_us":5,"kind":"identity","identity":{{"did":"{DID}","seq":7}}}}"#)
            .as_bytes(),
    )
    .envelope;
    assert_eq!((e.kind, e.upstream_seq), (Some(EventKind::Identity), Some(7)));
}

#[test]
fn garbage_is_rejected_with_a_reason() {
    for (frame, reason) in [
        ("", "not JSON"),
        ("not json at all", "not JSON"),
        (r#"{"did":"#, "not JSON"),
        ("[1,2,3]", "malformed frame"),
        ("{}", "missing field `did`"),
        (r#"{"did":5}"#, "malformed frame"),
        (r#"{"did":"bob","time_us":1,"kind":"commit"}"#, "invalid `did`"),
        (&format!(r#"{{"did":"{DID}","kind":"commit"}}"#), "missing field `time_us`"),
        (&format!(r#"{{"did":"{DID}","time_us":-4,"kind":"commit"}}"#), "must be positive"),
        (&format!(r#"{{"did":"{DID}","time_us":1.5,"kind":"commit"}}"#), "malformed frame"),
        (&format!(r#"{{"did":"{DID}","time_us":1}}"#), "missing field `kind`"),
        (&format!(r#"{{"did":"{DID}","time_us":1,"kind":"mystery"}}"#), "unknown kind"),
        (&format!(r#"{{"did":"{DID}","time_us":1,"kind":"commit"}}"#), "without `commit` body"),
        (&format!(r#"{{"did":"{DID}","time_us":1,"kind":"account"}}"#), "without `account` body"),
        (
            &format!(
                r#"{{"did":"{DID}","time_us":1,"kind":"account","account":{{"did":"did:plc:other","seq":1}}}}"#
            ),
            "differs from the frame's `did`",
        ),
        (&format!(r#"{{"did":"{DID}","time_us":1,"kind":"identity","identity":{{}}}}"#), "`identity.seq`"),
        (&commit("upsert", ""), "unknown `commit.operation`"),
        (&commit("create", ""), "create without `commit.record`"),
        (&commit("update", r#","record":[1]"#), "not a JSON object"),
        (&commit("create", r#","record":{}"#), "create without `commit.cid`"),
        (&commit("create", r#","record":{},"cid":"nope""#), "invalid `commit.cid`"),
        (
            &commit("create", r#","record":{}"#).replace("fm.plyr.track", "not an nsid"),
            "invalid `commit.collection`",
        ),
        (&commit("delete", "").replace("3mmoojp7etg2g", "a/b"), "invalid `commit.rkey`"),
        (&commit("delete", "").replace("3mmoojp7vgo2g", "yesterday"), "invalid `commit.rev`"),
        (&commit("delete", "").replace(r#""rev":"3mmoojp7vgo2g","#, ""), "missing field `commit.rev`"),
    ] {
        rejected(frame, reason);
    }
}

#[test]
fn hostile_bytes_never_panic() {
    let mut frame =
        commit("create", &format!(r#","record":{{"t":"\u0000\ud800"}},"cid":"{CID}""#)).into_bytes();
    frame.extend_from_slice(b"\xff");
    // The record is opaque at this stage (the lexicon check judges it), so the envelope is fine...
    assert_eq!(decode_v1(&frame[..frame.len() - 1]).envelope.kind(), EventKind::Commit);
    // ...but bytes that are not UTF-8 make the frame itself unreadable.
    assert_eq!(decode_v1(&frame).envelope.kind(), EventKind::Rejected);
    let invalid_utf8 = decode_v1(b"{\"did\":\"\xff\"}").envelope;
    assert!(invalid_utf8.reject_reason.unwrap().contains("not JSON"));
    let deep = "[".repeat(100_000);
    assert_eq!(decode_v1(deep.as_bytes()).envelope.kind(), EventKind::Rejected);
}
