//! A `#commit` message -> one commit event per op in a wanted collection.
//!
//! The commit's `blocks` is a CAR holding the commit block and the new or changed records and MST nodes.
//! Every block's bytes are checked against its CID, and each create or update takes its record from the
//! block the op's `cid` names, converted to the atproto JSON form (`$link`, `$bytes`, blob refs). Each
//! kept op's event has the envelope the Jetstream path gives for the same change and a frame shaped like
//! a Jetstream v1 commit (so `commit_record` and every later stage read it unchanged) with a `firehose`
//! note: host, seq, commit, since, time and the op's previous CID. A commit is taken whole or not at all:
//! a bad block, a missing record or a malformed op refuses the frame. A `tooBig` commit's records are not
//! in the frame: it becomes a gap for the repo (the gap repair backfills it), plus its deletes, which
//! need no record.

use std::collections::HashMap;

use reprise_events::{CidCheck, EventKind, Operation};
use serde::Serialize;
use serde_json::value::RawValue;
use shrike::car::SliceReader;
use shrike::cbor::{Cid, Value};
use shrike::syntax::{Nsid, RecordKey, Tid};

use super::decode::{Body, FirehoseContext, FirehoseEvent, Meta, Refused, gap};

/// One op of the commit, checked.
struct Op<'a> {
    operation: Operation,
    collection: &'a str,
    rkey: &'a str,
    cid: Option<Cid>,
    prev: Option<Cid>,
}

pub(crate) fn commit_events(
    body: &Body<'_, '_>,
    m: &Meta<'_>,
    ctx: &FirehoseContext,
) -> Result<Vec<FirehoseEvent>, Refused> {
    let rev = body.text("rev")?;
    Tid::try_from(rev).map_err(|e| Refused::new(format!("invalid `rev` {rev:?}: {e}")))?;
    let commit = body.opt_cid("commit")?.ok_or_else(|| Refused::new("missing body field `commit`"))?;
    let since = body.opt_text("since")?;
    let too_big = body.opt_bool("tooBig")?.unwrap_or(false);
    let ops = body
        .array("ops")?
        .iter()
        .map(|v| op(v, ctx))
        .filter_map(Result::transpose)
        .collect::<Result<Vec<_>, _>>()?;
    let mut events = Vec::with_capacity(ops.len() + usize::from(too_big));
    if too_big {
        events.push(gap(m, "tooBig commit: its records are not in the frame", Some(rev)));
    }
    let wanted_records = ops.iter().any(|o| o.operation != Operation::Delete);
    let blocks = match (too_big, wanted_records) {
        (false, true) => verified_blocks(body.bytes("blocks")?)?,
        _ => HashMap::new(),
    };
    let commit_text = commit.to_string();
    for op in ops {
        if too_big && op.operation != Operation::Delete {
            continue;
        }
        let record = match op.cid {
            None => None,
            Some(cid) => {
                let block = blocks.get(&cid).ok_or_else(|| {
                    Refused::new(format!(
                        "record block {cid} of {}/{} is not in the commit's blocks",
                        op.collection, op.rkey
                    ))
                })?;
                let mut json = Vec::with_capacity(block.len() * 2);
                shrike::cbor::json::drisl_to_json_into(block, &mut json).map_err(|e| {
                    Refused::new(format!(
                        "record {cid} of {}/{} is not atproto data: {e}",
                        op.collection, op.rkey
                    ))
                })?;
                Some(
                    RawValue::from_string(String::from_utf8(json).map_err(|e| Refused::new(e.to_string()))?)
                        .map_err(|e| Refused::new(format!("record {cid} as JSON: {e}")))?,
                )
            }
        };
        events.push(op_event(&op, record, rev, &commit_text, since, m));
    }
    Ok(events)
}

/// The stored frame of one op: a Jetstream v1 commit plus the `firehose` note.
#[derive(Serialize)]
struct CommitFrame<'a> {
    did: &'a str,
    time_us: i64,
    kind: &'static str,
    commit: CommitBody<'a>,
    firehose: Note<'a>,
}

