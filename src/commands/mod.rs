//! One function per subcommand. Offline commands are synchronous; `run` and `serve` start tokio.

mod backfill;
mod gap_repair;
mod lexicon;
mod log;
mod media;
mod run;
mod snapshot;
mod status;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use reprise_events::{EventLog, LogReader, Shutdown};
use reprise_ingest::{FixtureOptions, ingest_fixture};
use reprise_projector::{Catalog, Projector, VIEWS_FILE, rebuild};
use serde_json::json;

use crate::cli::{Command, MediaCommand};
use crate::config::Config;

pub fn dispatch(command: Command, config: Config) -> anyhow::Result<ExitCode> {
    match command {
        Command::Lexicon { command } => return Ok(lexicon::dispatch(command)),
        Command::Media { command: MediaCommand::Retry { cid } } => media::retry(&config, &cid)?,
        Command::Run { fixture, jetstream, firehose } => run::run(config, fixture, jetstream, firehose)?,
        Command::Status => status::status(&config)?,
        Command::Serve => run::serve(config)?,
        Command::Ingest { fixture } => ingest(&config, &fixture)?,
        Command::Project => project(&config)?,
        Command::Rebuild { until, out } => rebuild_cmd(&config, until.as_deref(), out.as_deref())?,
        Command::Snapshot { command } => snapshot::dispatch(&config, command)?,
        Command::Log { command } => log::dispatch(&config, command)?,
        Command::Backfill { did, collection, relay, gaps } => {
            return backfill::backfill(&config, backfill::Repos::of(did, collection, relay, gaps));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The lexicons records are checked against: `lexicons.dir`, or the built-in set.
pub(crate) fn catalog(config: &Config) -> anyhow::Result<Arc<Catalog>> {
    let dir = &config.lexicons.dir;
    if dir.as_os_str().is_empty() {
        return Ok(Arc::new(Catalog::builtin()));
    }
    let catalog = Catalog::load_dir(dir)
        .with_context(|| format!("configuration key `lexicons.dir` ({})", dir.display()))?;
    for warning in catalog.warnings() {
        tracing::warn!(%warning, "lexicons.dir");
    }
    Ok(Arc::new(catalog))
}

pub(crate) fn fixture_options(config: &Config) -> FixtureOptions {
    FixtureOptions { batch_size: config.ingest.batch_size, max_frame_bytes: config.ingest.max_frame_bytes }
}

fn ingest(config: &Config, fixture: &Path) -> anyhow::Result<()> {
    let mut log = EventLog::open(&config.data_dir)?;
    let r = ingest_fixture(&mut log, fixture, &fixture_options(config), &Shutdown::new())?;
    tracing::info!(source = %r.source, lines = r.lines, appended = r.appended, duplicates = r.duplicates, rejected = r.rejected, "fixture ingested");
    println!(
        "{}",
        json!({"source": r.source, "lines": r.lines, "appended": r.appended, "duplicates": r.duplicates,
               "rejected": r.rejected, "head": log.head()})
    );
    Ok(())
}

fn project(config: &Config) -> anyhow::Result<()> {
    let mut projector = Projector::open(&config.data_dir, config.projector.batch_size, catalog(config)?)?;
    let r = projector.catch_up(None)?;
    println!(
        "{}",
        json!({"events": r.events, "applied": r.applied, "ignored": r.ignored, "checkpoint": r.checkpoint})
    );
    Ok(())
}

fn rebuild_cmd(config: &Config, until: Option<&str>, out: Option<&Path>) -> anyhow::Result<()> {
    if !config.data_dir.join(reprise_events::LOG_FILE).exists() {
        bail!("no event log in {}: nothing to rebuild", config.data_dir.display());
    }
    let until = match until {
        None => None,
        Some(raw) => Some(until_seq(&config.data_dir, raw)?),
    };
    let out = out.unwrap_or(&config.data_dir).join(VIEWS_FILE);
    let r = rebuild(&config.data_dir, &out, until, &*catalog(config)?)?;
    println!(
        "{}",
        json!({"out": r.out, "events": r.report.events, "applied": r.report.applied,
               "checkpoint": r.report.checkpoint})
    );
    Ok(())
}

/// `--until` is a seq (an integer) or an RFC 3339 time, meaning the last event received by then.
fn until_seq(data_dir: &Path, raw: &str) -> anyhow::Result<i64> {
    if let Ok(seq) = raw.parse::<i64>() {
        if seq < 0 {
            bail!("--until {raw}: a seq cannot be negative");
        }
        return Ok(seq);
    }
    let t: jiff::Timestamp =
        raw.parse().with_context(|| format!("--until {raw:?} is neither a seq nor an RFC 3339 time"))?;
    Ok(LogReader::open(data_dir)?.seq_at_time(t.as_microsecond())?)
}
