//! The media stage of `reprise run`, and `reprise media retry`.
//!
//! The worker reads unfinished jobs from the read models (`media_jobs`: blobs the projector saw on valid
//! track versions, and jobs left mid-way by a restart or re-requested by `media retry`), runs them through
//! `reprise_media`'s job runner (bounded concurrency, backoff, attempt limit), and appends every state
//! change to the log as a `media` event through its own log writer on one thread. The projector folds
//! those events back into `media_jobs` and `renditions`, so the log is the only record of what was
//! fetched: a rebuild never refetches, and a restart resumes from what the log says.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use reprise_atproto_net::{GuardedHttp, IdentityResolver, NetPolicy};
use reprise_events::media::{JobState, MediaEvent};
use reprise_events::{EventLog, NewEvent, now_us};
use reprise_media::jobs::{JobEvents, JobRunner, MediaJob};
use reprise_media::pipeline::MediaPipeline;
use reprise_media::transcode::{Limits, Transcoder};
use reprise_projector::VIEWS_FILE;
use reprise_projector::media_jobs::{MediaReader, OpenJob};
use serde_json::json;
use tokio::sync::watch;

use crate::config::Config;

/// The `source` of every media event in the log.
pub const SOURCE: &str = "media";

/// How often the worker looks for work when nothing wakes it (retries due, `media retry` from outside).
const POLL: Duration = Duration::from_secs(1);

/// `reprise media retry CID`: append a manual `requested` event; the worker of a running (or the next)
/// `reprise run` picks it up, even for a job that stopped after its last attempt.
pub fn retry(config: &Config, cid: &str) -> anyhow::Result<()> {
    reprise_media::fetch::parse_blob_cid(cid)
        .map_err(|e| anyhow::anyhow!("{cid:?} is not a blob CID: {e}"))?;
    let views = config.data_dir.join(VIEWS_FILE);
    if !views.exists() {
        bail!("no read models at {}: run `reprise project` or `reprise run` first", views.display());
    }
    let Some(job) = MediaReader::open(&views)?.job(cid)? else {
        bail!("no indexed track carries the blob {cid}");
    };
    let mut log = EventLog::open(&config.data_dir)?;
    let event =
        MediaEvent::new(cid, &job.did, JobState::Requested, now_us()).with_uri(job.uri.clone()).manual();
    let out = log.append(SOURCE, &[event.to_log_event()], None)?;
    println!(
        "{}",
        json!({"cid": cid, "did": job.did, "uri": job.uri, "previous_state": job.state,
               "attempts": job.attempts, "seq": out.head})
    );
    Ok(())
}

/// What the worker knows about the jobs it runs.
#[derive(Default)]
struct Ledger {
    /// Blobs submitted and not finished yet, with the account and track their events name.
    running: HashMap<String, (String, Option<String>)>,
    /// The log's head after the last event this worker appended for a blob: a read-model row not newer
    /// than that only shows this worker's own progress, not a new request.
    written: HashMap<String, i64>,
}

/// Appends job state changes to the log from one thread (appends fsync; the runner's tasks must not).
struct LogSink {
    ledger: Arc<Mutex<Ledger>>,
    queue: std::sync::mpsc::Sender<(String, NewEvent, bool)>,
}

impl JobEvents for LogSink {
    fn record(&self, cid: &str, state: JobState) {
        let finished = state.is_finished();
        let (did, uri) = lock(&self.ledger).running.get(cid).cloned().unwrap_or_default();
        let event = MediaEvent::new(cid, did, state, now_us()).with_uri(uri);
        let _ = self.queue.send((cid.to_owned(), event.to_log_event(), finished));
    }
}

fn lock(ledger: &Mutex<Ledger>) -> std::sync::MutexGuard<'_, Ledger> {
    ledger.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The writer thread: batches whatever is queued into one append; reopens the log after a failed append
