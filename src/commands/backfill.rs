//! `reprise backfill`: fetch repos whole from their PDSes into the log (see reprise_ingest::backfill).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use reprise_events::EventLog;
use reprise_ingest::backfill::{
    BackfillOptions, HostLimits, PdsClient, Progress, RepoOutcome, Target, plan_gap_repair, run_backfill,
};
use reprise_media::identity::IdentityResolver;
use reprise_media::net::{GuardedHttp, NetPolicy};

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

/// Exit 0 when every repo is done or skipped, 1 when any was refused or could not be fetched.
pub fn backfill(config: &Config, repos: Repos) -> anyhow::Result<ExitCode> {
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
    let log = EventLog::open(&config.data_dir)?;
    let (target, repair) = match repos {
        Repos::Target(target) => (target, None),
        Repos::Gaps => match plan_gap_repair(&log.reader()?, &Progress::open(&config.data_dir)?)? {
            Some(plan) => (Target::Dids(plan.dids.clone()), Some(plan)),
            None => {
                println!("{}", serde_json::json!({"gaps": 0, "repos": 0, "head": log.head()}));
                return Ok(ExitCode::SUCCESS);
            }
        },
    };
    let data_dir = config.data_dir.clone();
    let (report, log) = super::run::runtime()?
        .block_on(async move { run_backfill(log, &data_dir, client, target, options, log_outcome).await })?;
    tracing::info!(repos = report.repos, done = report.done, appended = report.appended, "backfill finished");
    let mut summary = serde_json::to_value(&report)?;
    summary["head"] = log.head().into();
    if let Some(plan) = repair {
        summary["gaps"] = plan.gaps.into();
        // Repos that could not be fetched may have missed the gap: leave it to the next run.
        if report.failed == 0 {
            Progress::open(&config.data_dir)?.mark_gaps_repaired(
                plan.through_seq,
                plan.gaps,
                report.repos,
            )?;
        }
        summary["gaps_repaired"] = (report.failed == 0).into();
    }
    println!("{summary}");
    Ok(if report.failed + report.rejected == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// One log line per repo, counting settled repos of the total: the progress display (a line per repo
/// rather than a redrawn bar, so it reads the same in a terminal, a pipe and a JSON log), and what tests
/// synchronise on.
fn log_outcome(did: &str, outcome: &RepoOutcome, (n, of): (usize, usize)) {
    match outcome {
        RepoOutcome::Done { rev, records, appended, duplicates } => {
            tracing::info!(n, of, did, rev, records, appended, duplicates, "repo backfilled")
        }
        RepoOutcome::Skipped { rev } => tracing::info!(n, of, did, rev, "repo already backfilled at its rev"),
        RepoOutcome::Rejected { reason } => tracing::warn!(n, of, did, reason, "repo refused"),
        RepoOutcome::Failed { reason } => tracing::warn!(n, of, did, reason, "repo not fetched"),
    }
}
