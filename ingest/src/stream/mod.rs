//! What every streaming source (Jetstream, firehose) shares: the WebSocket transport and its frame guard.

mod guard;
pub(crate) mod transport;

/// Why a frame longer than `max` is rejected (fixture lines, Jetstream and firehose frames alike).
pub(crate) fn oversized(len: usize, max: usize) -> String {
    format!("frame of {len} bytes exceeds the {max}-byte limit; its first {max} bytes are kept")
}
