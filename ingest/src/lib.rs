//! Ingest: the only crate that knows wire formats.
//!
//! Frames arrive from a source (a fixture file of Jetstream v1 lines: `fixture`; live Jetstream hosts
//! on either wire: `live`; `com.atproto.sync.subscribeRepos` from a PDS or relay: `firehose`), are
//! checked just enough to fill the log's envelope, and are appended to the event log in batches together
//! with the source's cursor. The streaming sources share `stream` (connection settings, filters, the
//! WebSocket transport, backoff, the log writer) and each keeps only its own wire. Nothing is dropped: a
//! frame that cannot be understood is appended as a rejected event carrying the reason.

pub mod backfill;
mod bodies;
mod cid;
pub mod firehose;
mod fixture;
mod lines;
pub mod live;
mod metrics;
mod stream;
mod v1;
mod v2;

pub use bodies::{AccountBody, IdentityBody, account_body, identity_body};
pub use cid::{check_record_cid, record_cid};
pub use firehose::{FIREHOSE_PATH, FirehoseOptions, check_firehose_url, run_firehose};
pub use fixture::{FixtureOptions, FixtureReport, fixture_source, ingest_fixture};
pub use live::{LiveOptions, PUBLIC_V1_HOSTS, Wire, run_live, run_live_with_filters};
pub use metrics::IngestMetrics;
pub use stream::{Connection, FRAMES_IN_FLIGHT, Filters, MUSIC_COLLECTIONS, StreamStart};
pub use v1::{DecodedFrame, commit_record, decode_v1};
pub use v2::{V2_PATH, V2Frame, decode_v2};

/// Why a source could not be read at all (bad frames are not errors: they become rejected events).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("cannot read {path}: {source}")]
    Read { path: std::path::PathBuf, source: std::io::Error },
    #[error(transparent)]
    Log(#[from] reprise_events::LogError),
    #[error("{0}")]
    Config(String),
    #[error("backfill progress: {0}")]
    Progress(#[from] rusqlite::Error),
}

/// Unix microseconds now, the receive time stamped on every event (defined by the log, for every writer).
pub use reprise_events::now_us;
