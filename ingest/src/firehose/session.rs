//! Following one firehose URL: connect at the stored cursor, read frames until the connection ends,
//! back off, reconnect at the last seq handed to the writer.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use reprise_events::{Envelope, GapRange, Shutdown};
use serde_json::json;
use tokio::sync::mpsc;

use super::decode::rejected;
use super::{FirehoseContext, FirehoseEvent, FirehoseFrame, FirehoseOptions, StreamStart, decode_firehose};
use crate::IngestMetrics;
use crate::stream::backoff;
use crate::stream::transport::{self, ConnectError, Frame, Incoming, Liveness, ReadError};
use crate::stream::writer::ToWriter;

/// Messages with nothing wanted in them still move the cursor, but at most this often (a relay sends
/// thousands a second, nearly none of them music): a reconnect then replays at most this much.
const CURSOR_ONLY_EVERY: Duration = Duration::from_secs(1);

/// One firehose URL's follower task.
pub(crate) struct Follower {
    url: String,
    source: Arc<str>,
    /// The last seq handed to the writer (stored, or on its way).
    cursor: Option<i64>,
    ctx: FirehoseContext,
    opts: FirehoseOptions,
    metrics: Arc<IngestMetrics>,
    tx: mpsc::Sender<ToWriter>,
    shutdown: Shutdown,
}

/// What one connection has read so far.
struct Reading {
    /// The cursor the connection asked for.
    requested: Option<i64>,
    /// After `OutdatedCursor`: where the gap it announces starts.
    outdated_from: Option<i64>,
    /// The newest seq of messages with nothing wanted, not yet handed to the writer.
    pending_cursor: Option<i64>,
    /// When something last went to the writer.
    last_sent: Instant,
    /// Whether any frame was read (which resets the backoff).
    delivered: bool,
}

/// Why a connection ended.
enum End {
    Stopped,
    WriterGone,
    /// The host has no message after our cursor (its history was reset): start again as on a first start.
    FutureCursor,
    /// The WebSocket layer refused the frame after the last one read (the host would send it again).
    Refused(String),
    Failed(String),
}

impl Follower {
    pub(crate) fn new(
        url: &str,
        cursor: Option<i64>,
        opts: &FirehoseOptions,
        metrics: Arc<IngestMetrics>,
        tx: mpsc::Sender<ToWriter>,
        shutdown: Shutdown,
    ) -> Self {
        let ctx = FirehoseContext {
            host: url.to_owned(),
            filters: opts.filters.clone(),
            max_frame_bytes: opts.connection.max_frame_bytes,
        };
        let cursor = cursor.or_else(|| first_cursor(opts.start));
        Follower {
            url: url.to_owned(),
            source: Arc::from(url),
            cursor,
            ctx,
            opts: opts.clone(),
            metrics,
            tx,
            shutdown,
        }
    }

    pub(crate) async fn run(mut self) {
        let mut streak = 0u32;
        let mut connections = 0u64;
        // Frames refused in a row with nothing read in between.
        let mut refusals = 0u32;
        loop {
            if self.shutdown.is_stopped() {
                return;
            }
            if connections > 0 {
                self.metrics.reconnects.fetch_add(1, Relaxed);
            }
            connections += 1;
            let (end, delivered) = self.connection().await;
            if delivered {
                (streak, refusals) = (0, 0);
            }
            match end {
                End::Stopped | End::WriterGone => return,
                End::FutureCursor => {
                    tracing::warn!(host = %self.url, cursor = ?self.cursor, start = ?self.opts.start, "the firehose has nothing after our cursor (FutureCursor: its history was reset): starting over as on a first start");
                    self.cursor = first_cursor(self.opts.start);
                    // The stored position too: only moving forward, it would ask for the old one again.
                    if self.tx.send(ToWriter::reset(self.source.clone(), self.cursor)).await.is_err() {
                        return;
                    }
                }
                End::Refused(reason) => {
                    refusals += 1;
                    if !self.step_over(&reason, refusals - 1).await {
                        return;
                    }
                }
                End::Failed(reason) => {
                    tracing::warn!(host = %self.url, reason = %reason, "firehose connection ended");
                }
            }
            streak += 1;
            if !backoff::wait(streak, &self.opts.connection, &self.shutdown).await {
                return;
            }
        }
    }

