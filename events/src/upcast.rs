//! Decoding stored rows into the current event shape, upcasting older schema versions on read.
//!
//! Rows are never rewritten: when the meaning of a column changes, the version written with new rows
//! goes up and `decode` learns to turn every older version into the current shape. Version 1 is the
//! first and so far only version; a row from a newer build is refused rather than misread.

use rusqlite::Row;

use crate::{Envelope, EventKind, LogError, Operation};

/// The schema version written with every new event.
pub const CURRENT_EVENT_VERSION: i64 = 1;

/// An event as read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub seq: i64,
    /// The version the row was written with (the event itself is already upcast to the current shape).
    pub schema_version: i64,
    pub received_at_us: i64,
    pub source: String,
    pub source_cursor: Option<i64>,
    pub envelope: Envelope,
    /// The frame exactly as received.
    pub frame: Vec<u8>,
}

pub(crate) const COLUMNS: &str = "seq, schema_version, received_at_us, source, source_cursor, kind, did, \
     collection, rkey, operation, rev, cid, event_time_us, upstream_seq, reject_reason, frame";

pub(crate) fn decode(row: &Row<'_>) -> Result<StoredEvent, LogError> {
    let seq: i64 = row.get(0)?;
    let version: i64 = row.get(1)?;
    match version {
        1 => decode_v1(seq, row),
        v if v > CURRENT_EVENT_VERSION => {
            Err(LogError::EventVersionTooNew { seq, version: v, supported: CURRENT_EVENT_VERSION })
        }
        v => Err(LogError::Corrupt { seq, reason: format!("unknown schema version {v}") }),
    }
}

fn decode_v1(seq: i64, row: &Row<'_>) -> Result<StoredEvent, LogError> {
    let corrupt = |reason: String| LogError::Corrupt { seq, reason };
    let kind: String = row.get(5)?;
    let kind = EventKind::parse(&kind).ok_or_else(|| corrupt(format!("unknown kind {kind:?}")))?;
    let operation = match row.get::<_, Option<String>>(9)? {
        None => None,
        Some(op) => Some(Operation::parse(&op).ok_or_else(|| corrupt(format!("unknown operation {op:?}")))?),
    };
    Ok(StoredEvent {
        seq,
        schema_version: 1,
        received_at_us: row.get(2)?,
        source: row.get(3)?,
        source_cursor: row.get(4)?,
        envelope: Envelope {
            kind: Some(kind),
            did: row.get(6)?,
            collection: row.get(7)?,
            rkey: row.get(8)?,
            operation,
            rev: row.get(10)?,
            cid: row.get(11)?,
            event_time_us: row.get(12)?,
            upstream_seq: row.get(13)?,
            reject_reason: row.get(14)?,
        },
        frame: row.get(15)?,
    })
}
