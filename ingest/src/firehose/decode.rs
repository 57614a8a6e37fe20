//! One `com.atproto.sync.subscribeRepos` frame -> the log events it becomes: a pure function.
//!
//! A binary WebSocket frame is two DAG-CBOR values back to back: a header `{op, t}` and a body. `op: 1`
//! is a message whose type `t` names the body (`#commit`, `#identity`, `#account`, `#sync`, `#info`);
//! `op: -1` is an error frame `{error, message}` after which the server closes. Commits are taken apart
//! in `commit.rs`; identity and account bodies become events shaped like the Jetstream v1 ones, so the
//! projector reads them with `account_body` / `identity_body`. What cannot be understood becomes a
//! rejected event carrying the frame's bytes (at most `max_frame_bytes` of them) and the reason.

use reprise_events::{Envelope, EventKind, GapRange};
use serde_json::json;
use shrike::cbor::{Decoder, Value};
use shrike::syntax::Did;

use super::commit::commit_events;
use crate::stream::Filters;

/// What the decoder needs besides the bytes.
#[derive(Debug, Clone)]
pub struct FirehoseContext {
    /// The subscription URL, named in each event's `firehose` note.
    pub host: String,
    /// Commits to other collections or from other repos are dropped.
    pub filters: Filters,
    /// A longer frame is rejected, keeping only this many of its bytes.
    pub max_frame_bytes: usize,
}

/// One event to append: its envelope and the frame stored with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirehoseEvent {
    pub envelope: Envelope,
    pub frame: Vec<u8>,
}

/// One frame, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirehoseFrame {
    /// A sequenced message and the events it becomes (none when nothing in it is wanted): the stream
    /// has been read up to `seq` once they are stored.
    Message { seq: i64, events: Vec<FirehoseEvent> },
    /// An advisory `#info` frame, e.g. `OutdatedCursor` (the cursor was older than the host keeps).
    Info { name: String, message: Option<String> },
    /// An error frame (`op: -1`, e.g. `FutureCursor`, `ConsumerTooSlow`); the server closes after it.
    /// It is kept in the log as `event`, a rejected event naming the error.
    Error { error: String, message: Option<String>, event: FirehoseEvent },
    /// A frame that could not be understood, kept as a rejected event (`seq` when it could be read).
    Rejected { seq: Option<i64>, event: FirehoseEvent },
}

/// Decodes one binary frame. Never fails: what cannot be understood is a rejected event.
pub fn decode_firehose(bytes: &[u8], ctx: &FirehoseContext) -> FirehoseFrame {
    let max = ctx.max_frame_bytes;
    if bytes.len() > max {
        let reason = crate::stream::oversized(bytes.len(), max);
        return FirehoseFrame::Rejected { seq: None, event: rejected(&bytes[..max], None, reason) };
    }
    match decode_message(bytes, ctx) {
        Ok(frame) => frame,
        Err(Refused { seq, did, reason }) => {
            FirehoseFrame::Rejected { seq, event: rejected(bytes, did.as_deref(), reason) }
        }
    }
}

/// Why a frame is refused, with what could be read of it.
#[derive(Debug)]
pub(crate) struct Refused {
    pub seq: Option<i64>,
    pub did: Option<String>,
    pub reason: String,
}

impl Refused {
    pub(crate) fn new(reason: impl Into<String>) -> Self {
        Refused { seq: None, did: None, reason: reason.into() }
    }
}

/// A rejected event keeping `bytes` and naming `did` when the frame said whose it was.
pub(crate) fn rejected(bytes: &[u8], did: Option<&str>, reason: String) -> FirehoseEvent {
    let envelope = Envelope { did: did.map(str::to_owned), ..Envelope::rejected(reason) };
    FirehoseEvent { envelope, frame: bytes.to_vec() }
}

