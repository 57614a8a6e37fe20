//! One connection to one host: the handshake, the hello, reading frames until the connection ends, and
//! the liveness and blindness checks that end it deliberately.

use std::future::Future;
use std::time::Instant;

use reprise_events::{Envelope, EventKind, NewEvent, Shutdown};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;

use super::resume::{Start, latest_trusted_time};
use super::zstd::FrameDecompressor;
use super::{Host, LiveOptions, Wire};
use crate::stream::transport::{self, ConnectError, Frame, Incoming, Liveness, ReadError, Socket};
use crate::stream::writer::ToWriter;
use crate::stream::{self, Filters};
use crate::v2::{V2Frame, decode_v2};
use crate::{DecodedFrame, IngestMetrics, decode_v1, now_us};

/// Why a connection ended.
#[derive(Debug)]
pub(crate) enum SessionEnd {
    Stopped,
    WriterGone,
    /// Other traffic flowed but nothing from the wanted collections for the blind window.
    Blind,
    /// v2: the requested seq is below the host's retention floor.
    CursorTooOld {
        requested: i64,
        floor: i64,
    },
    /// v2 has no `options_update`: new filters mean a new connection.
    FiltersChanged,
    /// The WebSocket layer refused the frame after the last one read (the host would send it again).
    Refused(String),
    Failed(String),
}

pub(crate) struct Session<'a> {
    host: &'a mut Host,
    opts: &'a LiveOptions,
    metrics: &'a IngestMetrics,
    tx: &'a mpsc::Sender<ToWriter>,
    start: Start,
    /// Events handed to the writer on this connection.
    pub delivered: u64,
    /// The newest event time received on this connection.
    pub last_time_us: Option<i64>,
    /// The event time of the last commit from a wanted collection.
    pub last_wanted_time_us: Option<i64>,
    /// The time position this connection started from, when known.
    pub start_time_us: Option<i64>,
    /// The filters in force (changed by `options_update` while connected).
    pub filters: Filters,
    others_since_wanted: u64,
    last_wanted_at: Instant,
    /// An event ahead of the clock was logged on this connection.
    warned_ahead: bool,
}

enum Step {
    Continue,
    End(SessionEnd),
}

impl<'a> Session<'a> {
    pub(crate) fn new(
        host: &'a mut Host,
        opts: &'a LiveOptions,
        metrics: &'a IngestMetrics,
        tx: &'a mpsc::Sender<ToWriter>,
        start: Start,
    ) -> Self {
        let start_time_us = match start {
            Start::V1Time(t) | Start::V2Time(t) => Some(t),
            Start::Live => Some(now_us()),
            Start::V2Seq(_) => None,
        };
        Session {
            host,
            opts,
            metrics,
            tx,
            start,
            delivered: 0,
            last_time_us: None,
            last_wanted_time_us: None,
            start_time_us,
            filters: opts.filters.clone(),
            others_since_wanted: 0,
            last_wanted_at: Instant::now(),
            warned_ahead: false,
        }
    }

    pub(crate) async fn run(
        &mut self,
        shutdown: &Shutdown,
        filter_updates: &mut Option<watch::Receiver<Filters>>,
    ) -> SessionEnd {
        let stopped = shutdown.stopped();
        tokio::pin!(stopped);
        let (mut ws, mut decompressor) = match self.connect(&mut stopped).await {
            Ok(connected) => connected,
            Err(end) => return end,
        };
        let mut liveness = Liveness::new(&self.opts.connection, self.opts.blind_window / 4);
        self.last_wanted_at = Instant::now();
        loop {
            let step = tokio::select! {
                _ = &mut stopped => {
                    ws.close().await;
                    return SessionEnd::Stopped;
                }
                msg = ws.next() => {
                    liveness.heard();
                    match msg {
                        None => Step::End(SessionEnd::Failed("connection closed".into())),
                        Some(Err(ReadError::Refused(reason))) => Step::End(SessionEnd::Refused(reason)),
                        Some(Err(ReadError::Failed(e))) => Step::End(SessionEnd::Failed(e)),
                        Some(Ok(Incoming::Frame(f))) => self.frame(f, &mut decompressor).await,
                        Some(Ok(Incoming::Closed(c))) => Step::End(SessionEnd::Failed(format!("closed by the host: {c}"))),
                        Some(Ok(Incoming::Control)) => Step::Continue,
                    }
                }
                filters = next_filters(filter_updates) => {
                    self.filters = filters;
                    match self.host.wire {
                        Wire::V2 => Step::End(SessionEnd::FiltersChanged),
                        Wire::V1 => match ws.send(options_update(&self.filters)).await {
                            Ok(()) => Step::Continue,
                            Err(e) => Step::End(SessionEnd::Failed(format!("sending options_update: {e}"))),
                        },
                    }
                }
                _ = liveness.tick() => match liveness.check(&mut ws).await {
                    Err(e) => Step::End(SessionEnd::Failed(e)),
                    Ok(()) if self.last_wanted_at.elapsed() > self.opts.blind_window && self.others_since_wanted > 0 => {
                        Step::End(SessionEnd::Blind)
                    }
                    Ok(()) => Step::Continue,
                },
            };
            if let Step::End(end) = step {
                if !matches!(end, SessionEnd::Failed(_) | SessionEnd::Refused(_)) {
                    ws.close().await;
                }
                return end;
            }
        }
    }