/// (a failed commit poisons a handle) and tries the batch again, so no state change is lost while the
/// process lives.
fn write_events(
    data_dir: PathBuf,
    queue: std::sync::mpsc::Receiver<(String, NewEvent, bool)>,
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
                Some(l) => EventLog::append(l, SOURCE, &events, None).map_err(anyhow::Error::from),
                None => EventLog::open(&data_dir).map_err(anyhow::Error::from).and_then(|l| {
                    let l = log.insert(l);
                    Ok(l.append(SOURCE, &events, None)?)
                }),
            };
            match result {
                Ok(out) => break out.head,
                Err(e) => {
                    tracing::error!(error = %e, "appending media events failed; retrying");
                    log = None;
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(Duration::from_secs(5));
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

/// The running media stage: the log head it moves (the projector waits on it too) and its handles.
pub struct MediaStage {
    pub head: watch::Receiver<i64>,
    worker: tokio::task::JoinHandle<anyhow::Result<()>>,
    writer: std::thread::JoinHandle<()>,
}

impl MediaStage {
    /// Stops taking new work and drops jobs in flight (their last state is in the log; the next start
    /// resumes them), then waits for the queued state changes to reach the log.
    pub async fn stop(self) -> anyhow::Result<()> {
        let result = self.worker.await.context("media worker task")?;
        tokio::task::spawn_blocking(move || self.writer.join()).await?.ok();
        result
    }
}

/// The pipeline the configuration describes. The PLC directory is the operator's choice, so its address
/// is allowed even when private; PDS endpoints come from DID documents and get the strict policy.
async fn pipeline(config: &Config) -> anyhow::Result<MediaPipeline> {
    let media = &config.media;
    let plc = url::Url::parse(&config.identity.plc_url)?;
    let plc_host = plc.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
    let plc_port = plc.port_or_known_default().unwrap_or(443);
    let plc_addrs: Vec<_> = match tokio::net::lookup_host((plc_host, plc_port)).await {
        Ok(addrs) => addrs.collect(),
        Err(e) => {
            tracing::warn!(error = %e, plc = %plc, "cannot resolve the PLC directory now");
            Vec::new()
        }
    };
    let identity_policy =
        NetPolicy { allow_private_networks: media.allow_private_networks, allowed_addrs: plc_addrs };
    let http = GuardedHttp::new(identity_policy, media.connect_timeout(), media.read_timeout());
    let identity =
        IdentityResolver::new(&config.identity, http).map_err(|e| anyhow::anyhow!("identity: {e}"))?;
    Ok(MediaPipeline {
        identity: Arc::new(identity),
        fetcher: reprise_media::fetch::BlobFetcher::new(media),
        transcoder: Transcoder::new(media.transcoder, Limits::default()),
        store: crate::config::open_store(config)?,
    })
}

/// Starts the media stage. `checkpoint` moves when the projector has applied more of the log.
pub async fn start(
    config: &Config,
    checkpoint: watch::Receiver<i64>,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<MediaStage> {
    let pipeline = pipeline(config).await?;
    let identity = pipeline.identity.clone();
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let (queue, events) = std::sync::mpsc::channel();
    let (head_tx, head) = watch::channel(0);
    let writer = {
        let (data_dir, ledger) = (config.data_dir.clone(), ledger.clone());
        std::thread::Builder::new()
            .name("media-log-writer".into())
            .spawn(move || write_events(data_dir, events, ledger, head_tx))?
    };
    let sink = Arc::new(LogSink { ledger: ledger.clone(), queue });
    let (runner, runner_task) = JobRunner::spawn(Arc::new(pipeline), sink, config.media.runner());
    let views = config.data_dir.join(VIEWS_FILE);
    let worker = tokio::spawn(async move {
        let result = work(views, runner, ledger, identity, checkpoint, stop).await;
        // In-flight jobs are abandoned here; the log already says how far each got.
        runner_task.abort();
        let _ = runner_task.await;
        result
    });
    Ok(MediaStage { head, worker, writer })
}

async fn work(
    views: PathBuf,
    runner: JobRunner,
    ledger: Arc<Mutex<Ledger>>,
    identity: Arc<IdentityResolver>,
    mut checkpoint: watch::Receiver<i64>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let reader = open_reader(&views).await?;
    let mut identity_seq = reader.lock().unwrap_or_else(std::sync::PoisonError::into_inner).checkpoint()?;
    loop {
        let (jobs, stale, last) = {
            let reader = reader.clone();
            tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
                let r = reader.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let (stale, last) = r.identity_changes(identity_seq)?;
                Ok((r.open_jobs()?, stale, last))
            })
            .await??
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
            _ = stop.wait_for(|s| *s) => return Ok(()),
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

fn submit(runner: &JobRunner, job: OpenJob, stop: &watch::Receiver<bool>) {
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
    let (runner, mut stop) = (runner.clone(), stop.clone());
    tokio::spawn(async move {
        let due = tokio::select! {
            _ = tokio::time::sleep(wait) => true,
            _ = stop.wait_for(|s| *s) => false,
        };
        if due {
            runner.submit(media_job).await;
        }
    });
}

async fn open_reader(views: &Path) -> anyhow::Result<Arc<Mutex<MediaReader>>> {
    let views = views.to_owned();
    let reader = tokio::task::spawn_blocking(move || MediaReader::open(&views)).await??;
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
