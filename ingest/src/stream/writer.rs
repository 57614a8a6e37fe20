//! The log writer of the streaming sources: drains their bounded channel in batches, one transaction
//! each, storing each source's cursor in the same transaction as its events.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use reprise_events::{EventKind, EventLog, NewEvent};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::{IngestError, IngestMetrics, now_us};

/// One event on its way to the log, with the source (host URL) it came from, and the source position
/// to store once it is appended: an event that is not the last of its message (a firehose commit with
/// several ops) carries none, so a transaction never stores a position half of whose message is missing.
/// An item without an event only moves the cursor (firehose messages with nothing wanted in them).
/// A stored cursor only moves forward, except through a `reset` item: the source declared its history
/// reset (a firehose's `FutureCursor`), and its position starts over at `cursor` (none: forgotten).
#[derive(Debug)]
pub(crate) struct ToWriter {
    pub source: Arc<str>,
    pub event: Option<NewEvent>,
    pub cursor: Option<i64>,
    pub reset: bool,
}

impl ToWriter {
    /// A live Jetstream event: each frame is one event, and its own cursor.
    pub(crate) fn single(source: Arc<str>, event: NewEvent) -> Self {
        let cursor = event.source_cursor;
        ToWriter { source, event: Some(event), cursor, reset: false }
    }

    /// One event of a message, or (with no event) a position alone.
    pub(crate) fn at(source: Arc<str>, event: Option<NewEvent>, cursor: Option<i64>) -> Self {
        ToWriter { source, event, cursor, reset: false }
    }

    /// The source's history was reset: its stored position becomes `cursor`, even if lower.
    pub(crate) fn reset(source: Arc<str>, cursor: Option<i64>) -> Self {
        ToWriter { source, event: None, cursor, reset: true }
    }
}

/// The writer's thread; it hands the log back once every sender is gone and all they sent is appended.
pub(crate) struct Writer(JoinHandle<Result<EventLog, IngestError>>);

impl Writer {
    pub(crate) async fn finish(self) -> Result<EventLog, IngestError> {
        self.0.await.map_err(|e| IngestError::Config(format!("log writer panicked: {e}")))?
    }
}

/// Starts the log writer on a blocking thread, appending at most `batch_size` events a transaction.
pub(crate) fn start(
    log: EventLog,
    batch_size: usize,
    metrics: Arc<IngestMetrics>,
) -> (mpsc::Sender<ToWriter>, Writer) {
    let (tx, rx) = mpsc::channel(super::FRAMES_IN_FLIGHT);
    let batch_size = batch_size.max(1);
    (tx, Writer(tokio::task::spawn_blocking(move || write_loop(log, rx, batch_size, metrics))))
}

/// Appends everything that arrives until every sender is gone, then hands the log back.
fn write_loop(
    mut log: EventLog,
    mut rx: mpsc::Receiver<ToWriter>,
    batch_size: usize,
    metrics: Arc<IngestMetrics>,
) -> Result<EventLog, IngestError> {
    let mut batch: Vec<ToWriter> = Vec::with_capacity(batch_size);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        // Whatever is already waiting joins the batch: at low rates each event is its own (fast)
        // transaction, at high rates batches grow up to `batch_size` and fsyncs amortise.
        while batch.len() < batch_size {
            match rx.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        flush(&mut log, &mut batch, &metrics)?;
    }
    Ok(log)
}