    fn subscribe_url(&self) -> String {
        match self.cursor {
            Some(c) => format!("{}?cursor={c}", self.url),
            None => self.url.clone(),
        }
    }

    /// One connection; also says whether it delivered anything (which resets the backoff).
    async fn connection(&mut self) -> (End, bool) {
        let url = self.subscribe_url();
        let requested = self.cursor;
        tracing::info!(host = %self.url, cursor = ?requested, "connecting to firehose");
        let stopped = self.shutdown.stopped();
        tokio::pin!(stopped);
        let max = self.opts.connection.max_frame_bytes;
        let connect = tokio::time::timeout(self.opts.connection.idle_timeout, transport::connect(&url, max));
        let mut ws = tokio::select! {
            r = connect => match r {
                Err(_) => return (End::Failed("connect timed out".into()), false),
                Ok(Err(ConnectError::Refused { status, body })) => {
                    let body = String::from_utf8_lossy(body.as_deref().unwrap_or_default()).into_owned();
                    return (End::Failed(format!("connect: handshake refused with HTTP {status}: {body}")), false);
                }
                Ok(Err(ConnectError::Failed(e))) => return (End::Failed(format!("connect: {e}")), false),
                Ok(Ok(ws)) => ws,
            },
            _ = &mut stopped => return (End::Stopped, false),
        };
        tracing::info!(host = %self.url, "connected to firehose");
        let mut r = Reading {
            requested,
            outdated_from: None,
            pending_cursor: None,
            last_sent: Instant::now(),
            delivered: false,
        };
        let mut liveness = Liveness::new(&self.opts.connection, Duration::MAX);
        let end = loop {
            let msg = tokio::select! {
                _ = &mut stopped => {
                    ws.close().await;
                    break End::Stopped;
                }
                _ = liveness.tick() => {
                    if let Err(e) = liveness.check(&mut ws).await {
                        break End::Failed(e);
                    }
                    if let Err(end) = self.store_cursor_if_due(&mut r).await {
                        break end;
                    }
                    continue;
                }
                msg = ws.next() => msg,
            };
            liveness.heard();
            let step = match msg {
                None => Err(End::Failed("connection closed".into())),
                Some(Err(ReadError::Refused(reason))) => Err(End::Refused(reason)),
                Some(Err(ReadError::Failed(e))) => Err(End::Failed(e)),
                Some(Ok(Incoming::Frame(f))) if f.text => self.text(&f).await,
                Some(Ok(Incoming::Frame(f))) => self.binary(&mut r, &f).await,
                Some(Ok(Incoming::Closed(c))) => Err(End::Failed(format!("closed by the host: {c}"))),
                Some(Ok(Incoming::Control)) => Ok(()),
            };
            if let Err(end) = step {
                break end;
            }
        };
        // Whatever moved the cursor without events is stored before the next connection asks from it.
        if r.pending_cursor.is_some() && !self.send_cursor(r.pending_cursor).await {
            return (End::WriterGone, r.delivered);
        }
        (end, r.delivered)
    }

    /// A text frame (UTF-8 or not): not the firehose's framing, kept as rejected.
    async fn text(&mut self, f: &Frame) -> Result<(), End> {
        self.metrics.received(f.bytes.len(), f.len);
        let kept = &f.bytes[..f.bytes.len().min(self.opts.connection.max_frame_bytes)];
        let reason = format!("text frame of {} bytes on subscribeRepos (frames are binary DAG-CBOR)", f.len);
        self.send(None, vec![rejected(kept, None, reason)]).await.then_some(()).ok_or(End::WriterGone)
    }

