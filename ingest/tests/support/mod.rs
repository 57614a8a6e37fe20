//! A streaming ingest (Jetstream or firehose) running in the test's runtime: start it on a log, wait for
//! the log's head, stop it and get the log back.

#![allow(dead_code)]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use reprise_events::{EventLog, Shutdown};
use reprise_ingest::{IngestError, IngestMetrics};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Every waiting step gives up after this long, so a broken client fails instead of hanging.
pub const PATIENCE: Duration = Duration::from_secs(30);

pub struct Following {
    shutdown: Shutdown,
    task: JoinHandle<Result<EventLog, IngestError>>,
    pub head: watch::Receiver<i64>,
    pub metrics: Arc<IngestMetrics>,
}

impl Following {
    /// Runs `run(log, metrics, shutdown)` as a task, watching the log's head.
    pub fn spawn<F, Fut>(log: EventLog, run: F) -> Following
    where
        F: FnOnce(EventLog, Arc<IngestMetrics>, Shutdown) -> Fut,
        Fut: Future<Output = Result<EventLog, IngestError>> + Send + 'static,
    {
        let head = log.subscribe();
        let metrics = Arc::new(IngestMetrics::default());
        let shutdown = Shutdown::new();
        let task = tokio::spawn(run(log, metrics.clone(), shutdown.clone()));
        Following { shutdown, task, head, metrics }
    }

    pub async fn wait_head(&mut self, n: i64) {
        let ok =
            tokio::time::timeout(PATIENCE, self.head.wait_for(|h| *h >= n)).await.is_ok_and(|r| r.is_ok());
        assert!(ok, "log head stayed at {} (wanted {n})", *self.head.borrow());
    }

    pub async fn stop(self) -> EventLog {
        self.shutdown.stop();
        self.task.await.unwrap().unwrap()
    }
}
