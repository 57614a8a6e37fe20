//! `reprise backfill`: fetch repos whole from their PDSes into the log (see reprise_ingest::backfill).

use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;
use reprise_atproto_net::{GuardedHttp, IdentityResolver, NetPolicy};
use reprise_events::EventLog;
use reprise_ingest::backfill::{
    BackfillOptions, BackfillReport, HostLimits, PdsClient, Progress, RepoOutcome, Target, plan_gap_repair,
    run_backfill,
};

use crate::config::Config;

/// Which repos the command line asked for.
pub enum Repos {
    Target(Target),
    /// Every repo the log knows, if the log holds gap events not yet repaired.
    Gaps,
}

impl Repos {
    pub fn of(dids: Vec<String>, collection: Option<String>, relay: Option<String>, gaps: bool) -> Self {
        match (collection, relay) {
            _ if gaps => Repos::Gaps,
            (Some(collection), Some(relay)) => Repos::Target(Target::Collection { collection, relay }),
            _ => Repos::Target(Target::Dids(dids)),
        }
    }
}

/// The PDS client and options every backfill uses, from `[backfill]`, `[identity]` and `[ingest]`.
pub(crate) fn prepare(config: &Config) -> anyhow::Result<(Arc<PdsClient>, BackfillOptions)> {
    let b = &config.backfill;
    let policy =
        NetPolicy { allow_private_networks: config.media.allow_private_networks, allowed_addrs: vec![] };
    let http = GuardedHttp::new(
        policy,
        Duration::from_millis(b.connect_timeout_ms),
        Duration::from_millis(b.read_timeout_ms),
    );
    let identity =
        IdentityResolver::new(&config.identity, http.clone()).context("configuration `identity`")?;
    let limits = HostLimits {
        concurrency: b.host_concurrency,
        requests_per_second: b.host_requests_per_second,
        retries: b.retries,
        backoff_initial: Duration::from_millis(b.backoff_initial_ms),
    };
    let client = Arc::new(PdsClient::new(http, identity, limits));
    let options = BackfillOptions {
        wanted_collections: config.ingest.wanted_collections.clone(),
        max_repo_bytes: b.max_repo_bytes,
        concurrency: b.concurrency,
        batch_size: config.ingest.batch_size,
    };
    Ok((client, options))
}

/// Exit 0 when every repo is done or skipped, 1 when any was refused or could not be fetched.
pub fn backfill(config: &Config, repos: Repos) -> anyhow::Result<ExitCode> {
    let (client, options) = prepare(config)?;
    let data_dir = config.data_dir.clone();
    let summary = super::run::runtime()?.block_on(async move {
        let log = EventLog::open(&data_dir)?;
        match repos {
            Repos::Target(target) => {
                let (report, log) =
                    run_backfill(log, &data_dir, client, target, options, log_outcome).await?;
                finished(&report, &log)
            }
            Repos::Gaps => Ok(repair_gaps(log, &data_dir, client, options, |_| false).await?.summary),
        }
    })?;
    println!("{summary}");
    let bad = summary["failed"].as_u64().unwrap_or(0) + summary["rejected"].as_u64().unwrap_or(0);
    Ok(if bad == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// What a gap repair did: its summary, and each repo it tried with whether that repo failed (could not
/// be fetched or resolved, so it may have missed the gap).
pub(crate) struct GapRepairRun {
    pub summary: serde_json::Value,
    pub tried: Vec<(String, bool)>,
}

/// Backfills every repo the log knows, except those `waiting` holds back, if the log holds gap events
/// not yet repaired, and marks them repaired when every repo was tried and none failed (a later pass
/// tries the rest). The summary says what was done; `gaps` is 0 when there was nothing to repair.
pub(crate) async fn repair_gaps(
    log: EventLog,
    data_dir: &Path,
    client: Arc<PdsClient>,
    options: BackfillOptions,
    waiting: impl Fn(&str) -> bool,
) -> anyhow::Result<GapRepairRun> {
    let Some(plan) = plan_gap_repair(&log.reader()?, &Progress::open(data_dir)?)? else {
        let summary = serde_json::json!({"gaps": 0, "repos": 0, "head": log.head()});
        return Ok(GapRepairRun { summary, tried: Vec::new() });
    };
    let (due, held): (Vec<String>, Vec<String>) = plan.dids.iter().cloned().partition(|d| !waiting(d));
    let tried = Arc::new(Mutex::new(Vec::new()));
    let on_repo = {
        let tried = tried.clone();
        move |did: &str, outcome: &RepoOutcome, n: (usize, usize)| {
            log_outcome(did, outcome, n);
            let failed = matches!(outcome, RepoOutcome::Failed { .. });
            tried.lock().unwrap_or_else(PoisonError::into_inner).push((did.to_owned(), failed));
        }
    };
    let (report, log) = run_backfill(log, data_dir, client, Target::Dids(due), options, on_repo).await?;
    let mut summary = finished(&report, &log)?;
    summary["gaps"] = plan.gaps.into();
    summary["deferred"] = held.len().into();
    let repaired = report.failed == 0 && held.is_empty();
    if repaired {
        Progress::open(data_dir)?.mark_gaps_repaired(plan.through_seq, plan.gaps, report.repos)?;
    }
    summary["gaps_repaired"] = repaired.into();
    let tried = std::mem::take(&mut *tried.lock().unwrap_or_else(PoisonError::into_inner));
    Ok(GapRepairRun { summary, tried })
}

fn finished(report: &BackfillReport, log: &EventLog) -> anyhow::Result<serde_json::Value> {
    tracing::info!(repos = report.repos, done = report.done, appended = report.appended, "backfill finished");
    let mut summary = serde_json::to_value(report)?;
    summary["head"] = log.head().into();
    Ok(summary)
}

/// One log line per repo, counting settled repos of the total: the progress display (a line per repo
/// rather than a redrawn bar, so it reads the same in a terminal, a pipe and a JSON log), and what tests
/// synchronise on.
fn log_outcome(did: &str, outcome: &RepoOutcome, (n, of): (usize, usize)) {
    match outcome {
        RepoOutcome::Done { rev, records, absent, appended, duplicates } => {
            tracing::info!(n, of, did, rev, records, absent, appended, duplicates, "repo backfilled")
        }
        RepoOutcome::Skipped { rev } => tracing::info!(n, of, did, rev, "repo already backfilled at its rev"),
        RepoOutcome::Rejected { reason } => tracing::warn!(n, of, did, reason, "repo refused"),
        RepoOutcome::Failed { reason } => tracing::warn!(n, of, did, reason, "repo not fetched"),
    }
}
