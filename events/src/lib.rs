//! The append-only event log: `<data_dir>/events.db`.
//!
//! Every event reprise receives (Jetstream frames, fixture lines, and later backfill, gap and media-job
//! events) becomes one row here, with the raw bytes exactly as received and a small envelope that the
//! rest of the system can filter on without parsing the frame. The log is the only source of truth:
//! every read model is a pure function of it. The one event kind reprise writes a body for itself, the
//! media job's state change, is defined here too ([`media`]), so its writers and its reader share one type.
//!
//! Invariants kept by this crate:
//! - rows are never updated or deleted (SQLite triggers abort both);
//! - `seq` is assigned here, in append order, and never reused;
//! - a source's cursor is written in the same transaction as the events it covers;
//! - a source's cursor only moves forward, unless the source itself declared its history reset;
//! - an event whose identity the log already holds is dropped, so replays are idempotent.

mod checkpointer;
mod envelope;
mod error;
mod log;
pub mod media;
mod schema;
mod segment;
mod shutdown;
mod upcast;

pub use checkpointer::Checkpointer;
pub use envelope::{CidCheck, Envelope, EventKind, GapRange, Operation};
pub use error::LogError;
pub use log::{AppendOutcome, EventLog, LogReader, NewEvent, RecordRev, SourceCursor};
pub use segment::{SEGMENT_FORMAT, SegmentInfo, export_segment};
pub use shutdown::Shutdown;
pub use upcast::{CURRENT_EVENT_VERSION, StoredEvent};

/// File name of the log inside the data directory.
pub const LOG_FILE: &str = "events.db";

/// Unix microseconds now, the receive time stamped on every event.
pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or_default()
}
