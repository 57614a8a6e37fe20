//! The worker's side of the log: job state changes become `media` events, appended from one thread
//! (appends fsync; the runner's tasks must not), and the ledger that tells the worker's own progress from
//! new requests.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reprise_events::media::{JobState, MediaEvent};
use reprise_events::{EventLog, NewEvent, now_us};
use tokio::sync::watch;

use super::SOURCE;
use crate::jobs::JobEvents;

/// Longest wait between two tries of a failed append.
const MAX_APPEND_WAIT: Duration = Duration::from_secs(5);

/// What the worker knows about the jobs it runs.
#[derive(Debug, Default)]
pub(super) struct Ledger {
    /// Blobs submitted and not finished yet, with the account and track their events name.
    pub running: HashMap<String, (String, Option<String>)>,
    /// The log's head after the last event this worker appended for a blob: a read-model row not newer
    /// than that only shows this worker's own progress, not a new request.
    pub written: HashMap<String, i64>,
}

pub(super) fn lock(ledger: &Mutex<Ledger>) -> std::sync::MutexGuard<'_, Ledger> {
    ledger.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One queued append: the blob, its event, and whether it finishes the job.
type Queued = (String, NewEvent, bool);

/// Receives the runner's state changes and queues them for the writer thread.
pub(super) struct LogSink {
    ledger: Arc<Mutex<Ledger>>,
    queue: Sender<Queued>,
}

impl JobEvents for LogSink {
    fn record(&self, cid: &str, state: JobState) {
        let finished = state.is_finished();
        let (did, uri) = lock(&self.ledger).running.get(cid).cloned().unwrap_or_default();
        let event = MediaEvent::new(cid, did, state, now_us()).with_uri(uri);
        let _ = self.queue.send((cid.to_owned(), event.to_log_event(), finished));
    }
}

/// Starts the writer thread on the log in `data_dir`: the sink the runner reports to, the thread, and
/// the log head it moves after each append.
pub(super) fn spawn(
    data_dir: &Path,
    ledger: Arc<Mutex<Ledger>>,
) -> std::io::Result<(LogSink, std::thread::JoinHandle<()>, watch::Receiver<i64>)> {
    let (queue, events) = std::sync::mpsc::channel();
    let (head_tx, head) = watch::channel(0);
    let thread = {
        let (data_dir, ledger) = (data_dir.to_owned(), ledger.clone());
        std::thread::Builder::new()
            .name("media-log-writer".into())
            .spawn(move || write_events(data_dir, events, ledger, head_tx))?
    };
    Ok((LogSink { ledger, queue }, thread, head))
}

/// The writer thread: batches whatever is queued into one append; reopens the log after a failed append
/// (a failed commit poisons a handle) and tries the batch again, so no state change is lost while the
/// process lives. It ends when every sink is dropped.
fn write_events(
    data_dir: PathBuf,
    queue: Receiver<Queued>,
    ledger: Arc<Mutex<Ledger>>,
    head: watch::Sender<i64>,
) {
    let mut log = None;
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        batch.extend(queue.try_iter());
        let events: Vec<NewEvent> = batch.iter().map(|(_, e, _)| e.clone()).collect();
        let mut wait = Duration::from_millis(50);
        let seq = loop {
            let result = match &mut log {
                Some(l) => EventLog::append(l, SOURCE, &events, None),
                None => EventLog::open(&data_dir).and_then(|l| log.insert(l).append(SOURCE, &events, None)),
            };
            match result {
                Ok(out) => break out.head,
                Err(e) => {
                    tracing::error!(error = %e, "appending media events failed; retrying");
                    log = None;
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(MAX_APPEND_WAIT);
                }
            }
        };
        let mut ledger = lock(&ledger);
        for (cid, _, finished) in &batch {
            ledger.written.insert(cid.clone(), seq);
            if *finished {
                ledger.running.remove(cid);
            }
        }
        drop(ledger);
        head.send_replace(seq);
    }
}
