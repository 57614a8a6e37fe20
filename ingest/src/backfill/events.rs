//! What a backfilled repo becomes in the log: one commit event per record, carrying the repo's rev, in a
//! frame shaped like a Jetstream v1 commit (so `commit_record` and every later stage read it unchanged)
//! with a `backfill` note naming the PDS and the commit; or one rejected event naming why the repo was
//! refused.

use std::collections::HashSet;

use reprise_events::{Envelope, EventKind, NewEvent, Operation, RecordRev};
use serde_json::json;
use serde_json::value::RawValue;

use super::verify::VerifiedRepo;

/// The log source of events backfilled from `pds` (its base URL).
pub fn backfill_source(pds: &str) -> String {
    format!("backfill:{}", pds.trim_end_matches('/'))
}

/// One create event per record. The rev is the repo's: the version is current as of that commit, so it
/// orders correctly against live events (an older live rev loses to it, a newer one wins).
pub fn record_events(repo: &VerifiedRepo, pds: &str, received_at_us: i64) -> Vec<NewEvent> {
    repo.records
        .iter()
        .map(|r| {
            let cid_check = crate::check_record_cid(r.json.as_bytes(), &r.cid);
            let record = RawValue::from_string(r.json.clone()).ok();
            let frame = json!({
                "did": repo.did, "kind": "commit",
                "commit": {"rev": repo.rev, "operation": "create", "collection": r.collection,
                           "rkey": r.rkey, "record": record, "cid": r.cid},
                "backfill": {"pds": pds, "commit": repo.commit_cid},
            });
            NewEvent {
                envelope: Envelope {
                    kind: Some(EventKind::Commit),
                    did: Some(repo.did.clone()),
                    collection: Some(r.collection.clone()),
                    rkey: Some(r.rkey.clone()),
                    operation: Some(Operation::Create),
                    rev: Some(repo.rev.clone()),
                    cid: Some(r.cid.clone()),
                    cid_check: Some(cid_check),
                    ..Default::default()
                },
                frame: frame.to_string().into_bytes(),
                source_cursor: None,
                received_at_us,
            }
        })
        .collect()
}

/// Deletes, at the repo's rev, of the records the log holds as current (older than that rev, not deleted)
/// that the repo no longer has: deleted while nobody was listening (a gap). A version newer than the
/// repo's snapshot is left alone, and so is a record already deleted.
pub fn absent_events(
    repo: &VerifiedRepo,
    known: &[RecordRev],
    pds: &str,
    received_at_us: i64,
) -> Vec<NewEvent> {
    let present: HashSet<(&str, &str)> =
        repo.records.iter().map(|r| (r.collection.as_str(), r.rkey.as_str())).collect();
    let mut absent: Vec<&RecordRev> = known
        .iter()
        .filter(|k| {
            !k.deleted && k.rev < repo.rev && !present.contains(&(k.collection.as_str(), k.rkey.as_str()))
        })
        .collect();
    absent.sort_by(|a, b| (&a.collection, &a.rkey).cmp(&(&b.collection, &b.rkey)));
    absent
        .into_iter()
        .map(|k| {
            let frame = json!({
                "did": repo.did, "kind": "commit",
                "commit": {"rev": repo.rev, "operation": "delete", "collection": k.collection, "rkey": k.rkey},
                "backfill": {"pds": pds, "commit": repo.commit_cid, "absent": true},
            });
            NewEvent {
                envelope: Envelope {
                    kind: Some(EventKind::Commit),
                    did: Some(repo.did.clone()),
                    collection: Some(k.collection.clone()),
                    rkey: Some(k.rkey.clone()),
                    operation: Some(Operation::Delete),
                    rev: Some(repo.rev.clone()),
                    ..Default::default()
                },
                frame: frame.to_string().into_bytes(),
                source_cursor: None,
                received_at_us,
            }
        })
        .collect()
}

/// The handle the repo's DID document claims, as an identity event without an upstream seq: a live
/// identity event (which has one) always outranks it, and it fills in the handle of an account the
/// index only knows from backfill. Filed under the repo's rev, so backfilling the same rev again appends
/// nothing and a later rev records the document as it is then.
pub fn identity_event(did: &str, rev: &str, handle: &str, pds: &str, received_at_us: i64) -> NewEvent {
    let frame = json!({
        "did": did, "kind": "identity", "identity": {"did": did, "handle": handle},
        "backfill": {"pds": pds, "rev": rev, "from": "did document"},
    });
    NewEvent {
        envelope: Envelope {
            kind: Some(EventKind::Identity),
            did: Some(did.to_owned()),
            rev: Some(rev.to_owned()),
            ..Default::default()
        },
        frame: frame.to_string().into_bytes(),
        source_cursor: None,
        received_at_us,
    }
}

/// The rejected event for a repo refused as a whole. The frame is a note, not the CAR, and holds nothing
/// that changes between runs, so refusing the same repo again appends nothing.
pub fn rejected_event(did: &str, pds: &str, reason: &str, received_at_us: i64) -> NewEvent {
    let frame = json!({"backfill": {"did": did, "pds": pds, "rejected": reason}});
    NewEvent {
        envelope: Envelope { did: Some(did.to_owned()), ..Envelope::rejected(format!("backfill: {reason}")) },
        frame: frame.to_string().into_bytes(),
        source_cursor: None,
        received_at_us,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backfill::VerifiedRecord;

    fn known(rkey: &str, rev: &str, deleted: bool) -> RecordRev {
        RecordRev { collection: "fm.plyr.track".into(), rkey: rkey.into(), rev: rev.into(), deleted }
    }

    #[test]
    fn only_current_records_older_than_the_repo_and_missing_from_it_are_deleted() {
        let present = VerifiedRecord {
            collection: "fm.plyr.track".into(),
            rkey: "3kkept".into(),
            cid: "bafy".into(),
            json: "{}".into(),
        };
        let repo = VerifiedRepo {
            did: "did:plc:a".into(),
            rev: "3kmmmmmmmmmm2".into(),
            commit_cid: "bafycommit".into(),
            records: vec![present],
            total_records: 1,
        };
        let known = [
            known("3kkept", "3kaaaaaaaaaa2", false),   // still in the repo
            known("3kgone", "3kaaaaaaaaaa2", false),   // deleted while nobody listened
            known("3kdeleted", "3kaaaaaaaaaa2", true), // already a tombstone
            known("3knewer", "3kzzzzzzzzzz2", false),  // written after the snapshot
            known("3ksame", "3kmmmmmmmmmm2", false),   // at the snapshot's own rev: it would be in it
        ];
        let events = absent_events(&repo, &known, "https://pds.example", 7);
        let deleted: Vec<_> = events
            .iter()
            .map(|e| (e.envelope.rkey.as_deref().unwrap(), e.envelope.operation, e.envelope.rev.as_deref()))
            .collect();
        assert_eq!(deleted, [("3kgone", Some(Operation::Delete), Some("3kmmmmmmmmmm2"))]);
        let frame: serde_json::Value = serde_json::from_slice(&events[0].frame).unwrap();
        assert_eq!(frame["backfill"]["absent"], true);
    }
}
