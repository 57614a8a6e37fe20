//! Scheduled snapshots inside `reprise run`: one every interval, then retention.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use reprise_events::Shutdown;
use reprise_store::ObjectStore;

/// Takes a snapshot every `every` until `stop` is stopped, keeping the newest `keep` (0: all). A failed
/// snapshot is logged and retried at the next tick; it never stops the node.
pub async fn run_schedule(
    store: Arc<dyn ObjectStore>,
    data_dir: PathBuf,
    every: Duration,
    keep: usize,
    stop: Shutdown,
) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.stopped() => return,
        }
        match crate::create_snapshot(&*store, &data_dir).await {
            Ok(m) => {
                // Tests and operators wait for this line.
                tracing::info!(id = %m.id, checkpoint = m.checkpoint_seq, bytes = m.object.bytes, "snapshot created");
                match crate::prune_snapshots(&*store, keep).await {
                    Ok(deleted) if !deleted.is_empty() => tracing::info!(?deleted, "old snapshots deleted"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "snapshot retention failed"),
                }
            }
            Err(e) => tracing::warn!(error = %e, "scheduled snapshot failed"),
        }
    }
}