fn flush(log: &mut EventLog, batch: &mut Vec<ToWriter>, metrics: &IngestMetrics) -> Result<(), IngestError> {
    let mut items = batch.drain(..).peekable();
    while let Some(first) = items.next() {
        let source = first.source.clone();
        if first.reset {
            log.reset_cursor(&source, first.cursor)?;
            metrics.reset_cursor(&source, first.cursor);
            continue;
        }
        let mut cursor = first.cursor;
        let mut events: Vec<NewEvent> = first.event.into_iter().collect();
        while let Some(next) = items.next_if(|i| i.source == source && !i.reset) {
            cursor = cursor.max(next.cursor);
            events.extend(next.event);
        }
        // The events of one source arrive in the channel in receive order, so the highest cursor
        // among them covers everything before it (the resume rewind covers reordering on the wire).
        if events.is_empty() && cursor.is_none() {
            continue;
        }
        let out = log.append(&source, &events, cursor)?;
        metrics.events_appended.fetch_add(out.appended as u64, Relaxed);
        metrics.duplicates_dropped.fetch_add(out.duplicates as u64, Relaxed);
        metrics
            .gaps
            .fetch_add(events.iter().filter(|e| e.envelope.kind() == EventKind::Gap).count() as u64, Relaxed);
        if let Some(t) = events.iter().rev().find_map(|e| e.envelope.event_time_us) {
            metrics.lag_us.store((now_us() - t).max(0), Relaxed); // an event from the future is no lag
        }
        if let Some(c) = cursor {
            metrics.set_cursor(&source, c);
        }
        tracing::debug!(source = %source, appended = out.appended, duplicates = out.duplicates, head = out.head, cursor, "appended live batch");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use reprise_events::Envelope;

    use super::*;

    fn item(source: &Arc<str>, seq: i64, last_of_message: bool) -> ToWriter {
        let event = NewEvent {
            envelope: Envelope::rejected(format!("event of message {seq}")),
            frame: format!("{seq} {last_of_message}").into_bytes(),
            source_cursor: Some(seq),
            received_at_us: 1,
        };
        ToWriter::at(source.clone(), Some(event), last_of_message.then_some(seq))
    }

    #[test]
    fn a_position_is_stored_only_with_the_last_event_of_its_message() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = EventLog::open(dir.path()).unwrap();
        let (a, b): (Arc<str>, Arc<str>) = (Arc::from("a"), Arc::from("b"));
        let metrics = IngestMetrics::default();
        // Message 7 of `a` is split across two batches, with `b` in between.
        flush(&mut log, &mut vec![item(&a, 6, true), item(&a, 7, false), item(&b, 3, true)], &metrics)
            .unwrap();
        assert_eq!(log.cursor("a").unwrap().unwrap().cursor, 6, "half of message 7 is not a position");
        assert_eq!(log.cursor("b").unwrap().unwrap().cursor, 3);
        let moves_only = ToWriter::at(a.clone(), None, None);
        flush(&mut log, &mut vec![item(&a, 7, true), moves_only], &metrics).unwrap();
        assert_eq!(log.cursor("a").unwrap().unwrap().cursor, 7);
        flush(&mut log, &mut vec![ToWriter::at(a.clone(), None, Some(9))], &metrics).unwrap();
        assert_eq!((log.cursor("a").unwrap().unwrap().cursor, log.head()), (9, 4), "a cursor alone moves");
    }

    #[test]
    fn a_replayed_position_never_moves_the_cursor_back_but_a_reset_does() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = EventLog::open(dir.path()).unwrap();
        let a: Arc<str> = Arc::from("a");
        let metrics = IngestMetrics::default();
        flush(&mut log, &mut vec![item(&a, 9, true)], &metrics).unwrap();
        flush(&mut log, &mut vec![item(&a, 4, true), item(&a, 5, true)], &metrics).unwrap();
        assert_eq!(log.cursor("a").unwrap().unwrap().cursor, 9, "a replay of 4 and 5");
        assert_eq!(metrics.cursors()["a"], 9);
        let reset = ToWriter::reset(a.clone(), Some(0));
        flush(&mut log, &mut vec![item(&a, 10, true), reset, item(&a, 2, true)], &metrics).unwrap();
        assert_eq!(log.cursor("a").unwrap().unwrap().cursor, 2, "the reset comes after 10, before 2");
        assert_eq!(metrics.cursors()["a"], 2);
    }
}