fn decode_message(bytes: &[u8], ctx: &FirehoseContext) -> Result<FirehoseFrame, Refused> {
    let mut dec = Decoder::new(bytes);
    let header = dec.decode().map_err(|e| Refused::new(format!("not a firehose frame: header: {e}")))?;
    let header = Body::of(&header, "header")?;
    let op = header.int("op")?;
    let body = dec.decode().map_err(|e| Refused::new(format!("unreadable frame body: {e}")))?;
    if !dec.is_empty() {
        return Err(Refused::new("trailing bytes after the frame body"));
    }
    let body = Body::of(&body, "body")?;
    if op == -1 {
        let error = body.opt_text("error")?.unwrap_or("(none)").to_owned();
        let message = body.opt_text("message")?.map(str::to_owned);
        let reason = format!("error frame {error}: {}", message.as_deref().unwrap_or(""));
        return Ok(FirehoseFrame::Error { error, message, event: rejected(bytes, None, reason) });
    }
    if op != 1 {
        return Err(Refused::new(format!("unknown frame op {op}")));
    }
    let t = header.text("t")?;
    if t == "#info" {
        let name = body.text("name")?.to_owned();
        return Ok(FirehoseFrame::Info { name, message: body.opt_text("message")?.map(str::to_owned) });
    }
    let seq = body.int("seq")?;
    if seq <= 0 {
        return Err(Refused::new(format!("invalid `seq` {seq}: must be positive")));
    }
    let did_key = if t == "#commit" { "repo" } else { "did" };
    let did = body.text(did_key).map_err(|r| Refused { seq: Some(seq), ..r })?;
    let with_context = |r: Refused| Refused { seq: Some(seq), did: Some(did.to_owned()), ..r };
    Did::try_from(did)
        .map_err(|e| with_context(Refused::new(format!("invalid `{did_key}` {did:?}: {e}"))))?;
    if !ctx.filters.wants_did(did) {
        return Ok(FirehoseFrame::Message { seq, events: Vec::new() });
    }
    let time = body.text("time").map_err(with_context)?;
    let time_us = time
        .parse::<jiff::Timestamp>()
        .map_err(|e| with_context(Refused::new(format!("invalid `time` {time:?}: {e}"))))?
        .as_microsecond();
    let meta = Meta { did, seq, time, time_us, host: &ctx.host };
    let events = match t {
        "#commit" => commit_events(&body, &meta, ctx),
        "#identity" => identity(&body, &meta).map(|e| vec![e]),
        "#account" => account(&body, &meta).map(|e| vec![e]),
        "#sync" => sync(&body, &meta).map(|e| vec![e]),
        other => Err(Refused::new(format!("unknown message type {other:?}"))),
    }
    .map_err(with_context)?;
    Ok(FirehoseFrame::Message { seq, events })
}

/// The fields every sequenced message has.
pub(crate) struct Meta<'a> {
    pub did: &'a str,
    pub seq: i64,
    pub time: &'a str,
    pub time_us: i64,
    pub host: &'a str,
}

impl Meta<'_> {
    /// The envelope fields every event of this message shares.
    pub(crate) fn envelope(&self, kind: EventKind) -> Envelope {
        Envelope {
            kind: Some(kind),
            did: Some(self.did.to_owned()),
            event_time_us: Some(self.time_us),
            ..Default::default()
        }
    }
}

fn identity(body: &Body<'_, '_>, m: &Meta<'_>) -> Result<FirehoseEvent, Refused> {
    let handle = body.opt_text("handle")?;
    let frame = json!({
        "did": m.did, "time_us": m.time_us, "kind": "identity",
        "identity": {"did": m.did, "handle": handle, "seq": m.seq, "time": m.time},
        "firehose": {"host": m.host, "seq": m.seq},
    });
    let envelope = Envelope { upstream_seq: Some(m.seq), ..m.envelope(EventKind::Identity) };
    Ok(FirehoseEvent { envelope, frame: frame.to_string().into_bytes() })
}

fn account(body: &Body<'_, '_>, m: &Meta<'_>) -> Result<FirehoseEvent, Refused> {
    let active = body.bool("active")?;
    let status = body.opt_text("status")?;
    let frame = json!({
        "did": m.did, "time_us": m.time_us, "kind": "account",
        "account": {"did": m.did, "active": active, "status": status, "seq": m.seq, "time": m.time},
        "firehose": {"host": m.host, "seq": m.seq},
    });
    let envelope = Envelope { upstream_seq: Some(m.seq), ..m.envelope(EventKind::Account) };
    Ok(FirehoseEvent { envelope, frame: frame.to_string().into_bytes() })
}

