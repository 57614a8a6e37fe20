//! The media worker: the loop that makes indexed tracks playable, between the read models and the log.
//!
//! It reads unfinished jobs from the read models (`media_jobs`, through the projector's read-only
//! [`MediaReader`]: blobs the projector saw on valid track versions, and jobs left mid-way by a restart or
//! re-requested by [`request_retry`]), runs them through the job runner (bounded concurrency, backoff,
//! attempt limit), and appends every state change to the log as a `media` event through its own log
//! writer on one thread ([`writer`]). The projector folds those events back into `media_jobs` and
//! `renditions`, so the log is the only record of what was fetched: a rebuild never refetches, and a
//! restart resumes from what the log says. Identity events the read models have seen since the last look
//! make the resolver forget those DIDs' cached documents.

mod retry;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reprise_atproto_net::IdentityResolver;
use reprise_events::{LogError, Shutdown};
use reprise_projector::media_jobs::{MediaReader, OpenJob};
use reprise_projector::{ProjectorError, VIEWS_FILE};
use tokio::sync::watch;

pub use retry::{RetryRequested, request_retry};
use writer::{Ledger, lock};

use crate::jobs::{JobRunner, MediaJob, RunnerConfig};
use crate::pipeline::MediaPipeline;

/// The `source` of every media event in the log.
pub const SOURCE: &str = "media";

/// How often the worker looks for work when nothing wakes it (retries due, `media retry` from outside).
const POLL: Duration = Duration::from_secs(1);

/// What stops the worker or a retry request.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Views(#[from] ProjectorError),
    #[error("{cid:?} is not a blob CID: {reason}")]
    NotABlob { cid: String, reason: String },
    #[error("no read models at {}: run `reprise project` or `reprise run` first", .0.display())]
    NoViews(PathBuf),
    #[error("no indexed track carries the blob {0}")]
    NoJob(String),
    #[error("media worker task: {0}")]
    Task(String),
}

/// The running worker: the log head it moves (the projector waits on it too) and its handles.
#[derive(Debug)]
pub struct MediaWorker {
    pub head: watch::Receiver<i64>,
    worker: tokio::task::JoinHandle<Result<(), WorkerError>>,
    writer: std::thread::JoinHandle<()>,
}

impl MediaWorker {
    /// Waits for the stop signal to take effect: no new work is taken and jobs in flight are dropped
    /// (their last state is in the log; the next start resumes them), then the queued state changes reach
    /// the log.
    pub async fn stop(self) -> Result<(), WorkerError> {
        let result = self.worker.await.map_err(|e| WorkerError::Task(e.to_string()))?;
        tokio::task::spawn_blocking(move || self.writer.join())
            .await
            .map_err(|e| WorkerError::Task(e.to_string()))?
            .ok();
        result
    }
}

/// Starts the worker on the log and read models in `data_dir`. `checkpoint` moves when the projector has
/// applied more of the log; the worker stops once `stop` is stopped.
pub fn start(
    data_dir: &Path,
    pipeline: MediaPipeline,
    runner: RunnerConfig,
    checkpoint: watch::Receiver<i64>,
    stop: Shutdown,
) -> Result<MediaWorker, WorkerError> {
    let identity = pipeline.identity.clone();
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let (sink, writer, head) = writer::spawn(data_dir, ledger.clone())
        .map_err(|e| WorkerError::Task(format!("media log writer thread: {e}")))?;
    let (runner, runner_task) = JobRunner::spawn(Arc::new(pipeline), Arc::new(sink), runner);
    let views = data_dir.join(VIEWS_FILE);
    let worker = tokio::spawn(async move {
        let result = work(views, runner, ledger, identity, checkpoint, stop).await;
        // In-flight jobs are abandoned here; the log already says how far each got.
        runner_task.abort();
        let _ = runner_task.await;
        result
    });
    Ok(MediaWorker { head, worker, writer })
}

