//! `reprise backfill`: fetch repos whole from their PDSes into the log (see reprise_ingest::backfill).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use reprise_events::EventLog;
use reprise_ingest::backfill::{BackfillOptions, HostLimits, PdsClient, RepoOutcome, Target, run_backfill};
use reprise_media::identity::IdentityResolver;
use reprise_media::net::{GuardedHttp, NetPolicy};

use crate::config::Config;

/// Exit 0 when every repo is done or skipped, 1 when any was refused or could not be fetched.
pub fn backfill(
    config: &Config,
    dids: Vec<String>,
    collection: Option<String>,
    relay: Option<String>,
) -> anyhow::Result<ExitCode> {
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
    let target = match (collection, relay) {
        (Some(collection), Some(relay)) => Target::Collection { collection, relay },
        _ => Target::Dids(dids),
    };
    let log = EventLog::open(&config.data_dir)?;
    let data_dir = config.data_dir.clone();
    let (report, log) = super::run::runtime()?
        .block_on(async move { run_backfill(log, &data_dir, client, target, options, log_outcome).await })?;
    tracing::info!(repos = report.repos, done = report.done, appended = report.appended, "backfill finished");
    let mut summary = serde_json::to_value(&report)?;
    summary["head"] = log.head().into();
    println!("{summary}");
    Ok(if report.failed + report.rejected == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// One log line per repo: the progress display, and what tests synchronise on.
fn log_outcome(did: &str, outcome: &RepoOutcome) {
    match outcome {
        RepoOutcome::Done { rev, records, appended, duplicates } => {
            tracing::info!(did, rev, records, appended, duplicates, "repo backfilled")
        }
        RepoOutcome::Skipped { rev } => tracing::info!(did, rev, "repo already backfilled at its rev"),
        RepoOutcome::Rejected { reason } => tracing::warn!(did, reason, "repo refused"),
        RepoOutcome::Failed { reason } => tracing::warn!(did, reason, "repo not fetched"),
    }
}
