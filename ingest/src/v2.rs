//! The Jetstream v2 wire (`subscribeEvents`): message framing, error frames and `#info` frames.
//!
//! A message's payload carries the same commit fields as a v1 frame's `commit` body, flattened, plus the
//! instance's `seq` (the cursor) and `time` (RFC 3339). Identity and account payloads keep the upstream
//! body under `identity` / `account` as on v1, so the relay's seq identifies them on both wires.

use std::borrow::Cow;

use reprise_events::{Envelope, EventKind};
use serde::Deserialize;
use serde_json::value::RawValue;
use shrike::syntax::Did;

use crate::DecodedFrame;
use crate::v1::{CommitBody, SeqBody, commit, seq_body};

/// The path that selects the v2 wire.
pub const V2_PATH: &str = "/xrpc/network.bsky.jetstream.subscribeEvents";
const NS: &str = "network.bsky.jetstream.subscribeEvents#";

/// One v2 frame, classified. Events are nearly every frame, so they stay unboxed.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum V2Frame {
    /// An event (or a rejected one) with its `seq` as the cursor.
    Event(DecodedFrame),
    /// An advisory `#info` frame (e.g. `OutdatedCursor`): logged, not an event.
    Info { name: String, message: String },
    /// An error frame: the server ends the connection after it.
    Error { error: String, message: String },
}

#[derive(Deserialize)]
struct Outer<'a> {
    #[serde(rename = "$type", borrow)]
    ty: Option<Cow<'a, str>>,
    #[serde(borrow)]
    payload: Option<&'a RawValue>,
    #[serde(borrow)]
    error: Option<Cow<'a, str>>,
    #[serde(borrow)]
    message: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Payload<'a> {
    #[serde(rename = "$type", borrow)]
    ty: Option<Cow<'a, str>>,
    seq: Option<i64>,
    #[serde(borrow)]
    did: Option<Cow<'a, str>>,
    #[serde(borrow)]
    time: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    message: Option<Cow<'a, str>>,
    #[serde(borrow)]
    identity: Option<SeqBody<'a>>,
    #[serde(borrow)]
    account: Option<SeqBody<'a>>,
    // The commit fields, flat (serde's `flatten` cannot carry a borrowed `RawValue`).
    #[serde(borrow)]
    rev: Option<Cow<'a, str>>,
    #[serde(borrow)]
    operation: Option<Cow<'a, str>>,
    #[serde(borrow)]
    collection: Option<Cow<'a, str>>,
    #[serde(borrow)]
    rkey: Option<Cow<'a, str>>,
    #[serde(borrow)]
    record: Option<&'a RawValue>,
    #[serde(borrow)]
    cid: Option<Cow<'a, str>>,
}

/// Decodes one v2 frame. Never fails: what cannot be understood is a rejected event.
pub fn decode_v2(bytes: &[u8]) -> V2Frame {
    let reject = |cursor, reason: String| {
        V2Frame::Event(DecodedFrame { envelope: Envelope::rejected(reason), cursor })
    };
    let outer: Outer<'_> = match serde_json::from_slice(bytes) {
        Ok(o) => o,
        Err(e) => return reject(None, format!("not a v2 frame: {e}")),
    };
    match outer.ty.as_deref() {
        Some("error") => {
            return V2Frame::Error {
                error: outer.error.unwrap_or_default().into_owned(),
                message: outer.message.unwrap_or_default().into_owned(),
            };
        }
        Some("message") => {}
        other => return reject(None, format!("unknown v2 frame type {other:?}")),
    }
    let Some(raw) = outer.payload else { return reject(None, "v2 message without `payload`".into()) };
    let payload: Payload<'_> = match serde_json::from_str(raw.get()) {
        Ok(p) => p,
        Err(e) => return reject(None, format!("malformed v2 payload: {e}")),
    };
    let cursor = payload.seq;
    let variant = payload.ty.as_deref().and_then(|t| t.strip_prefix(NS)).unwrap_or("").to_owned();
    if variant == "info" {
        return V2Frame::Info {
            name: payload.name.unwrap_or_default().into_owned(),
            message: payload.message.unwrap_or_default().into_owned(),
        };
    }
    match envelope(payload, &variant) {
        Ok(envelope) => V2Frame::Event(DecodedFrame { envelope, cursor }),
        Err(reason) => reject(cursor, reason),
    }
}

fn envelope(p: Payload<'_>, variant: &str) -> Result<Envelope, String> {
    let seq = p.seq.ok_or("missing field `payload.seq`")?;
    if seq <= 0 {
        return Err(format!("invalid `payload.seq` {seq}: must be positive"));
    }
    let did = p.did.ok_or("missing field `payload.did`")?;
    Did::try_from(did.as_ref()).map_err(|e| format!("invalid `payload.did` {did:?}: {e}"))?;
    let time = p.time.ok_or("missing field `payload.time`")?;
    let time_us = time
        .parse::<jiff::Timestamp>()
        .map_err(|e| format!("invalid `payload.time` {time:?}: {e}"))?
        .as_microsecond();
    let mut env =
        Envelope { did: Some(did.into_owned()), event_time_us: Some(time_us), ..Default::default() };
    match variant {
        "commit" => {
            let body = CommitBody {
                rev: p.rev,
                operation: p.operation,
                collection: p.collection,
                rkey: p.rkey,
                record: p.record,
                cid: p.cid,
            };
            commit(&mut env, body)?
        }
        "identity" => seq_body(&mut env, EventKind::Identity, p.identity)?,
        "account" => seq_body(&mut env, EventKind::Account, p.account)?,
        other => return Err(format!("unknown v2 payload type {other:?}")),
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reprise_events::Operation;

    const DID: &str = "did:plc:mcc5yghbk7tixqryac2yxku7";

    #[test]
    fn a_commit_message_fills_the_envelope_and_its_seq_is_the_cursor() {
        let f = format!(
            r#"{{"$type":"message","payload":{{"$type":"{NS}commit","seq":42,"did":"{DID}","time":"2024-09-09T19:46:02.329308Z","rev":"3mmoojp7vgo2g","operation":"delete","collection":"fm.plyr.track","rkey":"3k"}}}}"#
        );
        let V2Frame::Event(d) = decode_v2(f.as_bytes()) else { panic!() };
        assert_eq!(d.cursor, Some(42));
        assert_eq!(d.envelope.operation, Some(Operation::Delete));
        assert_eq!(d.envelope.event_time_us, Some(1_725_911_162_329_308));
    }

    #[test]
    fn errors_info_and_garbage() {
        assert_eq!(
            decode_v2(br#"{"$type":"error","error":"ConsumerTooSlow","message":"slow"}"#),
            V2Frame::Error { error: "ConsumerTooSlow".into(), message: "slow".into() }
        );
        let info =
            format!(r#"{{"$type":"message","payload":{{"$type":"{NS}info","name":"OutdatedCursor"}}}}"#);
        assert!(matches!(decode_v2(info.as_bytes()), V2Frame::Info { name, .. } if name == "OutdatedCursor"));
        for bad in [&b"nope"[..], br#"{"$type":"message"}"#, br#"{"did":"x"}"#] {
            let V2Frame::Event(d) = decode_v2(bad) else { panic!() };
            assert_eq!(d.envelope.kind(), EventKind::Rejected);
        }
    }
}