    /// Opens the subscription (after fetching a v2 host's dictionary once) and says hello.
    async fn connect(
        &mut self,
        stopped: &mut (impl Future<Output = ()> + Unpin),
    ) -> Result<(Socket, Option<FrameDecompressor>), SessionEnd> {
        if self.host.wire == Wire::V2 && self.opts.compress && self.host.dictionary.is_none() {
            match super::dictionary::fetch(&self.host.url, self.opts.connection.idle_timeout).await {
                Ok(d) => self.host.dictionary = Some(d),
                Err(e) => {
                    tracing::warn!(host = %self.host.url, error = %e, "no zstd dictionary: subscribing uncompressed")
                }
            }
        }
        let dictionary = self.host.dictionary.clone().filter(|_| self.opts.compress);
        let url = subscribe_url(
            &self.host.url,
            self.host.wire,
            self.start,
            &self.filters,
            self.opts.compress,
            dictionary.as_ref().map(|d| d.id),
        );
        let max = self.opts.connection.max_frame_bytes;
        let connect = tokio::time::timeout(self.opts.connection.idle_timeout, transport::connect(&url, max));
        let mut ws = tokio::select! {
            r = connect => match r {
                Err(_) => return Err(SessionEnd::Failed("connect timed out".into())),
                Ok(Err(ConnectError::Refused { status, body })) => return Err(self.refused(status, body.as_deref())),
                Ok(Err(ConnectError::Failed(e))) => return Err(SessionEnd::Failed(format!("connect: {e}"))),
                Ok(Ok(ws)) => ws,
            },
            _ = stopped => return Err(SessionEnd::Stopped),
        };
        if self.host.wire == Wire::V1
            && let Err(e) = ws.send(options_update(&self.filters)).await
        {
            return Err(SessionEnd::Failed(format!("sending options_update: {e}")));
        }
        tracing::info!(host = %self.host.url, "connected to jetstream");
        let decompressor = match (self.host.wire, self.opts.compress, dictionary) {
            (Wire::V1, true, _) => Some(FrameDecompressor::v1(max)),
            (Wire::V2, true, Some(d)) => Some(FrameDecompressor::with_dictionary(d.bytes, max)),
            _ => None,
        };
        let decompressor = decompressor.transpose().map_err(|e| SessionEnd::Failed(format!("zstd: {e}")))?;
        Ok((ws, decompressor))
    }

    /// A handshake the host answered with an HTTP status instead of an upgrade.
    fn refused(&mut self, status: u16, body: Option<&[u8]>) -> SessionEnd {
        let text = String::from_utf8_lossy(body.unwrap_or_default()).into_owned();
        if self.host.wire == Wire::V2
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
            && v["error"] == "CursorTooOld"
            && let Some(floor) = ["floor", "floorSeq", "oldestSeq"].iter().find_map(|k| v[k].as_i64())
        {
            return SessionEnd::CursorTooOld { requested: self.start.cursor().unwrap_or(0), floor };
        }
        if text.contains("UnknownZstdDictionary") {
            self.host.dictionary = None; // the host rotated it: fetch the current one next time
        }
        SessionEnd::Failed(format!("handshake refused with HTTP {status}: {text}"))
    }

    async fn frame(&mut self, f: Frame, decompressor: &mut Option<FrameDecompressor>) -> Step {
        let max = self.opts.connection.max_frame_bytes;
        let raw = &f.bytes[..];
        let (bytes, reject): (Vec<u8>, Option<String>) = match (f.text, decompressor.as_mut()) {
            _ if f.len > max => (raw[..raw.len().min(max)].to_vec(), Some(stream::oversized(f.len, max))),
            (true, _) => (
                raw.to_vec(),
                std::str::from_utf8(raw).err().map(|e| format!("text frame is not UTF-8: {e}")),
            ),
            (false, Some(d)) => match d.decompress(raw) {
                Ok(b) => (b, None),
                Err(reason) => (raw.to_vec(), Some(reason)),
            },
            (false, None) => (raw.to_vec(), Some("binary frame on an uncompressed connection".into())),
        };
        self.metrics.received(bytes.len(), f.len);
        let received_at_us = now_us();
        let decoded = match reject {
            Some(reason) => DecodedFrame { envelope: Envelope::rejected(reason), cursor: None },
            None => match self.host.wire {
                Wire::V1 => decode_v1(&bytes),
                Wire::V2 => match decode_v2(&bytes) {
                    V2Frame::Event(d) => d,
                    V2Frame::Info { name, message } => {
                        tracing::info!(host = %self.host.url, name = %name, message = %message, "jetstream info");
                        return Step::Continue;
                    }
                    V2Frame::Error { error, message } => {
                        return Step::End(SessionEnd::Failed(format!("host error {error}: {message}")));
                    }
                },
            },
        };
        let latest = latest_trusted_time(received_at_us, self.opts.rewind);
        if decoded.envelope.event_time_us.is_some_and(|t| t > latest) {
            self.ahead_of_clock(&decoded);
        }
        // A v1 position is a time: never one beyond the latest trusted time (a v2 seq is no clock).
        let position = match self.host.wire {
            Wire::V1 => decoded.cursor.map(|c| c.min(latest)),
            Wire::V2 => decoded.cursor,
        };
        self.observe(&decoded, position, latest);
        let event = NewEvent {
            envelope: decoded.envelope,
            frame: bytes,
            source_cursor: decoded.cursor,
            received_at_us,
        };
        if self.tx.send(ToWriter::at(self.host.source.clone(), Some(event), position)).await.is_err() {
            return Step::End(SessionEnd::WriterGone);
        }
        self.delivered += 1;
        Step::Continue
    }

