//! The job runner: runs media jobs with bounded concurrency, retries retryable failures with exponential
//! backoff up to a maximum number of attempts, and reports every state change through [`JobEvents`] (the
//! worker appends them to the event log, so a rebuild never refetches and jobs survive restarts by replay).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
pub use reprise_events::media::{JobState, RenditionInfo};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

/// Jobs waiting for a slot; `submit` waits when it is full, which pushes back on whoever requests jobs.
pub const QUEUE_CAPACITY: usize = 1024;

/// One blob to make playable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaJob {
    /// The account whose PDS holds the blob.
    pub did: String,
    /// The blob CID (raw, sha2-256).
    pub cid: String,
    /// Attempts already made (before a restart): numbering and the attempt limit continue from here.
    pub attempts_done: u32,
}

impl MediaJob {
    /// A job nobody has attempted yet.
    pub fn new(did: impl Into<String>, cid: impl Into<String>) -> Self {
        Self { did: did.into(), cid: cid.into(), attempts_done: 0 }
    }
}

/// Receives job state changes (the worker appends them to the event log as `media` events).
pub trait JobEvents: Send + Sync {
    fn record(&self, cid: &str, state: JobState);
}

/// A failed attempt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct JobError {
    pub reason: String,
    /// Whether a later attempt may succeed.
    pub retryable: bool,
}

/// The work one attempt does.
#[async_trait]
pub trait JobWork: Send + Sync {
    async fn run(&self, job: &MediaJob, events: &dyn JobEvents) -> Result<(), JobError>;
}

/// Concurrency and retry policy.
#[derive(Debug, Clone, Copy)]
pub struct RunnerConfig {
    pub concurrency: usize,
    pub max_attempts: u32,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            concurrency: 2,
            max_attempts: 5,
            base_backoff: Duration::from_secs(30),
            max_backoff: Duration::from_secs(3600),
        }
    }
}

impl RunnerConfig {
    /// The wait before attempt `attempt + 1`: base doubled per attempt, capped.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(20));
        self.base_backoff.saturating_mul(factor).min(self.max_backoff)
    }
}

/// Hands jobs to the runner task.
#[derive(Debug, Clone)]
pub struct JobRunner {
    queue: mpsc::Sender<MediaJob>,
}

impl JobRunner {
    /// Start the runner; it stops once every `JobRunner` is dropped and the queued jobs are done.
    pub fn spawn(
        work: Arc<dyn JobWork>,
        events: Arc<dyn JobEvents>,
        config: RunnerConfig,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (queue, jobs) = mpsc::channel(QUEUE_CAPACITY);
        let handle = tokio::spawn(run(jobs, work, events, config));
        (Self { queue }, handle)
    }

    /// Queue a job (waits while the queue is full). Returns false when the runner has stopped.
    pub async fn submit(&self, job: MediaJob) -> bool {
        self.queue.send(job).await.is_ok()
    }
}

async fn run(
    mut jobs: mpsc::Receiver<MediaJob>,
    work: Arc<dyn JobWork>,
    events: Arc<dyn JobEvents>,
    config: RunnerConfig,
) {
    let slots = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let in_flight = Arc::new(Mutex::new(HashSet::new()));
    let mut tasks = JoinSet::new();
    while let Some(job) = jobs.recv().await {
        while tasks.try_join_next().is_some() {}
        let fresh =
            in_flight.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(job.cid.clone());
        if !fresh {
            continue;
        }
        events.record(&job.cid, JobState::Requested);
        let (work, events, slots, in_flight) =
            (work.clone(), events.clone(), slots.clone(), in_flight.clone());
        tasks.spawn(async move {
            attempt_until_done(&job, &*work, &*events, &slots, config).await;
            in_flight.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&job.cid);
        });
    }
    while tasks.join_next().await.is_some() {}
}

async fn attempt_until_done(
    job: &MediaJob,
    work: &dyn JobWork,
    events: &dyn JobEvents,
    slots: &Semaphore,
    config: RunnerConfig,
) {
    // A job resumed after a restart keeps its attempt count, but always gets at least one more attempt
    // (an explicit retry resets the count before resubmitting).
    let first = (job.attempts_done + 1).min(config.max_attempts.max(1));
    for attempt in first..=config.max_attempts.max(1) {
        let result = {
            let Ok(_slot) = slots.acquire().await else { return };
            work.run(job, events).await
        };
        let Err(err) = result else { return };
        let will_retry = err.retryable && attempt < config.max_attempts;
        events.record(&job.cid, JobState::Failed { reason: err.reason, attempt, will_retry });
        if !will_retry {
            return;
        }
        let wait = config.backoff(attempt);
        let at = SystemTime::now() + wait;
        let at_unix_ms = at.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
        events.record(&job.cid, JobState::RetryScheduled { at_unix_ms, attempt: attempt + 1 });
        tokio::time::sleep(wait).await;
    }
}