    /// A binary frame: decoded, and its events (or only its seq) handed to the writer.
    async fn binary(&mut self, r: &mut Reading, f: &Frame) -> Result<(), End> {
        self.metrics.received(f.bytes.len(), f.len);
        let decoded = match f.oversized(self.opts.connection.max_frame_bytes) {
            Some((kept, reason)) => {
                FirehoseFrame::Rejected { seq: None, event: rejected(kept, None, reason) }
            }
            None => decode_firehose(&f.bytes, &self.ctx),
        };
        let (seq, events) = match decoded {
            FirehoseFrame::Message { seq, mut events } => {
                if let Some(from) = r.outdated_from.take().filter(|f| *f < seq) {
                    events.insert(0, self.outdated_gap(from, seq));
                }
                (Some(seq), events)
            }
            FirehoseFrame::Info { name, message } => {
                tracing::info!(host = %self.url, name = %name, message = ?message, "firehose info");
                if name == "OutdatedCursor" {
                    // The first seq received closes the gap that starts after our cursor.
                    r.outdated_from = Some(r.requested.unwrap_or(0) + 1);
                }
                return Ok(());
            }
            FirehoseFrame::Error { error, message, event } => {
                tracing::warn!(host = %self.url, error = %error, message = ?message, "firehose error frame");
                if !self.send(None, vec![event]).await {
                    return Err(End::WriterGone);
                }
                return Err(match error.as_str() {
                    "FutureCursor" => End::FutureCursor,
                    _ => End::Failed(format!("error frame {error}")),
                });
            }
            FirehoseFrame::Rejected { seq, event } => {
                tracing::warn!(host = %self.url, seq, reason = event.envelope.reject_reason.as_deref().unwrap_or(""), "firehose frame rejected");
                (seq, vec![event])
            }
        };
        r.delivered = true;
        if events.is_empty() {
            r.pending_cursor = r.pending_cursor.max(seq);
            self.cursor = self.cursor.max(seq);
            return self.store_cursor_if_due(r).await;
        }
        r.pending_cursor = None;
        r.last_sent = Instant::now();
        self.send(seq, events).await.then_some(()).ok_or(End::WriterGone)
    }

    /// Stores a cursor moved only by messages with nothing wanted, once `CURSOR_ONLY_EVERY` has passed.
    async fn store_cursor_if_due(&mut self, r: &mut Reading) -> Result<(), End> {
        if r.pending_cursor.is_none() || r.last_sent.elapsed() < CURSOR_ONLY_EVERY {
            return Ok(());
        }
        r.last_sent = Instant::now();
        self.send_cursor(r.pending_cursor.take()).await.then_some(()).ok_or(End::WriterGone)
    }

    async fn send(&mut self, seq: Option<i64>, events: Vec<FirehoseEvent>) -> bool {
        self.cursor = self.cursor.max(seq);
        super::send_message(&self.tx, &self.source, seq, events).await
    }

    async fn send_cursor(&mut self, cursor: Option<i64>) -> bool {
        let item = ToWriter::at(self.source.clone(), None, cursor);
        self.tx.send(item).await.is_ok()
    }

    /// The gap an `OutdatedCursor` leaves: from just after our cursor up to the first seq the host had.
    fn outdated_gap(&self, from: i64, to: i64) -> FirehoseEvent {
        self.gap(from, to, "OutdatedCursor")
    }

    fn gap(&self, from: i64, to: i64, reason: &str) -> FirehoseEvent {
        let frame = json!({"gap": {"from": from, "to": to, "reason": reason, "host": self.url}});
        FirehoseEvent {
            envelope: Envelope::gap(GapRange { from, to }),
            frame: frame.to_string().into_bytes(),
        }
    }

    /// Records a frame the WebSocket layer refused (a rejected event saying why: no byte of it could be
    /// read) and moves the cursor past it, since the host would send it again on every connection: the
    /// next `repeats` + 1 doubling step of seqs is skipped, and left as a gap for `backfill --gaps`.
    /// False if the writer is gone.
    async fn step_over(&mut self, reason: &str, repeats: u32) -> bool {
        tracing::warn!(host = %self.url, reason, after = ?self.cursor, "the WebSocket layer refused a frame: recording it and resuming past it");
        let Some(pos) = self.cursor else {
            // From the live tail: the next connection starts after the frame anyway.
            let reason = format!("the WebSocket layer refused a frame: {reason}");
            return self.send(None, vec![rejected(&[], None, reason)]).await;
        };
        let reason = format!("the WebSocket layer refused the frame after seq {pos}: {reason}");
        let to = pos.saturating_add(backoff::step(repeats));
        let events = vec![
            rejected(&[], None, reason),
            self.gap(pos + 1, to + 1, "frame refused by the WebSocket layer"),
        ];
        self.send(Some(to), events).await
    }
}

/// The cursor a firehose without a stored one asks for.
fn first_cursor(start: StreamStart) -> Option<i64> {
    match start {
        StreamStart::Oldest => Some(0),
        StreamStart::Live => None,
    }
}