    /// An event whose time is ahead of reprise's clock by more than the rewind: kept with the time it
    /// claims, counted, and said once per connection (a host whose clock is wrong sends many).
    fn ahead_of_clock(&mut self, d: &DecodedFrame) {
        self.metrics.clock_ahead.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if !self.warned_ahead {
            self.warned_ahead = true;
            tracing::warn!(host = %self.host.url, time_us = ?d.envelope.event_time_us, did = ?d.envelope.did, "event time ahead of this machine's clock: kept, but it moves no cursor past now + rewind");
        }
    }

    /// Notes what a frame says about the host: its position, and (bounded by `latest`) its event time.
    fn observe(&mut self, d: &DecodedFrame, position: Option<i64>, latest: i64) {
        if let Some(c) = position {
            self.host.cursor = self.host.cursor.max(Some(c));
        }
        let env = &d.envelope;
        let time = env.event_time_us.map(|t| t.min(latest));
        if let Some(t) = time {
            self.last_time_us = self.last_time_us.max(Some(t));
        }
        let wanted = env.kind() == EventKind::Commit
            && env.collection.as_deref().is_some_and(|c| self.filters.wants_collection(c));
        if wanted {
            self.last_wanted_at = Instant::now();
            self.others_since_wanted = 0;
            self.last_wanted_time_us = self.last_wanted_time_us.max(time);
        } else {
            self.others_since_wanted += 1;
        }
    }
}

/// The v1 client message that sets filters (the hello of a `requireHello` subscription, and every
/// later change). Never carries `maxMessageSizeBytes`.
fn options_update(f: &Filters) -> Message {
    let msg = serde_json::json!({"type": "options_update", "payload": {
        "wantedCollections": f.wanted_collections, "wantedDids": f.wanted_dids}});
    Message::text(msg.to_string())
}

/// The next filter change; pending forever when there is no sender (or it is gone).
async fn next_filters(updates: &mut Option<watch::Receiver<Filters>>) -> Filters {
    if let Some(rx) = updates {
        if rx.changed().await.is_ok() {
            return rx.borrow_and_update().clone();
        }
        *updates = None;
    }
    std::future::pending().await
}

/// The subscription URL for a host, wire and start position. Never sets `maxMessageSizeBytes`: a limit
/// silently drops events, deletes included.
pub(crate) fn subscribe_url(
    base: &str,
    wire: Wire,
    start: Start,
    filters: &Filters,
    compress: bool,
    v2_dictionary: Option<u32>,
) -> String {
    let mut params: Vec<String> = Vec::new();
    let (collections, dids) = match wire {
        Wire::V1 => ("wantedCollections", "wantedDids"),
        Wire::V2 => ("collections", "dids"),
    };
    params.extend(filters.wanted_collections.iter().map(|c| format!("{collections}={c}")));
    params.extend(filters.wanted_dids.iter().map(|d| format!("{dids}={d}")));
    if let Some(c) = start.cursor() {
        params.push(format!("cursor={c}"));
    }
    if let (Wire::V2, Some(id)) = (wire, v2_dictionary) {
        params.push(format!("zstdDictionary={id}"));
    }
    if wire == Wire::V1 {
        if compress {
            params.push("compress=true".into());
        }
        params.push("requireHello=true".into());
    }
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{}", params.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_per_wire() {
        let f =
            Filters { wanted_collections: vec!["fm.plyr.*".into()], wanted_dids: vec!["did:plc:a".into()] };
        assert_eq!(
            subscribe_url("ws://h/subscribe", Wire::V1, Start::V1Time(7), &f, true, None),
            "ws://h/subscribe?wantedCollections=fm.plyr.*&wantedDids=did:plc:a&cursor=7&compress=true&requireHello=true"
        );
        assert_eq!(
            subscribe_url("ws://h/x", Wire::V2, Start::Live, &f, true, Some(9)),
            "ws://h/x?collections=fm.plyr.*&dids=did:plc:a&zstdDictionary=9"
        );
    }
}
