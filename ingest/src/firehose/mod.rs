//! Ingest straight from `com.atproto.sync.subscribeRepos` (a PDS or a relay), beside or instead of Jetstream.
//!
//! Each firehose URL is followed concurrently by its own task and is its own log source (named by its
//! URL) with its own cursor: the `seq` of the last message stored, written in the same transaction as
//! the events (through the stream writer, so a message's events and its seq commit together) and
//! resumed on reconnect with `?cursor=<seq>`. `decode.rs` turns each frame into log events (a pure
//! function); `session.rs` is one connection. Redelivered messages add nothing: every event's identity
//! (a commit's repo, record, rev and CID; an identity or account event's upstream seq; a rejected or gap
//! event's source, seq and bytes) is the same each time it is delivered.

mod commit;
mod decode;
mod session;

use std::sync::Arc;

use reprise_events::{EventLog, Shutdown};
use tokio::sync::mpsc;

pub use decode::{FirehoseContext, FirehoseEvent, FirehoseFrame, decode_firehose};

use crate::stream::writer::{self, ToWriter};
use crate::stream::{Connection, Filters, StreamStart};
use crate::{IngestError, IngestMetrics};

/// The XRPC path of the firehose.
pub const FIREHOSE_PATH: &str = "/xrpc/com.atproto.sync.subscribeRepos";

/// How firehose ingest behaves. `Default` is the documented configuration (with no URLs).
#[derive(Debug, Clone)]
pub struct FirehoseOptions {
    /// `ws://` or `wss://` URLs ending in [`FIREHOSE_PATH`], followed concurrently.
    pub urls: Vec<String>,
    pub filters: Filters,
    pub start: StreamStart,
    pub connection: Connection,
}

impl Default for FirehoseOptions {
    fn default() -> Self {
        FirehoseOptions {
            urls: Vec::new(),
            filters: Filters::default(),
            start: StreamStart::Oldest,
            connection: Connection::default(),
        }
    }
}

/// Checks that `url` is a firehose subscription URL (`ws[s]://host[:port]/xrpc/com.atproto.sync.subscribeRepos`).
pub fn check_firehose_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("ws://")
        .or_else(|| url.strip_prefix("wss://"))
        .ok_or_else(|| format!("{url}: a firehose URL starts with ws:// or wss://"))?;
    let path = rest.find('/').map(|i| &rest[i..]).unwrap_or("");
    if path != FIREHOSE_PATH {
        return Err(format!("{url}: a firehose URL's path is {FIREHOSE_PATH} (with no query), not {path:?}"));
    }
    if rest.starts_with('/') {
        return Err(format!("{url}: no host"));
    }
    Ok(())
}

/// Follows every firehose in `opts.urls` until `shutdown` stops it; returns the log once every received
/// event is appended.
pub async fn run_firehose(
    log: EventLog,
    opts: FirehoseOptions,
    metrics: Arc<IngestMetrics>,
    shutdown: Shutdown,
) -> Result<EventLog, IngestError> {
    if opts.urls.is_empty() {
        return Err(IngestError::Config("no firehose URLs configured".into()));
    }
    for url in &opts.urls {
        check_firehose_url(url).map_err(IngestError::Config)?;
    }
    let stored = log.cursors()?;
    let (tx, writer) = writer::start(log, opts.connection.batch_size, metrics.clone());
    let mut tasks = tokio::task::JoinSet::new();
    for url in &opts.urls {
        let cursor = stored.iter().find(|c| &c.source == url).map(|c| c.cursor);
        if let Some(c) = cursor {
            metrics.set_cursor(url, c);
        }
        let follower =
            session::Follower::new(url, cursor, &opts, metrics.clone(), tx.clone(), shutdown.clone());
        tasks.spawn(follower.run());
    }
    drop(tx);
    while tasks.join_next().await.is_some() {}
    writer.finish().await
}

/// Sends one message's events to the writer, the last one carrying the message's seq as the cursor to
/// store, so the seq commits in the same transaction as the last of them. False if the writer is gone.
pub(crate) async fn send_message(
    tx: &mpsc::Sender<ToWriter>,
    source: &Arc<str>,
    seq: Option<i64>,
    events: Vec<FirehoseEvent>,
) -> bool {
    let n = events.len();
    for (i, e) in events.into_iter().enumerate() {
        let event = reprise_events::NewEvent {
            envelope: e.envelope,
            frame: e.frame,
            source_cursor: seq,
            received_at_us: crate::now_us(),
        };
        let cursor = if i + 1 == n { seq } else { None };
        if tx.send(ToWriter::at(source.clone(), Some(event), cursor)).await.is_err() {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests;
