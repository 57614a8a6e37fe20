//! What live ingest is doing, as atomics any thread can read: rendered as Prometheus text for `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Instant;

/// Counters and gauges of live ingest. Shared as `Arc<IngestMetrics>`; the writer and the socket update it.
#[derive(Debug)]
pub struct IngestMetrics {
    started: Instant,
    /// Events received from the wire (before dedupe).
    pub events_received: AtomicU64,
    /// Events appended to the log.
    pub events_appended: AtomicU64,
    /// Events the log already held, dropped.
    pub duplicates_dropped: AtomicU64,
    /// Frame bytes received (decompressed).
    pub bytes_received: AtomicU64,
    /// Bytes as they came off the socket (compressed when compression is on).
    pub wire_bytes_received: AtomicU64,
    pub reconnects: AtomicU64,
    /// Gap events appended (cursor too old, rotation wider than the replay window).
    pub gaps: AtomicU64,
    /// Events whose time was ahead of reprise's clock by more than the rewind: kept, but no position
    /// was taken from their time beyond that bound.
    pub clock_ahead: AtomicU64,
    /// Now minus the event time of the last appended event, microseconds.
    pub lag_us: AtomicI64,
    /// Events and bytes per second over the last completed second.
    pub events_per_second: AtomicU64,
    pub bytes_per_second: AtomicU64,
    window: Mutex<RateWindow>,
    current_host: Mutex<String>,
    cursors: Mutex<BTreeMap<String, i64>>,
}

#[derive(Debug)]
struct RateWindow {
    since: Instant,
    events: u64,
    bytes: u64,
}

impl Default for IngestMetrics {
    fn default() -> Self {
        IngestMetrics {
            started: Instant::now(),
            events_received: AtomicU64::new(0),
            events_appended: AtomicU64::new(0),
            duplicates_dropped: AtomicU64::new(0),
            bytes_received: AtomicU64::new(0),
            wire_bytes_received: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            gaps: AtomicU64::new(0),
            clock_ahead: AtomicU64::new(0),
            lag_us: AtomicI64::new(0),
            events_per_second: AtomicU64::new(0),
            bytes_per_second: AtomicU64::new(0),
            window: Mutex::new(RateWindow { since: Instant::now(), events: 0, bytes: 0 }),
            current_host: Mutex::new(String::new()),
            cursors: Mutex::new(BTreeMap::new()),
        }
    }
}

impl IngestMetrics {
    /// Counts one received frame of `bytes` decompressed bytes, and rolls the per-second rates.
    pub fn received(&self, bytes: usize, wire_bytes: usize) {
        self.events_received.fetch_add(1, Relaxed);
        self.bytes_received.fetch_add(bytes as u64, Relaxed);
        self.wire_bytes_received.fetch_add(wire_bytes as u64, Relaxed);
        let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        w.events += 1;
        w.bytes += bytes as u64;
        let elapsed = w.since.elapsed();
        if elapsed.as_secs_f64() >= 1.0 {
            let secs = elapsed.as_secs_f64();
            self.events_per_second.store((w.events as f64 / secs) as u64, Relaxed);
            self.bytes_per_second.store((w.bytes as f64 / secs) as u64, Relaxed);
            *w = RateWindow { since: Instant::now(), events: 0, bytes: 0 };
        }
    }

    pub fn set_current_host(&self, host: &str) {
        *self.current_host.lock().unwrap_or_else(|e| e.into_inner()) = host.to_owned();
    }

