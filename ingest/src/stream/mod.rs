//! What every streaming source shares. A source (Jetstream in `live/`, firehoses in `firehose/`, and
//! later label streams) owns only its wire: its URLs, its frames, its cursor and how it resumes. Here:
//! how a connection is kept ([`Connection`]), what is followed ([`Filters`]), the WebSocket transport
//! (`transport.rs`, with the frame guard in `guard.rs`), the backoff between connections and the step
//! over a refused frame (`backoff.rs`), and the log writer every source feeds through one bounded
//! channel (`writer.rs`), which stores each source's cursor with its events.

pub(crate) mod backoff;
mod guard;
pub(crate) mod transport;
pub(crate) mod writer;

use std::time::Duration;

/// Frames between a source and the log writer: a few batches, so the socket keeps reading while the
/// writer waits on fsync, and memory stays bounded (a few MB of frames) when the disk falls behind.
pub const FRAMES_IN_FLIGHT: usize = 4096;

/// The collections followed unless configured otherwise (`ingest.wanted_collections` in config.toml
/// says the same; the binary's configuration tests check that they agree).
pub const MUSIC_COLLECTIONS: [&str; 2] = ["fm.plyr.*", "fm.teal.*"];

/// What a source follows: commits of these collections, from these repos (identity and account events
/// arrive regardless). `Default` is the documented configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filters {
    /// NSIDs or `prefix.*`; empty: every collection.
    pub wanted_collections: Vec<String>,
    /// Empty: every repo.
    pub wanted_dids: Vec<String>,
}

impl Default for Filters {
    fn default() -> Self {
        Filters { wanted_collections: MUSIC_COLLECTIONS.map(String::from).to_vec(), wanted_dids: Vec::new() }
    }
}

impl Filters {
    pub fn wants_collection(&self, collection: &str) -> bool {
        self.wanted_collections.is_empty()
            || crate::backfill::collection_wanted(&self.wanted_collections, collection)
    }

    pub fn wants_did(&self, did: &str) -> bool {
        self.wanted_dids.is_empty() || self.wanted_dids.iter().any(|d| d == did)
    }
}

/// How one streaming connection is kept and written: shared by Jetstream hosts and firehoses.
/// `Default` is the documented configuration.
#[derive(Debug, Clone)]
pub struct Connection {
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// A ping is sent this often...
    pub ping_interval: Duration,
    /// ...and a connection with no frame and no pong for this long is dropped.
    pub idle_timeout: Duration,
    /// Events per log transaction at most.
    pub batch_size: usize,
    /// A longer frame is rejected, keeping this many of its bytes (the most a frame holds in memory).
    pub max_frame_bytes: usize,
}

impl Default for Connection {
    fn default() -> Self {
        Connection {
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            ping_interval: Duration::from_secs(15),
            idle_timeout: Duration::from_secs(45),
            batch_size: 1000,
            max_frame_bytes: 4 << 20,
        }
    }
}

/// Why a frame longer than `max` is rejected (fixture lines, Jetstream and firehose frames alike).
pub(crate) fn oversized(len: usize, max: usize) -> String {
    format!("frame of {len} bytes exceeds the {max}-byte limit; its first {max} bytes are kept")
}

/// Where a source with no stored cursor starts (`ingest.firehose_start`, `ingest.jetstream_start`:
/// `"oldest"` or `"live"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamStart {
    /// Everything the host still keeps: a firehose's `cursor=0`, or Jetstream's replay window (older
    /// history: a gap).
    Oldest,
    /// No cursor: from the live tail.
    Live,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wanted_collections_match_exactly_or_by_prefix() {
        let w = Filters {
            wanted_collections: vec!["fm.plyr.*".to_owned(), "fm.teal.feed.play".to_owned()],
            wanted_dids: Vec::new(),
        };
        let wanted = |w: &Filters, c| w.wants_collection(c);
        assert!(wanted(&w, "fm.plyr.track"));
        assert!(wanted(&w, "fm.teal.feed.play"));
        assert!(!wanted(&w, "fm.teal.actor.status"));
        assert!(!wanted(&w, "app.bsky.feed.like"));
        let all = Filters { wanted_collections: Vec::new(), wanted_dids: Vec::new() };
        assert!(wanted(&all, "anything"));
        assert!(
            all.wants_did("did:plc:a")
                && !Filters { wanted_dids: vec!["did:plc:b".into()], ..all }.wants_did("did:plc:a")
        );
    }
}
