//! The stop signal every long-running stage shares, in the shape of mini-redis's `Shutdown`: `reprise
//! run` makes one, hands a clone to each stage, and stops it once on SIGINT or SIGTERM. Async code
//! awaits [`Shutdown::stopped`]; a blocking thread (a fixture being appended) asks
//! [`Shutdown::is_stopped`] between batches. It lives beside the log because every stage already
//! depends on this crate.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::watch;

/// A cloneable stop signal: stopping any clone stops them all, for good.
#[derive(Debug, Clone, Default)]
pub struct Shutdown(Arc<watch::Sender<bool>>);

impl Shutdown {
    pub fn new() -> Self {
        Self::default()
    }

    /// Stops every clone; later calls do nothing.
    pub fn stop(&self) {
        self.0.send_replace(true);
    }

    pub fn is_stopped(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once stopped (at once if already), or once every clone is gone (nothing is left to run).
    /// The future owns what it needs, so it can be spawned, kept across `select!` loops, or handed to
    /// `axum::serve`'s graceful shutdown.
    pub fn stopped(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.0.subscribe();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_clone_and_every_waiter_sees_one_stop() {
        let shutdown = Shutdown::new();
        let clone = shutdown.clone();
        let waiting = tokio::spawn(clone.stopped());
        assert!(!clone.is_stopped());
        shutdown.stop();
        waiting.await.unwrap();
        assert!(clone.is_stopped());
        clone.stopped().await; // already stopped: at once
        shutdown.stop();
        assert!(!Shutdown::new().is_stopped());
    }
}
