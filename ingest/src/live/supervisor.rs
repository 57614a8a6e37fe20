//! The supervisor of live ingest: which host to connect to and from where, what each connection's end
//! means (rotate, back off, record a gap, step over a refused frame), and the events it appends itself.

use std::sync::Arc;

use reprise_events::{Envelope, GapRange, NewEvent, Shutdown, SourceCursor};
use tokio::sync::{mpsc, watch};

use super::resume::{self, Start};
use super::session::{Session, SessionEnd};
use super::{Host, LiveOptions, Wire};
use crate::stream::writer::ToWriter;
use crate::stream::{self, Filters};
use crate::{IngestMetrics, now_us};

pub(super) struct Supervisor {
    hosts: Vec<Host>,
    current: usize,
    /// The last event time (µs) every host switch may trust: a new host resumes from here minus the rewind.
    safe_time_us: Option<i64>,
    /// The next connection is to a host other than the one the previous cursor came from.
    switched: bool,
    /// Failures on the current host since it last delivered (two move on to the next host).
    failures: u32,
    /// Failures anywhere since any host last delivered: the backoff grows with these, so a dead
    /// network is not hammered by rotating through the list.
    streak: u32,
    /// Frames refused in a row on the current host with nothing read in between.
    refusals: u32,
    opts: LiveOptions,
    metrics: Arc<IngestMetrics>,
    tx: mpsc::Sender<ToWriter>,
    shutdown: Shutdown,
    pub(super) filter_updates: Option<watch::Receiver<Filters>>,
}

impl Supervisor {
    pub(super) fn new(
        mut hosts: Vec<Host>,
        stored: &[SourceCursor],
        opts: LiveOptions,
        metrics: Arc<IngestMetrics>,
        tx: mpsc::Sender<ToWriter>,
        shutdown: Shutdown,
    ) -> Self {
        let mut newest: Option<(i64, usize)> = None;
        let latest = resume::latest_trusted_time(now_us(), opts.rewind);
        for (i, h) in hosts.iter_mut().enumerate() {
            if let Some(c) = stored.iter().find(|c| c.source == h.url) {
                // A time stored from the future (before reprise bounded positions) is not resumed from.
                h.cursor = Some(match h.wire {
                    Wire::V1 if c.cursor > latest => {
                        tracing::warn!(host = %h.url, cursor = c.cursor, "the stored cursor is ahead of this machine's clock: resuming from the clock instead");
                        latest
                    }
                    _ => c.cursor,
                });
                metrics.set_cursor(&h.url, c.cursor);
                if newest.is_none_or(|(at, _)| c.last_seq > at) {
                    newest = Some((c.last_seq, i));
                }
            }
        }
        // Start where the log last heard from: that host's cursor is the freshest, and (on v1) the
        // time a later switch may trust. Other hosts' cursors are not: one may have been blind.
        let current = newest.map(|(_, i)| i).unwrap_or(0);
        let own_time = (hosts[current].wire == Wire::V1).then_some(hosts[current].cursor).flatten();
        let safe_time_us = opts.start_cursor_us.max(own_time);
        Supervisor {
            hosts,
            current,
            safe_time_us,
            switched: false,
            failures: 0,
            streak: 0,
            refusals: 0,
            opts,
            metrics,
            tx,
            shutdown,
            filter_updates: None,
        }
    }

