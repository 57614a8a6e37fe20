//! Following the log: what `reprise run` does with the projector, and what the benchmark's lag
//! measurement runs, so both exercise the same loop.

use tokio::sync::watch;

use crate::{ApplyReport, Projector, ProjectorError};

/// Applies batches as the log's head moves (`head` is `EventLog::subscribe`), until `stop` turns
/// true; checks for it between batches. `on_batch` runs after each batch's transaction commits.
///
/// Waking is by the head's change notification, sent when an append commits, never by polling, so
/// the lag from an append to its projection is the time to apply it, not a poll interval.
pub async fn follow(
    mut projector: Projector,
    mut head: watch::Receiver<i64>,
    mut stop: watch::Receiver<bool>,
    mut on_batch: impl FnMut(&ApplyReport) + Send,
) -> Result<(), ProjectorError> {
    loop {
        head.borrow_and_update();
        let mut applied_any = false;
        loop {
            if *stop.borrow() {
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
        let log_closed = tokio::select! {
            changed = head.changed() => changed.is_err(),
            _ = stop.wait_for(|s| *s) => return Ok(()),
        };
        if log_closed {
            // Ingest finished and dropped the log: nothing more will arrive, so just wait to stop.
            let _ = stop.wait_for(|s| *s).await;
            return Ok(());
        }
    }
}
