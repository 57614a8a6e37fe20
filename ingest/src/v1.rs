//! The Jetstream v1 JSON wire: one frame -> one envelope, or a rejection with its reason.

use std::borrow::Cow;

use reprise_events::{Envelope, EventKind, Operation};
use serde::Deserialize;
use serde_json::value::RawValue;
use shrike::cbor::Cid;
use shrike::syntax::{Did, Nsid, RecordKey, Tid};

/// A frame's envelope and the source cursor it carries (`time_us`), if it could be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedFrame {
    pub envelope: Envelope,
    pub cursor: Option<i64>,
}

#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(borrow)]
    did: Option<Cow<'a, str>>,
    time_us: Option<i64>,
    #[serde(borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    commit: Option<CommitBody<'a>>,
    #[serde(borrow)]
    identity: Option<SeqBody<'a>>,
    #[serde(borrow)]
    account: Option<SeqBody<'a>>,
}

#[derive(Deserialize)]
pub(crate) struct CommitBody<'a> {
    #[serde(borrow)]
    pub(crate) rev: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) operation: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) collection: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) rkey: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) record: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(crate) cid: Option<Cow<'a, str>>,
}

/// The part of identity and account bodies the envelope needs; the rest stays in the frame.
#[derive(Deserialize)]
pub(crate) struct SeqBody<'a> {
    #[serde(borrow)]
    pub(crate) did: Option<Cow<'a, str>>,
    pub(crate) seq: Option<i64>,
}

/// Decodes one v1 frame. Never fails: what cannot be understood comes back as a rejected envelope.
pub fn decode_v1(bytes: &[u8]) -> DecodedFrame {
    match serde_json::from_slice::<Frame<'_>>(bytes) {
        Err(e) if e.is_syntax() || e.is_eof() => reject(None, format!("not JSON: {e}")),
        Err(e) => reject(None, format!("malformed frame: {e}")),
        Ok(frame) => {
            let cursor = frame.time_us;
            match envelope(frame) {
                Ok(envelope) => DecodedFrame { envelope, cursor },
                Err(reason) => reject(cursor, reason),
            }
        }
    }
}

fn reject(cursor: Option<i64>, reason: String) -> DecodedFrame {
    DecodedFrame { envelope: Envelope::rejected(reason), cursor }
}

fn envelope(frame: Frame<'_>) -> Result<Envelope, String> {
    let did = frame.did.ok_or("missing field `did`")?;
    Did::try_from(did.as_ref()).map_err(|e| format!("invalid `did` {did:?}: {e}"))?;
    let time_us = frame.time_us.ok_or("missing field `time_us`")?;
    if time_us <= 0 {
        return Err(format!("invalid `time_us` {time_us}: must be positive"));
    }
    let kind = frame.kind.ok_or("missing field `kind`")?;
    let mut env =
        Envelope { did: Some(did.into_owned()), event_time_us: Some(time_us), ..Default::default() };
    match kind.as_ref() {
        "commit" => commit(&mut env, frame.commit.ok_or("commit frame without `commit` body")?)?,
        "identity" => seq_body(&mut env, EventKind::Identity, frame.identity)?,
        "account" => seq_body(&mut env, EventKind::Account, frame.account)?,
        other => return Err(format!("unknown kind {other:?}")),
    }
    Ok(env)
}

/// Fills a commit envelope from its body (shared by both wires), checking the record's CID.
pub(crate) fn commit(env: &mut Envelope, body: CommitBody<'_>) -> Result<(), String> {
    let op = body.operation.ok_or("missing field `commit.operation`")?;
    let op = Operation::parse(&op).ok_or_else(|| format!("unknown `commit.operation` {op:?}"))?;
    let collection = body.collection.ok_or("missing field `commit.collection`")?;
    Nsid::try_from(collection.as_ref())
        .map_err(|e| format!("invalid `commit.collection` {collection:?}: {e}"))?;
    let rkey = body.rkey.ok_or("missing field `commit.rkey`")?;
    RecordKey::try_from(rkey.as_ref()).map_err(|e| format!("invalid `commit.rkey` {rkey:?}: {e}"))?;
    let rev = body.rev.ok_or("missing field `commit.rev`")?;
    Tid::try_from(rev.as_ref()).map_err(|e| format!("invalid `commit.rev` {rev:?}: {e}"))?;
    if op != Operation::Delete {
        let record = body.record.ok_or_else(|| format!("{} without `commit.record`", op.as_str()))?;
        if !record.get().starts_with('{') {
            return Err("`commit.record` is not a JSON object".into());
        }
        let cid = body.cid.ok_or_else(|| format!("{} without `commit.cid`", op.as_str()))?;
        cid.parse::<Cid>().map_err(|e| format!("invalid `commit.cid` {cid:?}: {e}"))?;
        env.cid_check = Some(crate::cid::check_record_cid(record.get().as_bytes(), &cid));
        env.cid = Some(cid.into_owned());
    }
    env.kind = Some(EventKind::Commit);
    env.operation = Some(op);
    env.collection = Some(collection.into_owned());
    env.rkey = Some(rkey.into_owned());
    env.rev = Some(rev.into_owned());
    Ok(())
}

pub(crate) fn seq_body(env: &mut Envelope, kind: EventKind, body: Option<SeqBody<'_>>) -> Result<(), String> {
    let name = kind.as_str();
    let body = body.ok_or_else(|| format!("{name} frame without `{name}` body"))?;
    if let Some(inner) = body.did
        && Some(inner.as_ref()) != env.did.as_deref()
    {
        return Err(format!("`{name}.did` {inner:?} differs from the frame's `did`"));
    }
    env.upstream_seq = Some(body.seq.ok_or_else(|| format!("missing field `{name}.seq`"))?);
    env.kind = Some(kind);
    Ok(())
}

#[derive(Deserialize)]
struct RecordOnly<'a> {
    #[serde(borrow)]
    commit: Option<RecordBody<'a>>,
    /// The v2 wire: `{"$type":"message","payload":{..., "record"}}`.
    #[serde(borrow)]
    payload: Option<RecordBody<'a>>,
}

#[derive(Deserialize)]
struct RecordBody<'a> {
    #[serde(borrow)]
    record: Option<&'a RawValue>,
}

/// The record JSON carried by a stored commit frame (either wire), for stages that must not know the wire.
pub fn commit_record(frame: &[u8]) -> Result<&RawValue, String> {
    let parsed: RecordOnly<'_> =
        serde_json::from_slice(frame).map_err(|e| format!("unreadable frame: {e}"))?;
    parsed
        .commit
        .or(parsed.payload)
        .and_then(|c| c.record)
        .ok_or_else(|| "commit frame without a record".to_owned())
}
