//! `reprise snapshot create|list|restore`, and the scheduled snapshots of `reprise run`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use reprise_events::Shutdown;
use reprise_snapshots::{
    SnapshotManifest, create_snapshot, list_snapshots, prune_snapshots, restore_snapshot,
};
use reprise_store::ObjectStore;
use serde_json::json;

use crate::cli::SnapshotCommand;
use crate::config::{Config, open_archive_store};

/// Runs `work` against the archive store and prints its JSON result with the time it took.
pub(super) fn with_store<F>(
    config: &Config,
    work: impl FnOnce(Arc<dyn ObjectStore>) -> F,
) -> anyhow::Result<()>
where
    F: Future<Output = anyhow::Result<serde_json::Value>>,
{
    let store = open_archive_store(config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let started = Instant::now();
    let mut out = runtime.block_on(work(store))?;
    out["elapsed_ms"] = json!(started.elapsed().as_millis() as u64);
    println!("{out}");
    Ok(())
}

pub fn dispatch(config: &Config, command: SnapshotCommand) -> anyhow::Result<()> {
    with_store(config, |store| async move {
        match command {
            SnapshotCommand::Create => {
                let m = create_snapshot(&*store, &config.data_dir).await.context("snapshot create")?;
                let deleted =
                    prune_snapshots(&*store, config.snapshots.retention).await.context("retention")?;
                anyhow::Ok(json!({"snapshot": summary(&m), "deleted": deleted}))
            }
            SnapshotCommand::List => {
                let listed = list_snapshots(&*store).await.context("snapshot list")?;
                let rows: Vec<_> = listed
                    .iter()
                    .map(|s| match &s.manifest {
                        Ok(m) => summary(m),
                        Err(e) => json!({"id": s.id, "error": e}),
                    })
                    .collect();
                Ok(json!({"snapshots": rows}))
            }
            SnapshotCommand::Restore { id } => {
                let m = restore_snapshot(&*store, &config.data_dir, &id).await.context("snapshot restore")?;
                Ok(json!({"restored": summary(&m)}))
            }
        }
    })
}

fn summary(m: &SnapshotManifest) -> serde_json::Value {
    json!({"id": m.id, "created_at": m.created_at, "checkpoint_seq": m.checkpoint_seq,
           "schema_version": m.schema_version, "bytes": m.object.bytes, "db_bytes": m.db.bytes,
           "row_counts": m.row_counts})
}

/// Starts scheduled snapshots when `snapshots.interval_seconds` is set; they stop with `shutdown`.
pub fn spawn_schedule(config: &Config, shutdown: Shutdown) -> anyhow::Result<()> {
    let every = config.snapshots.interval_seconds;
    if every == 0 {
        return Ok(());
    }
    let store = open_archive_store(config)?;
    tracing::info!(interval_seconds = every, retention = config.snapshots.retention, "snapshots scheduled");
    tokio::spawn(reprise_snapshots::run_schedule(
        store,
        config.data_dir.clone(),
        Duration::from_secs(every),
        config.snapshots.retention,
        shutdown.clone(),
    ));
    Ok(())
}