    pub fn current_host(&self) -> String {
        self.current_host.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Records a stored cursor; like the log's, it only moves forward.
    pub fn set_cursor(&self, host: &str, cursor: i64) {
        let mut cursors = self.cursors.lock().unwrap_or_else(|e| e.into_inner());
        let c = cursors.entry(host.to_owned()).or_insert(cursor);
        *c = (*c).max(cursor);
    }

    /// Records a cursor reset by its source (none: forgotten).
    pub fn reset_cursor(&self, host: &str, cursor: Option<i64>) {
        let mut cursors = self.cursors.lock().unwrap_or_else(|e| e.into_inner());
        match cursor {
            Some(c) => cursors.insert(host.to_owned(), c),
            None => cursors.remove(host),
        };
    }

    pub fn cursors(&self) -> BTreeMap<String, i64> {
        self.cursors.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The Prometheus text exposition of every metric.
    pub fn render_prometheus(&self) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: String| {
            let _ = writeln!(out, "# HELP reprise_ingest_{name} {help}\n# TYPE reprise_ingest_{name} {kind}");
            let _ = writeln!(out, "reprise_ingest_{name}{value}");
        };
        let plain = |v: u64| format!(" {v}");
        metric(
            "events_received_total",
            "counter",
            "Events received from Jetstream.",
            plain(self.events_received.load(Relaxed)),
        );
        metric(
            "events_appended_total",
            "counter",
            "Events appended to the log.",
            plain(self.events_appended.load(Relaxed)),
        );
        metric(
            "duplicates_dropped_total",
            "counter",
            "Events the log already held, dropped.",
            plain(self.duplicates_dropped.load(Relaxed)),
        );
        metric(
            "bytes_received_total",
            "counter",
            "Frame bytes received, decompressed.",
            plain(self.bytes_received.load(Relaxed)),
        );
        metric(
            "wire_bytes_received_total",
            "counter",
            "Bytes received on the socket.",
            plain(self.wire_bytes_received.load(Relaxed)),
        );
        metric(
            "reconnects_total",
            "counter",
            "Connections re-established after a failure or rotation.",
            plain(self.reconnects.load(Relaxed)),
        );
        metric("gaps_total", "counter", "Gap events appended.", plain(self.gaps.load(Relaxed)));
        metric(
            "clock_ahead_total",
            "counter",
            "Events timed ahead of this machine's clock by more than the rewind (kept; no cursor from them).",
            plain(self.clock_ahead.load(Relaxed)),
        );
        metric(
            "events_per_second",
            "gauge",
            "Events received per second, last second.",
            plain(self.events_per_second.load(Relaxed)),
        );
        metric(
            "bytes_per_second",
            "gauge",
            "Bytes received per second, last second.",
            plain(self.bytes_per_second.load(Relaxed)),
        );
        metric(
            "lag_seconds",
            "gauge",
            "Now minus the event time of the last appended event.",
            format!(" {}", self.lag_us.load(Relaxed) as f64 / 1e6),
        );
        metric(
            "uptime_seconds",
            "gauge",
            "Seconds since ingest started.",
            format!(" {}", self.started.elapsed().as_secs_f64()),
        );
        let host = self.current_host();
        metric(
            "current_host",
            "gauge",
            "The host ingest is connected to (1).",
            format!("{{host=\"{}\"}} 1", escape(&host)),
        );
        let _ = writeln!(
            out,
            "# HELP reprise_ingest_cursor The cursor stored per host (v1 time_us, v2 seq).\n# TYPE reprise_ingest_cursor gauge"
        );
        for (h, c) in self.cursors() {
            let _ = writeln!(out, "reprise_ingest_cursor{{host=\"{}\"}} {c}", escape(&h));
        }
        out
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_metric_in_prometheus_text() {
        let m = IngestMetrics::default();
        m.received(100, 40);
        m.reconnects.fetch_add(2, Relaxed);
        m.set_current_host("ws://h/subscribe");
        m.set_cursor("ws://h/subscribe", 17);
        let text = m.render_prometheus();
        for line in [
            "reprise_ingest_events_received_total 1",
            "reprise_ingest_bytes_received_total 100",
            "reprise_ingest_reconnects_total 2",
            "reprise_ingest_current_host{host=\"ws://h/subscribe\"} 1",
            "reprise_ingest_cursor{host=\"ws://h/subscribe\"} 17",
            "# TYPE reprise_ingest_lag_seconds gauge",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
    }
}
