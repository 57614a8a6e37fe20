//! What a backfilled repo becomes in the log: one commit event per record, carrying the repo's rev, in a
//! frame shaped like a Jetstream v1 commit (so `commit_record` and every later stage read it unchanged)
//! with a `backfill` note naming the PDS and the commit; or one rejected event naming why the repo was
//! refused.

use reprise_events::{Envelope, EventKind, NewEvent, Operation};
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
