//! Waiting between connections, and how far to step over a frame the WebSocket layer refused: both
//! grow by doubling, the one in time, the other in positions.

use std::time::Duration;

use reprise_events::Shutdown;

use super::Connection;

/// Full-jitter exponential backoff: a random delay in [base/2, base], base doubling per failure.
pub(crate) fn backoff(failures: u32, initial: Duration, max: Duration) -> Duration {
    let base = initial.saturating_mul(1u32 << failures.min(16)).min(max);
    let half = base / 2;
    half + half.mul_f64(fastrand::f64())
}

/// Sleeps the backoff after `failures` failures in a row (the first waits about `backoff_initial`);
/// false if stopped meanwhile.
pub(crate) async fn wait(failures: u32, c: &Connection, shutdown: &Shutdown) -> bool {
    let delay = backoff(failures.saturating_sub(1), c.backoff_initial, c.backoff_max);
    tokio::select! {
        _ = tokio::time::sleep(delay) => true,
        _ = shutdown.stopped() => false,
    }
}

/// How many positions (1 ms of v1 time counts as one) to step over after `repeats` refusals in a row
/// with nothing read in between: 1, 2, 4, ...
pub(crate) fn step(repeats: u32) -> i64 {
    1i64 << repeats.min(40)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_jittered_and_capped() {
        let (i, m) = (Duration::from_millis(100), Duration::from_secs(1));
        for _ in 0..50 {
            let d = backoff(0, i, m);
            assert!(d >= Duration::from_millis(50) && d <= i, "{d:?}");
            let d = backoff(10, i, m);
            assert!(d >= Duration::from_millis(500) && d <= m, "{d:?}");
        }
    }

    #[test]
    fn the_step_over_a_refused_frame_doubles_and_is_bounded() {
        assert_eq!([step(0), step(1), step(5)], [1, 2, 32]);
        assert_eq!(step(u32::MAX), 1 << 40);
    }
}
