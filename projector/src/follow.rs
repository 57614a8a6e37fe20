//! Following the log: what `reprise run` does with the projector, and what the benchmark's lag
//! measurement runs, so both exercise the same loop.

use std::time::Duration;

use reprise_events::Shutdown;
use tokio::sync::watch;

use crate::error::ProjectorError;
use crate::incremental::Projector;
use crate::types::ApplyReport;

/// Applies batches as the log's head moves, until `stop` is stopped; checks for it between batches.
/// `on_batch` runs after each batch's transaction commits.
///
/// `heads` are the in-process writers' `EventLog::subscribe` receivers (ingest, the media worker):
/// their change notification, sent when an append commits, wakes the loop, so the lag from an append
/// to its projection is the time to apply it. `poll` is only for appends by another process (`reprise
/// media retry`), which no in-process head sees.
pub async fn follow(
    mut projector: Projector,
    mut heads: Vec<watch::Receiver<i64>>,
    poll: Option<Duration>,
    stop: Shutdown,
    mut on_batch: impl FnMut(&ApplyReport) + Send,
) -> Result<(), ProjectorError> {
    loop {
        for head in &mut heads {
            head.borrow_and_update();
        }
        let mut applied_any = false;
        loop {
            if stop.is_stopped() {
                return Ok(());
            }
            let joined = tokio::task::spawn_blocking(move || {
                let r = projector.apply_batch(None);
                (projector, r)
            })
            .await;
            let (p, report) = match joined {
                Ok(done) => done,
                Err(e) => match e.try_into_panic() {
                    Ok(panic) => std::panic::resume_unwind(panic),
                    // Cancelled: the runtime is shutting down.
                    Err(_) => return Ok(()),
                },
            };
            projector = p;
            let report = report?;
            if report.events == 0 {
                if applied_any {
                    // Tests and operators wait for this line: the read models now reflect the log.
                    tracing::info!(checkpoint = report.checkpoint, "projector caught up");
                }
                break;
            }
            on_batch(&report);
            applied_any = true;
            tracing::debug!(
                events = report.events,
                applied = report.applied,
                checkpoint = report.checkpoint,
                "projected batch"
            );
        }
        tokio::select! {
            _ = any_changed(&mut heads) => {}
            _ = sleep_or_never(poll) => {}
            _ = stop.stopped() => return Ok(()),
        }
    }
}

/// Resolves when one head moves. A closed head (its writer finished and dropped the log) is removed;
/// with none left this never resolves, so the loop waits for the poll or for stop.
async fn any_changed(heads: &mut Vec<watch::Receiver<i64>>) {
    if heads.is_empty() {
        return std::future::pending().await;
    }
    let (result, index, rest) =
        futures_util::future::select_all(heads.iter_mut().map(|h| Box::pin(h.changed()))).await;
    drop(rest);
    if result.is_err() {
        heads.swap_remove(index);
    }
}

async fn sleep_or_never(poll: Option<Duration>) {
    match poll {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}
