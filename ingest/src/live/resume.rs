//! Where a Jetstream connection resumes: pure functions, tested here.

use std::time::Duration;

use reprise_events::GapRange;

use super::{LiveOptions, Wire};

/// The smallest cursor a v2 server reads as a unix-µs timestamp rather than a seq.
pub const V2_TIMESTAMP_MIN: i64 = 1_000_000_000_000_000;

/// The position a connection asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// No cursor: the live tail.
    Live,
    /// v1 `cursor=<time_us>`.
    V1Time(i64),
    /// v2 `cursor=<seq>`, inclusive: the host's own seq, never another host's.
    V2Seq(i64),
    /// v2 `cursor=<time_us>` (>= 1e15, which the server reads as a timestamp): how a v2 host is joined
    /// from another host's position.
    V2Time(i64),
}

impl Start {
    pub fn cursor(self) -> Option<i64> {
        match self {
            Start::Live => None,
            Start::V1Time(c) | Start::V2Seq(c) | Start::V2Time(c) => Some(c),
        }
    }
}

/// Where to resume on a host of `wire` whose own cursor is `own`. `switched`: the previous position
/// came from another host (or could not be trusted), so only `safe_time_us` carries over, rewound.
pub(crate) fn start_for(
    wire: Wire,
    own: Option<i64>,
    safe_time_us: Option<i64>,
    switched: bool,
    opts: &LiveOptions,
) -> Start {
    let rewind = opts.rewind.as_micros() as i64;
    let from_time = safe_time_us.map(|t| (t - rewind).max(1));
    // A v2 server reads a cursor below 1e15 as a seq: a timestamp cursor must not fall under it.
    let v2_time = |t: i64| Start::V2Time(t.max(V2_TIMESTAMP_MIN));
    match (wire, switched) {
        (Wire::V1, false) => {
            own.map(|c| (c - rewind).max(1)).or(from_time).map_or(Start::Live, Start::V1Time)
        }
        (Wire::V1, true) => from_time.or(own.map(|c| (c - rewind).max(1))).map_or(Start::Live, Start::V1Time),
        (Wire::V2, false) => own.map(Start::V2Seq).or(from_time.map(v2_time)).unwrap_or(Start::Live),
        (Wire::V2, true) => from_time.map(v2_time).or(own.map(Start::V2Seq)).unwrap_or(Start::Live),
    }
}

/// The latest event time a position may be taken from: reprise's own clock plus `rewind`. A frame
/// claiming a later `time_us` (a host's clock gone wrong, a hostile frame) is kept with the time it
/// claims, but as a cursor it would make every resume ask for events the host has not sent yet, and skip
/// them all. Bounded by the rewind, a resume from the bound asks from no later than the frame's arrival.
pub(crate) fn latest_trusted_time(now_us: i64, rewind: Duration) -> i64 {
    now_us.saturating_add(rewind.as_micros() as i64)
}

/// Where to resume past a frame the WebSocket layer refused right after position `pos` (its own position
/// cannot be read), and the gap that leaves. `repeats`: refusals in a row with nothing read in between,
/// each doubling the step from the last one's end; the first is the smallest that can pass a frame (1 ms
/// of v1 time, one v2 seq). A v1 step never goes past `latest` (see [`latest_trusted_time`]): a host
/// refusing frame after frame cannot push the position into the future. A v2 range ends at the seq
/// resumed from (inclusively).
pub(crate) fn step_over(wire: Wire, pos: i64, repeats: u32, latest: i64) -> (Start, GapRange) {
    let step = crate::stream::backoff::step(repeats);
    let (start, to) = match wire {
        Wire::V1 => {
            let to = pos.saturating_add(step.saturating_mul(1_000)).min(latest).max(pos.saturating_add(1));
            (Start::V1Time(to), to)
        }
        Wire::V2 => {
            let to = pos.saturating_add(1).saturating_add(step);
            (Start::V2Seq(to), to)
        }
    };
    (start, GapRange { from: pos.saturating_add(1), to })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(wire: Wire, own: Option<i64>, safe: Option<i64>, switched: bool, expected: Start) {
        let opts = LiveOptions { rewind: Duration::from_micros(5), ..Default::default() };
        assert_eq!(
            start_for(wire, own, safe, switched, &opts),
            expected,
            "{wire:?} {own:?} {safe:?} {switched}"
        );
    }

    #[test]
    fn v1_rewinds_its_own_cursor_and_a_switch_rewinds_the_trusted_time() {
        check(Wire::V1, None, None, false, Start::Live);
        check(Wire::V1, Some(100), Some(500), false, Start::V1Time(95));
        check(Wire::V1, None, Some(500), false, Start::V1Time(495));
        check(Wire::V1, Some(100), Some(500), true, Start::V1Time(495));
    }

    #[test]
    fn a_v2_seq_never_moves_between_hosts() {
        check(Wire::V2, Some(42), Some(500), false, Start::V2Seq(42));
        check(Wire::V2, Some(42), Some(2_000_000_000_000_000), true, Start::V2Time(1_999_999_999_999_995));
        check(Wire::V2, None, None, true, Start::Live);
        check(Wire::V2, None, Some(500), false, Start::V2Time(V2_TIMESTAMP_MIN));
    }

    #[test]
    fn a_position_is_never_taken_beyond_the_clock_plus_the_rewind() {
        let now = 1_800_000_000_000_000;
        let bound = latest_trusted_time(now, Duration::from_secs(5));
        assert_eq!(bound, now + 5_000_000);
        for (claimed, taken) in [
            (now - 1, now - 1),
            (now + 2_000_000, now + 2_000_000), // a slight skew: taken as it is
            (now + 10 * 365 * 86_400_000_000, bound),
            (i64::MAX, bound),
        ] {
            assert_eq!(claimed.min(bound), taken, "{claimed}");
        }
        assert_eq!(latest_trusted_time(i64::MAX - 1, Duration::from_secs(5)), i64::MAX);
    }

    #[test]
    fn a_refused_frame_is_stepped_over_by_a_doubling_step() {
        let at = |from, to| GapRange { from, to };
        let never = i64::MAX;
        assert_eq!(step_over(Wire::V1, 100, 0, never), (Start::V1Time(1_100), at(101, 1_100)));
        assert_eq!(step_over(Wire::V1, 1_100, 1, never), (Start::V1Time(3_100), at(1_101, 3_100)));
        assert_eq!(step_over(Wire::V2, 7, 0, 0), (Start::V2Seq(9), at(8, 9)), "seq 8 is skipped");
        assert_eq!(step_over(Wire::V2, 9, 2, 0), (Start::V2Seq(14), at(10, 14)));
        assert_eq!(step_over(Wire::V1, never - 5, 63, never).1.to, never, "no overflow");
        assert_eq!(step_over(Wire::V1, 100, 30, 5_000).0, Start::V1Time(5_000), "never into the future");
    }
}
