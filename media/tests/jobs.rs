//! The job runner with scripted work on tokio's paused clock: backoff between retries, the attempt limit,
//! non-retryable failures, bounded concurrency and duplicate suppression.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use reprise_media::jobs::{JobError, JobEvents, JobRunner, JobState, JobWork, MediaJob, RunnerConfig};
use tokio::time::Instant;

#[derive(Default)]
struct Recorder(Mutex<Vec<(String, JobState)>>);

impl JobEvents for Recorder {
    fn record(&self, cid: &str, state: JobState) {
        self.0.lock().expect("lock").push((cid.to_owned(), state));
    }
}

impl Recorder {
    /// The states recorded, reduced to their names and attempts.
    fn names(&self) -> Vec<String> {
        self.0
            .lock()
            .expect("lock")
            .iter()
            .map(|(_, s)| match s {
                JobState::Failed { attempt, will_retry, .. } => {
                    format!("failed#{attempt}{}", if *will_retry { "+" } else { "" })
                }
                JobState::RetryScheduled { attempt, .. } => format!("retry#{attempt}"),
                other => format!("{other:?}").to_lowercase(),
            })
            .collect()
    }
}

/// Fails `failures` times (retryably or not), then succeeds; each attempt takes one second.
struct Scripted {
    failures: u32,
    retryable: bool,
    attempts: AtomicU32,
    running: AtomicUsize,
    max_running: AtomicUsize,
}

impl Scripted {
    fn new(failures: u32, retryable: bool) -> Arc<Self> {
        Arc::new(Self { failures, retryable, attempts: 0.into(), running: 0.into(), max_running: 0.into() })
    }
}

#[async_trait]
impl JobWork for Scripted {
    async fn run(&self, _job: &MediaJob, _events: &dyn JobEvents) -> Result<(), JobError> {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_running.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(1)).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        let attempt = self.attempts.fetch_add(1, Ordering::SeqCst) + 1;
        if attempt <= self.failures {
            return Err(JobError { reason: format!("attempt {attempt} failed"), retryable: self.retryable });
        }
        Ok(())
    }
}

fn config() -> RunnerConfig {
    RunnerConfig {
        concurrency: 2,
        max_attempts: 3,
        base_backoff: Duration::from_secs(10),
        max_backoff: Duration::from_secs(15),
    }
}

fn job(cid: &str) -> MediaJob {
    MediaJob::new("did:plc:ewvi7nxzyoun6zhxrhs64oiz", cid)
}

async fn run_jobs(work: Arc<Scripted>, jobs: &[&str]) -> (Arc<Recorder>, Duration) {
    let events = Arc::new(Recorder::default());
    let started = Instant::now();
    let (runner, handle) = JobRunner::spawn(work, events.clone(), config());
    for cid in jobs {
        assert!(runner.submit(job(cid)).await);
    }
    drop(runner);
    handle.await.expect("runner");
    (events, started.elapsed())
}

#[tokio::test(start_paused = true)]
async fn retryable_failures_back_off_then_succeed() {
    let work = Scripted::new(2, true);
    let (events, took) = run_jobs(work.clone(), &["a"]).await;
    assert_eq!(events.names(), ["requested", "failed#1+", "retry#2", "failed#2+", "retry#3"]);
    assert_eq!(work.attempts.load(Ordering::SeqCst), 3);
    assert_eq!(
        took,
        Duration::from_secs(3 + 10 + 15),
        "three attempts, backoff 10 s then 20 s capped at 15 s"
    );
}

#[tokio::test(start_paused = true)]
async fn a_job_stops_after_the_last_attempt() {
    let work = Scripted::new(u32::MAX, true);
    let (events, _) = run_jobs(work.clone(), &["a"]).await;
    assert_eq!(events.names(), ["requested", "failed#1+", "retry#2", "failed#2+", "retry#3", "failed#3"]);
}

#[tokio::test(start_paused = true)]
async fn a_non_retryable_failure_is_final() {
    let work = Scripted::new(1, false);
    let (events, _) = run_jobs(work.clone(), &["a"]).await;
    assert_eq!(events.names(), ["requested", "failed#1"]);
    assert_eq!(work.attempts.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn concurrency_is_bounded_and_duplicates_are_dropped() {
    let work = Scripted::new(0, true);
    let (events, took) = run_jobs(work.clone(), &["a", "b", "c", "a", "d", "e", "f"]).await;
    assert_eq!(work.max_running.load(Ordering::SeqCst), 2);
    assert_eq!(work.attempts.load(Ordering::SeqCst), 6, "the second `a` arrived while `a` was in flight");
    assert_eq!(events.names().len(), 6);
    assert_eq!(took, Duration::from_secs(3), "six one-second jobs, two at a time");
}

#[test]
fn backoff_doubles_and_is_capped() {
    let config = RunnerConfig {
        base_backoff: Duration::from_secs(1),
        max_backoff: Duration::from_secs(60),
        ..config()
    };
    let waits: Vec<u64> = (1..=8).map(|a| config.backoff(a).as_secs()).collect();
    assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
    assert_eq!(config.backoff(u32::MAX), Duration::from_secs(60));
}

#[tokio::test(start_paused = true)]
async fn a_job_resumed_after_a_restart_continues_its_attempt_count() {
    let work = Scripted::new(u32::MAX, true);
    let events = Arc::new(Recorder::default());
    let (runner, handle) = JobRunner::spawn(work.clone(), events.clone(), config());
    assert!(runner.submit(MediaJob { attempts_done: 2, ..job("a") }).await);
    assert!(runner.submit(MediaJob { attempts_done: 7, ..job("b") }).await);
    drop(runner);
    handle.await.expect("runner");
    let names = events.names();
    assert_eq!(names, ["requested", "requested", "failed#3", "failed#3"], "two done of three: one more each");
    assert_eq!(work.attempts.load(Ordering::SeqCst), 2);
}