async fn work(
    views: PathBuf,
    runner: JobRunner,
    ledger: Arc<Mutex<Ledger>>,
    identity: Arc<IdentityResolver>,
    mut checkpoint: watch::Receiver<i64>,
    stop: Shutdown,
) -> Result<(), WorkerError> {
    let reader = open_reader(&views).await?;
    let mut identity_seq = reader.lock().unwrap_or_else(std::sync::PoisonError::into_inner).checkpoint()?;
    loop {
        let (jobs, stale, last) = {
            let reader = reader.clone();
            tokio::task::spawn_blocking(move || -> Result<_, WorkerError> {
                let r = reader.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let (stale, last) = r.identity_changes(identity_seq)?;
                Ok((r.open_jobs()?, stale, last))
            })
            .await
            .map_err(|e| WorkerError::Task(e.to_string()))??
        };
        identity_seq = last;
        for did in stale {
            identity.invalidate(&did);
        }
        for job in jobs {
            if let Some(job) = claim(&ledger, job) {
                submit(&runner, job, &stop);
            }
        }
        tokio::select! {
            _ = checkpoint.changed() => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = stop.stopped() => return Ok(()),
        }
    }
}

/// Takes a job the read model shows unless this worker already runs it or the row only reflects this
/// worker's own events.
fn claim(ledger: &Mutex<Ledger>, job: OpenJob) -> Option<OpenJob> {
    let mut ledger = lock(ledger);
    if ledger.running.contains_key(&job.cid)
        || ledger.written.get(&job.cid).is_some_and(|s| *s >= job.updated_seq)
    {
        return None;
    }
    ledger.running.insert(job.cid.clone(), (job.did.clone(), job.uri.clone()));
    Some(job)
}

fn submit(runner: &JobRunner, job: OpenJob, stop: &Shutdown) {
    // A retry that was scheduled before a restart still waits for its time.
    let wait = job
        .retry_at_ms
        .filter(|_| job.state == "retry_scheduled")
        .map(|at| {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
            Duration::from_millis(at.saturating_sub(now).max(0) as u64)
        })
        .unwrap_or_default();
    tracing::info!(cid = %job.cid, did = %job.did, state = %job.state, attempts = job.attempts, "media job submitted");
    let media_job = MediaJob { did: job.did, cid: job.cid, attempts_done: job.attempts };
    let (runner, stopped) = (runner.clone(), stop.stopped());
    tokio::spawn(async move {
        let due = tokio::select! {
            _ = tokio::time::sleep(wait) => true,
            _ = stopped => false,
        };
        if due {
            runner.submit(media_job).await;
        }
    });
}

async fn open_reader(views: &Path) -> Result<Arc<Mutex<MediaReader>>, WorkerError> {
    let views = views.to_owned();
    let reader = tokio::task::spawn_blocking(move || MediaReader::open(&views))
        .await
        .map_err(|e| WorkerError::Task(e.to_string()))??;
    Ok(Arc::new(Mutex::new(reader)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(cid: &str, state: &str, updated_seq: i64) -> OpenJob {
        OpenJob {
            cid: cid.into(),
            did: "did:plc:a".into(),
            uri: None,
            state: state.into(),
            attempts: 0,
            retry_at_ms: None,
            updated_seq,
        }
    }

    #[test]
    fn a_job_is_claimed_once_and_own_progress_is_not_a_new_request() {
        let ledger = Mutex::new(Ledger::default());
        assert!(claim(&ledger, job("a", "needed", 10)).is_some());
        assert!(claim(&ledger, job("a", "needed", 10)).is_none(), "already running");

        // The job finished at seq 14; the read model still lags at its `requested` (seq 12).
        {
            let mut l = lock(&ledger);
            l.running.remove("a");
            l.written.insert("a".into(), 14);
        }
        assert!(claim(&ledger, job("a", "requested", 12)).is_none(), "only this worker's own progress");
        assert!(claim(&ledger, job("a", "requested", 20)).is_some(), "a retry appended after it");
    }
}
