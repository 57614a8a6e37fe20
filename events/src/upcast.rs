//! Decoding stored rows into the current event shape, upcasting older schema versions on read.
//!
//! Rows are never rewritten: when the meaning of a column changes, the version written with new rows
//! goes up and `decode` learns to turn every older version into the current shape. Version 1 is the
//! first; version 2 added the record CID check and gap ranges (rows of version 1 read as "not checked",
//! "not a gap"); version 3 added the `media` kind (same columns, so it decodes like version 2, and a
//! build that predates it refuses the row as too new instead of misreading the kind). A row from a newer build is refused rather than misread.

use rusqlite::Row;

use crate::{CidCheck, Envelope, EventKind, GapRange, LogError, Operation};

/// The schema version written with every new event.
pub const CURRENT_EVENT_VERSION: i64 = 3;

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
     collection, rkey, operation, rev, cid, event_time_us, upstream_seq, reject_reason, frame, cid_check, gap_from, gap_to";

pub(crate) fn decode(row: &Row<'_>) -> Result<StoredEvent, LogError> {
    let seq: i64 = row.get(0)?;
    let version: i64 = row.get(1)?;
    match version {
        1 => decode_v1(seq, row),
        2 | 3 => decode_v2(seq, row).map(|e| StoredEvent { schema_version: version, ..e }),
        v if v > CURRENT_EVENT_VERSION => {
            Err(LogError::EventVersionTooNew { seq, version: v, supported: CURRENT_EVENT_VERSION })
        }
        v => Err(LogError::Corrupt { seq, reason: format!("unknown schema version {v}") }),
    }
}

/// Version 2: version 1's columns plus `cid_check`, `gap_from`, `gap_to`.
fn decode_v2(seq: i64, row: &Row<'_>) -> Result<StoredEvent, LogError> {
    let mut event = decode_v1(seq, row)?;
    event.schema_version = 2;
    if let Some(text) = row.get::<_, Option<String>>(16)? {
        let check = CidCheck::from_column(&text)
            .ok_or_else(|| LogError::Corrupt { seq, reason: format!("unknown cid_check {text:?}") })?;
        event.envelope.cid_check = Some(check);
    }
    if let (Some(from), Some(to)) = (row.get::<_, Option<i64>>(17)?, row.get::<_, Option<i64>>(18)?) {
        event.envelope.gap = Some(GapRange { from, to });
    }
    Ok(event)
}

/// Version 1: no CID check, no gaps (those columns, when the file has them, are NULL and ignored).
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
            cid_check: None,
            gap: None,
        },
        frame: row.get(15)?,
    })
}
