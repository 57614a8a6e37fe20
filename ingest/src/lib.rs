//! Ingest: the only crate that knows wire formats.
//!
//! Frames arrive from a source (today a fixture file of Jetstream v1 lines; live Jetstream hosts are
//! issue 3), are checked just enough to fill the log's envelope, and are appended to the event log in
//! batches together with the source's cursor. Nothing is dropped: a frame that cannot be understood is
//! appended as a rejected event carrying the reason.

mod bodies;
mod fixture;
mod lines;
mod v1;

pub use bodies::{AccountBody, IdentityBody, account_body, identity_body};
pub use fixture::{FixtureOptions, FixtureReport, fixture_source, ingest_fixture};
pub use v1::{DecodedFrame, commit_record, decode_v1};

/// Why a source could not be read at all (bad frames are not errors: they become rejected events).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("cannot read {path}: {source}")]
    Read { path: std::path::PathBuf, source: std::io::Error },
    #[error(transparent)]
    Log(#[from] reprise_events::LogError),
}

/// Unix microseconds now, the receive time stamped on every event.
pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or_default()
}
