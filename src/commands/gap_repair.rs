//! Gap repair inside `reprise run`: every `backfill.gap_repair_interval_secs`, if ingest has recorded
//! gaps not yet repaired (CursorTooOld, a host switch wider than the replay window, a blind host), the
//! repos the log knows are backfilled through their own log writer, exactly as `reprise backfill --gaps`
//! does. The projector sees those appends through its poll for other writers.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use reprise_events::EventLog;
use reprise_ingest::backfill::{BackfillOptions, PdsClient};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;

/// Starts the repair loop, or nothing when `backfill.gap_repair_interval_secs` is 0.
pub fn spawn(config: &Config, stop: watch::Receiver<bool>) -> anyhow::Result<Option<JoinHandle<()>>> {
    let every = config.backfill.gap_repair_interval_secs;
    if every == 0 {
        return Ok(None);
    }
    let (client, options) = super::backfill::prepare(config)?;
    tracing::info!(interval_seconds = every, "gap repair scheduled");
    let data_dir = config.data_dir.clone();
    Ok(Some(tokio::spawn(repair_loop(data_dir, client, options, Duration::from_secs(every), stop))))
}

async fn repair_loop(
    data_dir: PathBuf,
    client: Arc<PdsClient>,
    options: BackfillOptions,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    // The first pass comes one interval after start, not at once: a node starting up has ingest to resume first.
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        // A failed pass (the log busy, a PDS down) is logged and tried again at the next tick. Stopping
        // drops a pass in the middle: what it appended is durable, and its repos' progress with it.
        let pass = async {
            let log = EventLog::open(&data_dir)?;
            super::backfill::repair_gaps(log, &data_dir, client.clone(), options.clone()).await
        };
        let outcome = tokio::select! {
            outcome = pass => outcome,
            _ = stop.wait_for(|s| *s) => return,
        };
        match outcome {
            Ok((_, summary)) if summary["gaps"] == 0 => {}
            Ok((_, summary)) => tracing::info!(
                gaps = summary["gaps"].as_u64(),
                repos = summary["repos"].as_u64(),
                appended = summary["appended"].as_u64(),
                repaired = summary["gaps_repaired"].as_bool(),
                "gap repair pass"
            ),
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "gap repair pass failed"),
        }
    }
}