#[derive(Serialize)]
struct CommitBody<'a> {
    rev: &'a str,
    operation: &'static str,
    collection: &'a str,
    rkey: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    record: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cid: Option<&'a str>,
}

#[derive(Serialize)]
struct Note<'a> {
    host: &'a str,
    seq: i64,
    commit: &'a str,
    since: Option<&'a str>,
    time: &'a str,
    prev: Option<String>,
}

fn op_event(
    op: &Op<'_>,
    record: Option<Box<RawValue>>,
    rev: &str,
    commit: &str,
    since: Option<&str>,
    m: &Meta<'_>,
) -> FirehoseEvent {
    let cid = op.cid.map(|c| c.to_string());
    let frame = CommitFrame {
        did: m.did,
        time_us: m.time_us,
        kind: "commit",
        commit: CommitBody {
            rev,
            operation: op.operation.as_str(),
            collection: op.collection,
            rkey: op.rkey,
            record: record.as_deref(),
            cid: cid.as_deref(),
        },
        firehose: Note {
            host: m.host,
            seq: m.seq,
            commit,
            since,
            time: m.time,
            prev: op.prev.map(|c| c.to_string()),
        },
    };
    // Serializing borrowed strings and a raw JSON value cannot fail.
    let frame = serde_json::to_vec(&frame).unwrap_or_default();
    let envelope = reprise_events::Envelope {
        collection: Some(op.collection.to_owned()),
        rkey: Some(op.rkey.to_owned()),
        operation: Some(op.operation),
        rev: Some(rev.to_owned()),
        // The record's bytes were checked against this CID when its block was.
        cid_check: cid.as_ref().map(|_| CidCheck::Match),
        cid,
        ..m.envelope(EventKind::Commit)
    };
    FirehoseEvent { envelope, frame }
}

/// Reads one op; `None` when its collection is not wanted (it is still checked enough to be skipped).
fn op<'a>(value: &Value<'a>, ctx: &FirehoseContext) -> Result<Option<Op<'a>>, Refused> {
    let o = Body::of(value, "op")?;
    let action = o.text("action")?;
    let operation =
        Operation::parse(action).ok_or_else(|| Refused::new(format!("unknown op action {action:?}")))?;
    let path = o.text("path")?;
    let (collection, rkey) = path
        .split_once('/')
        .ok_or_else(|| Refused::new(format!("op path {path:?} is not collection/rkey")))?;
    Nsid::try_from(collection)
        .map_err(|e| Refused::new(format!("op path {path:?}: invalid collection: {e}")))?;
    if !ctx.filters.wants_collection(collection) {
        return Ok(None);
    }
    RecordKey::try_from(rkey).map_err(|e| Refused::new(format!("op path {path:?}: invalid rkey: {e}")))?;
    let cid = o.opt_cid("cid")?;
    match (operation, cid) {
        (Operation::Delete, Some(_)) => return Err(Refused::new(format!("delete of {path} carries a cid"))),
        (Operation::Create | Operation::Update, None) => {
            return Err(Refused::new(format!("{action} of {path} without a cid")));
        }
        _ => {}
    }
    Ok(Some(Op { operation, collection, rkey, cid, prev: o.opt_cid("prev")? }))
}

/// The commit's blocks by CID, each checked against its CID.
fn verified_blocks(car: &[u8]) -> Result<HashMap<Cid, &[u8]>, Refused> {
    let reader =
        SliceReader::new(car).map_err(|e| Refused::new(format!("commit blocks are not a CAR: {e}")))?;
    let mut blocks = HashMap::new();
    for block in reader {
        let block = block.map_err(|e| Refused::new(format!("commit blocks are not a CAR: {e}")))?;
        let computed = Cid::compute(block.cid.codec(), block.data);
        if computed != block.cid {
            return Err(Refused::new(format!(
                "block {} does not match its CID (its bytes hash to {computed})",
                block.cid
            )));
        }
        blocks.insert(block.cid, block.data);
    }
    Ok(blocks)
}