    pub(super) async fn run(&mut self) {
        let mut connections = 0u64;
        loop {
            if self.shutdown.is_stopped() {
                return;
            }
            let host = &mut self.hosts[self.current];
            let start = match host.resume_at.take() {
                Some(start) => start,
                None => {
                    resume::start_for(host.wire, host.cursor, self.safe_time_us, self.switched, &self.opts)
                }
            };
            let start = match self.gap_if_beyond_replay(start).await {
                Some(s) => s,
                None => return,
            };
            if connections > 0 {
                self.metrics.reconnects.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            connections += 1;
            self.metrics.set_current_host(&self.hosts[self.current].url);
            let host = &mut self.hosts[self.current];
            tracing::info!(host = %host.url, start = ?start, "connecting to jetstream");
            let mut session = Session::new(host, &self.opts, &self.metrics, &self.tx, start);
            let end = session.run(&self.shutdown, &mut self.filter_updates).await;
            let filters = std::mem::take(&mut session.filters);
            let delivered = session.delivered;
            let last_time = session.last_time_us;
            let last_wanted = session.last_wanted_time_us;
            let start_time = session.start_time_us;
            self.opts.filters = filters;
            self.switched = false;
            if delivered > 0 {
                self.failures = 0;
                self.streak = 0;
                self.refusals = 0;
            }
            match end {
                SessionEnd::Stopped | SessionEnd::WriterGone => return,
                SessionEnd::FiltersChanged => continue,
                SessionEnd::Blind => {
                    // Everything since the last wanted event is suspect: the next host replays it.
                    self.safe_time_us = last_wanted.or(start_time).or(self.safe_time_us);
                    tracing::warn!(host = %self.hosts[self.current].url, window_s = self.opts.blind_window.as_secs_f64(), "host is blind to the wanted collections: rotating");
                    self.rotate();
                    continue;
                }
                SessionEnd::CursorTooOld { requested, floor } => {
                    self.safe_time_us = self.safe_time_us.max(last_time);
                    let host = &mut self.hosts[self.current];
                    tracing::warn!(host = %host.url, requested, floor, "cursor below the host's retention floor: recording a gap and resuming at the floor");
                    host.cursor = Some(floor);
                    let gap = GapRange { from: requested, to: floor };
                    if !self.send_gap(self.current, gap, "CursorTooOld", Some(floor)).await {
                        return;
                    }
                    continue;
                }
                SessionEnd::Refused(reason) => {
                    self.safe_time_us = self.safe_time_us.max(last_time);
                    self.streak += 1;
                    if !self.step_over(&reason).await {
                        return;
                    }
                }
                SessionEnd::Failed(reason) => {
                    self.safe_time_us = self.safe_time_us.max(last_time);
                    self.failures += 1;
                    self.streak += 1;
                    tracing::warn!(host = %self.hosts[self.current].url, reason = %reason, failures = self.failures, "jetstream connection ended");
                    // A host that fails twice without delivering anything is skipped for the next one.
                    if self.failures >= 2 && self.hosts.len() > 1 {
                        self.rotate();
                    }
                }
            }
            if !stream::backoff::wait(self.streak, &self.opts.connection, &self.shutdown).await {
                return;
            }
        }
    }

    fn rotate(&mut self) {
        self.current = (self.current + 1) % self.hosts.len();
        self.switched = true;
        self.failures = 0;
        self.refusals = 0;
    }

    /// Records a frame the WebSocket layer refused (a rejected event saying why: no byte of it could be
    /// read) and resumes past it, since the host would send it again after every rewind; what the step
    /// skips is a gap event, for `backfill --gaps`. False if the writer is gone.
    async fn step_over(&mut self, reason: &str) -> bool {
        let repeats = self.refusals;
        self.refusals += 1;
        let host = &self.hosts[self.current];
        let after = host.cursor;
        tracing::warn!(host = %host.url, reason, after = ?after, "the WebSocket layer refused a frame: recording it and resuming past it");
        let reason = match after {
            Some(pos) => format!("the WebSocket layer refused the frame after position {pos}: {reason}"),
            None => format!("the WebSocket layer refused a frame: {reason}"),
        };
        let event = NewEvent {
            envelope: Envelope::rejected(reason),
            frame: Vec::new(),
            source_cursor: after,
            received_at_us: now_us(),
        };
        if self.tx.send(ToWriter::at(host.source.clone(), Some(event), None)).await.is_err() {
            return false;
        }
        // With no position (a live-tail start), the next connection starts after the frame anyway.
        let Some(pos) = after else { return true };
        let latest = resume::latest_trusted_time(now_us(), self.opts.rewind);
        let (start, gap) = resume::step_over(host.wire, pos, repeats, latest);
        let host = &mut self.hosts[self.current];
        (host.resume_at, host.cursor) = (Some(start), Some(gap.to));
        self.send_gap(self.current, gap, "frame refused by the WebSocket layer", Some(gap.to)).await
    }

    /// A timestamp resume point older than the replay window moves up to it, with a gap event for the rest.
    async fn gap_if_beyond_replay(&mut self, start: Start) -> Option<Start> {
        let floor = now_us() - self.opts.replay_window.as_micros() as i64;
        let (from, moved) = match start {
            Start::V1Time(t) if t < floor => (t, Start::V1Time(floor)),
            Start::V2Time(t) if t < floor => (t, Start::V2Time(floor)),
            other => return Some(other),
        };
        // A v1 gap's range is in time_us, its cursor too; a v2 one in time but its cursor is a seq.
        let cursor = (self.hosts[self.current].wire == Wire::V1).then_some(floor);
        let ok = self
            .send_gap(
                self.current,
                GapRange { from, to: floor },
                "resume point beyond the replay window",
                cursor,
            )
            .await;
        ok.then_some(moved)
    }

    /// Appends a gap event, storing `cursor` as the host's position with it.
    async fn send_gap(&mut self, host: usize, range: GapRange, reason: &str, cursor: Option<i64>) -> bool {
        let host = &self.hosts[host];
        let frame = serde_json::json!({"gap": {"from": range.from, "to": range.to, "reason": reason, "host": host.url}});
        let event = NewEvent {
            envelope: Envelope::gap(range),
            frame: frame.to_string().into_bytes(),
            source_cursor: cursor,
            received_at_us: now_us(),
        };
        self.tx.send(ToWriter::single(host.source.clone(), event)).await.is_ok()
    }
}