/// `#sync`: the repo's state was reset to a new commit without the ops that led there. Only a backfill
/// can tell what changed, so it is a gap naming the repo.
fn sync(body: &Body<'_, '_>, m: &Meta<'_>) -> Result<FirehoseEvent, Refused> {
    let rev = body.text("rev")?;
    Ok(gap(m, "#sync: the repo's state was reset without its ops", Some(rev)))
}

/// A gap of one message (`seq` itself) for the message's repo: the gap repair backfills it.
pub(crate) fn gap(m: &Meta<'_>, reason: &str, rev: Option<&str>) -> FirehoseEvent {
    let range = GapRange { from: m.seq, to: m.seq + 1 };
    let frame = json!({"gap": {"from": range.from, "to": range.to, "reason": reason, "host": m.host,
                               "did": m.did, "rev": rev}});
    let envelope =
        Envelope { did: Some(m.did.to_owned()), event_time_us: Some(m.time_us), ..Envelope::gap(range) };
    FirehoseEvent { envelope, frame: frame.to_string().into_bytes() }
}

/// A decoded CBOR map, read field by field with errors naming the field.
pub(crate) struct Body<'v, 'a> {
    name: &'static str,
    fields: &'v [(&'a str, Value<'a>)],
}

impl<'v, 'a> Body<'v, 'a> {
    pub(crate) fn of(value: &'v Value<'a>, name: &'static str) -> Result<Self, Refused> {
        match value {
            Value::Map(fields) => Ok(Body { name, fields }),
            _ => Err(Refused::new(format!("frame {name} is not a map"))),
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&'v Value<'a>> {
        self.fields.iter().find(|(k, _)| *k == key).map(|(_, v)| v).filter(|v| **v != Value::Null)
    }

    fn wrong(&self, key: &str, what: &str) -> Refused {
        Refused::new(format!("{} field `{key}` is not {what}", self.name))
    }

    fn missing(&self, key: &str) -> Refused {
        Refused::new(format!("missing {} field `{key}`", self.name))
    }

    pub(crate) fn int(&self, key: &str) -> Result<i64, Refused> {
        match self.get(key) {
            Some(Value::Unsigned(n)) => i64::try_from(*n).map_err(|_| self.wrong(key, "an i64")),
            Some(Value::Signed(n)) => Ok(*n),
            Some(_) => Err(self.wrong(key, "an integer")),
            None => Err(self.missing(key)),
        }
    }

    pub(crate) fn text(&self, key: &str) -> Result<&'a str, Refused> {
        self.opt_text(key)?.ok_or_else(|| self.missing(key))
    }

    pub(crate) fn opt_text(&self, key: &str) -> Result<Option<&'a str>, Refused> {
        match self.get(key) {
            Some(Value::Text(s)) => Ok(Some(s)),
            Some(_) => Err(self.wrong(key, "text")),
            None => Ok(None),
        }
    }

    pub(crate) fn bool(&self, key: &str) -> Result<bool, Refused> {
        self.opt_bool(key)?.ok_or_else(|| self.missing(key))
    }

    pub(crate) fn opt_bool(&self, key: &str) -> Result<Option<bool>, Refused> {
        match self.get(key) {
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.wrong(key, "a boolean")),
            None => Ok(None),
        }
    }

    pub(crate) fn opt_cid(&self, key: &str) -> Result<Option<shrike::cbor::Cid>, Refused> {
        match self.get(key) {
            Some(Value::Cid(c)) => Ok(Some(*c)),
            Some(_) => Err(self.wrong(key, "a CID link")),
            None => Ok(None),
        }
    }

    pub(crate) fn bytes(&self, key: &str) -> Result<&'a [u8], Refused> {
        match self.get(key) {
            Some(Value::Bytes(b)) => Ok(b),
            Some(_) => Err(self.wrong(key, "bytes")),
            None => Err(self.missing(key)),
        }
    }

    pub(crate) fn array(&self, key: &str) -> Result<&'v [Value<'a>], Refused> {
        match self.get(key) {
            Some(Value::Array(items)) => Ok(items),
            Some(_) => Err(self.wrong(key, "an array")),
            None => Err(self.missing(key)),
        }
    }
}
