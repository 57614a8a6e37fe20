//! Live ingest from Jetstream hosts: one connection at a time, rotating through a host list.
//!
//! A socket task reads frames, decodes them (`v1` or `v2` by the URL's path), and hands them through the
//! stream writer's bounded channel to the log, appended in batches together with the host's cursor.
//! Cursors are per host (the log source is the host URL). Resuming on the same host rewinds a v1
//! `time_us` cursor by `rewind` and restarts a v2 `seq` cursor inclusively; switching hosts resumes
//! from the last trusted event time minus `rewind` (a v2 host gets it as a timestamp cursor, never
//! another host's seq). The log drops what it already holds, so every overlap is harmless. What a host
//! can no longer replay is appended as a gap event naming the missing range.

mod dictionary;
pub(crate) mod resume;
mod session;
mod supervisor;
pub mod zstd;

use std::sync::Arc;
use std::time::Duration;

use reprise_events::{EventLog, Shutdown};
use tokio::sync::watch;

use crate::stream::writer;
use crate::stream::{Connection, Filters};
use crate::{IngestError, IngestMetrics, now_us};
pub use resume::Start;
use supervisor::Supervisor;

/// The four public v1 hosts (Bluesky's), the default host list.
pub const PUBLIC_V1_HOSTS: [&str; 4] = [
    "wss://jetstream1.us-east.bsky.network/subscribe",
    "wss://jetstream2.us-east.bsky.network/subscribe",
    "wss://jetstream1.us-west.bsky.network/subscribe",
    "wss://jetstream2.us-west.bsky.network/subscribe",
];

/// Which Jetstream wire a host URL speaks, chosen by its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// `/subscribe`: `time_us` cursors, `wantedCollections`, `requireHello`, dictionary zstd.
    V1,
    /// `/xrpc/network.bsky.jetstream.subscribeEvents`: inclusive `seq` cursors, message framing.
    V2,
}

impl Wire {
    /// The wire of a `ws://` or `wss://` URL, or why it has none.
    pub fn of(url: &str) -> Result<Wire, String> {
        let rest = url
            .strip_prefix("ws://")
            .or_else(|| url.strip_prefix("wss://"))
            .ok_or_else(|| format!("{url}: a Jetstream URL starts with ws:// or wss://"))?;
        let path = rest.find('/').map(|i| &rest[i..]).unwrap_or("");
        let path = path.split('?').next().unwrap_or("");
        match path {
            "/subscribe" => Ok(Wire::V1),
            crate::v2::V2_PATH => Ok(Wire::V2),
            other => Err(format!(
                "{url}: unknown Jetstream path {other:?} (expected /subscribe or {})",
                crate::v2::V2_PATH
            )),
        }
    }
}

/// How live ingest behaves. `Default` is the documented configuration.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// Host URLs, tried in order and rotated on failure; the path chooses the wire.
    pub hosts: Vec<String>,
    /// What is followed; it can change while connected (see [`run_live_with_filters`]).
    pub filters: Filters,
    /// Ask for dictionary-zstd frames (v1 `compress=true`; v2 `zstdDictionary=<id>` after fetching the
    /// host's dictionary with `getZstdDictionary`, uncompressed if that fails).
    pub compress: bool,
    /// How far a v1 resume rewinds the stored cursor, and how far a host switch rewinds.
    pub rewind: Duration,
    /// How far back a host can replay: a resume point older than this is moved up to it and the
    /// missing range is appended as a gap event.
    pub replay_window: Duration,
    /// Connected, other traffic flowing, nothing from the wanted collections for this long: the host
    /// is blind and ingest rotates.
    pub blind_window: Duration,
    pub connection: Connection,
    /// Where to start when no host has a stored cursor: `None` is the live tail.
    pub start_cursor_us: Option<i64>,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            hosts: PUBLIC_V1_HOSTS.iter().map(|h| h.to_string()).collect(),
            filters: Filters::default(),
            compress: true,
            rewind: Duration::from_secs(5),
            replay_window: Duration::from_secs(24 * 3600),
            blind_window: Duration::from_secs(1800),
            connection: Connection::default(),
            start_cursor_us: None,
        }
    }
}

/// What the supervisor knows about one host.
#[derive(Debug)]
pub(crate) struct Host {
    pub url: String,
    pub source: Arc<str>,
    pub wire: Wire,
    /// The highest cursor received from this host (stored or in flight to the writer).
    pub cursor: Option<i64>,
    /// A v2 host's zstd dictionary, fetched once and kept until the host says it is unknown.
    pub(crate) dictionary: Option<dictionary::V2Dictionary>,
    /// Where the next connection starts instead (past a refused frame, without the rewind).
    pub(crate) resume_at: Option<Start>,
}

/// Runs live ingest until `shutdown` stops it; returns the log once every received event is appended.
pub async fn run_live(
    log: EventLog,
    opts: LiveOptions,
    metrics: Arc<IngestMetrics>,
    shutdown: Shutdown,
) -> Result<EventLog, IngestError> {
    run_live_with_filters(log, opts, metrics, shutdown, None).await
}

/// [`run_live`], with filters that change while running (each value sent replaces the options' own).
pub async fn run_live_with_filters(
    log: EventLog,
    opts: LiveOptions,
    metrics: Arc<IngestMetrics>,
    shutdown: Shutdown,
    filter_updates: Option<watch::Receiver<Filters>>,
) -> Result<EventLog, IngestError> {
    if opts.hosts.is_empty() {
        return Err(IngestError::Config("no Jetstream hosts configured".into()));
    }
    let mut hosts = Vec::new();
    for url in &opts.hosts {
        let wire = Wire::of(url).map_err(IngestError::Config)?;
        hosts.push(Host {
            url: url.clone(),
            source: Arc::from(url.as_str()),
            wire,
            cursor: None,
            dictionary: None,
            resume_at: None,
        });
    }
    let mut log = log;
    let mut stored = log.cursors()?;
    let known = |h: &Host| stored.iter().any(|c| c.source == h.url);
    if opts.start_cursor_us.is_none() && hosts[0].wire == Wire::V1 && !hosts.iter().any(known) {
        // A first start follows the live tail from now; that position is stored before connecting, so a
        // crash before the first batch resumes from it instead of skipping what arrived meanwhile.
        let now = now_us();
        log.append(&hosts[0].url, &[], Some(now))?;
        stored = log.cursors()?;
    }
    let (tx, writer) = writer::start(log, opts.connection.batch_size, metrics.clone());
    let mut sup = Supervisor::new(hosts, &stored, opts, metrics, tx, shutdown);
    sup.filter_updates = filter_updates;
    sup.run().await;
    drop(sup); // closes the channel: the writer drains it and returns the log
    writer.finish().await
}
