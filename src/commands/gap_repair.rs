//! Gap repair inside `reprise run`: every `backfill.gap_repair_interval_secs`, if ingest has recorded
//! gaps not yet repaired (CursorTooOld, a host switch wider than the replay window, a blind host), the
//! repos the log knows are backfilled through their own log writer, exactly as `reprise backfill --gaps`
//! does. The projector sees those appends through its poll for other writers. A repo that could not be
//! fetched sits out passes for a while, longer with each failure in a row (see [`Backoff`]).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use reprise_events::{EventLog, Shutdown};
use reprise_ingest::backfill::{BackfillOptions, PdsClient};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::Config;

/// Starts the repair loop, or nothing when `backfill.gap_repair_interval_secs` is 0.
pub fn spawn(config: &Config, shutdown: Shutdown) -> anyhow::Result<Option<JoinHandle<()>>> {
    let every = config.backfill.gap_repair_interval_secs;
    if every == 0 {
        return Ok(None);
    }
    let (client, options) = super::backfill::prepare(config)?;
    tracing::info!(interval_seconds = every, "gap repair scheduled");
    let data_dir = config.data_dir.clone();
    Ok(Some(tokio::spawn(repair_loop(data_dir, client, options, Duration::from_secs(every), shutdown))))
}

async fn repair_loop(
    data_dir: PathBuf,
    client: Arc<PdsClient>,
    options: BackfillOptions,
    every: Duration,
    shutdown: Shutdown,
) {
    // The first pass comes one interval after start, not at once: a node starting up has ingest to resume first.
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut backoff = Backoff::new(every);
    loop {
        // When the tick was due, not when this task woke: a wait of n intervals measured from it ends on
        // the n-th tick after, not just past it.
        let at = tokio::select! {
            at = ticks.tick() => at,
            _ = shutdown.stopped() => return,
        };
        // A failed pass (the log busy) is logged and tried again at the next tick. Stopping drops a pass
        // in the middle: what it appended is durable, and its repos' progress with it.
        let pass = async {
            let log = EventLog::open(&data_dir)?;
            let waiting = |did: &str| backoff.waiting(did, at);
            super::backfill::repair_gaps(log, &data_dir, client.clone(), options.clone(), waiting).await
        };
        let outcome = tokio::select! {
            outcome = pass => outcome,
            _ = shutdown.stopped() => return,
        };
        match outcome {
            Ok(run) => {
                backoff.settle(&run.tried, at);
                let summary = run.summary;
                if summary["gaps"] != 0 {
                    tracing::info!(
                        gaps = summary["gaps"].as_u64(),
                        repos = summary["repos"].as_u64(),
                        failed = summary["failed"].as_u64(),
                        deferred = summary["deferred"].as_u64(),
                        appended = summary["appended"].as_u64(),
                        repaired = summary["gaps_repaired"].as_bool(),
                        "gap repair pass"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "gap repair pass failed"),
        }
    }
}

/// The longest a failing repo waits between tries, unless the interval itself is longer: a node offline
/// for weeks asks about each repo once a day, and one back online is repaired within a day.
const MAX_WAIT: Duration = Duration::from_secs(24 * 3600);

/// How long a repo that has failed `times` passes in a row waits before the next try: one interval after
/// the first failure (as if there were no backoff), doubling with each further one, up to [`MAX_WAIT`].
fn wait_after(times: u32, interval: Duration) -> Duration {
    let doubled = interval.saturating_mul(2u32.saturating_pow(times.saturating_sub(1)));
    doubled.min(MAX_WAIT.max(interval))
}

/// The repos that failed their last tries, and when each may be tried again. Kept in memory only: after
/// a restart every repo is tried at the first pass, which is what an operator restarting expects.
#[derive(Debug)]
struct Backoff {
    interval: Duration,
    failing: HashMap<String, Failing>,
}

#[derive(Debug, Clone, Copy)]
struct Failing {
    times: u32,
    until: Instant,
}

impl Backoff {
    fn new(interval: Duration) -> Self {
        Backoff { interval, failing: HashMap::new() }
    }

    /// Whether a pass at `at` leaves `did` out.
    fn waiting(&self, did: &str, at: Instant) -> bool {
        self.failing.get(did).is_some_and(|f| at < f.until)
    }

    /// Takes in a pass started at `at`: each repo it tried, and whether it failed. A success forgets the
    /// repo's failures.
    fn settle(&mut self, tried: &[(String, bool)], at: Instant) {
        for (did, failed) in tried {
            if !failed {
                self.failing.remove(did);
                continue;
            }
            let times = self.failing.get(did).map_or(1, |f| f.times + 1);
            let until = at + wait_after(times, self.interval);
            self.failing.insert(did.clone(), Failing { times, until });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIVE_MINUTES: Duration = Duration::from_secs(300);

    #[test]
    fn the_wait_doubles_from_one_interval_up_to_a_day() {
        let minutes = |times| wait_after(times, FIVE_MINUTES).as_secs() / 60;
        let waits: Vec<u64> = (1..=11).map(minutes).collect();
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 320, 640, 1280, 1440, 1440]);
        assert_eq!(minutes(u32::MAX), 1440, "no overflow after any number of failures");
        // An interval longer than the cap is never shortened: backoff only ever waits longer.
        let week = Duration::from_secs(7 * 86_400);
        assert_eq!([1, 2, 30].map(|t| wait_after(t, week)), [week; 3]);
    }

    /// The passes, numbered from 1 at one interval apart, at which `did` is tried, failing at those in
    /// `fails`; `other` fails at every pass it is tried at, so its backoff must not touch `did`'s.
    fn tried_at(passes: u32, fails: impl Fn(u32) -> bool) -> Vec<u32> {
        let start = Instant::now();
        let mut backoff = Backoff::new(FIVE_MINUTES);
        let mut tried = Vec::new();
        for pass in 1..=passes {
            let at = start + FIVE_MINUTES * pass;
            let mut outcomes = vec![("other".to_owned(), true)];
            if !backoff.waiting("did", at) {
                tried.push(pass);
                outcomes.push(("did".to_owned(), fails(pass)));
            }
            backoff.settle(&outcomes, at);
        }
        tried
    }

    #[test]
    fn a_failing_repo_sits_out_more_passes_after_each_failure_and_none_after_a_success() {
        assert_eq!(tried_at(40, |_| true), [1, 2, 4, 8, 16, 32]);
        assert_eq!(tried_at(6, |_| false), [1, 2, 3, 4, 5, 6]);
        // Back after pass 8: the next failure waits one interval again.
        assert_eq!(tried_at(20, |pass| pass != 8), [1, 2, 4, 8, 9, 10, 12, 16]);
    }
}
