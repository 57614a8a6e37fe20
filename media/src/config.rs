//! Configuration of the media stage, mirroring the `media.*` keys of `config.toml` (`identity.*` belongs
//! to reprise-atproto-net, `storage.*` to reprise-store). The binary reads and validates the file; this crate only receives these structs.

use std::time::Duration;

use serde::Deserialize;

/// The lexicon's `maxSize` for `fm.plyr.track#audioBlob`: 100 MiB.
pub const LEXICON_MAX_BLOB_BYTES: u64 = 100 * 1024 * 1024;

/// Which transcoder produces renditions.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum TranscoderKind {
    /// In-process: symphonia decodes, LAME encodes.
    #[default]
    Builtin,
    /// The `ffmpeg` binary, when present (falls back to builtin otherwise).
    Ffmpeg,
}

/// `[media]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct MediaConfig {
    /// Run the media worker in `reprise run` (fetch, transcode and store track audio).
    pub enabled: bool,
    /// Allow fetching from loopback, private, link-local and other non-global addresses.
    pub allow_private_networks: bool,
    /// Largest blob fetched; capped at the lexicon's 100 MiB.
    pub max_blob_bytes: u64,
    /// Jobs run at once.
    pub concurrency: usize,
    pub transcoder: TranscoderKind,
    /// TCP connect timeout, in milliseconds.
    pub connect_timeout_ms: u64,
    /// Longest wait for the next bytes of a response, in milliseconds.
    pub read_timeout_ms: u64,
    /// Attempts per blob before its job stops as failed (`reprise media retry` starts it again).
    pub max_attempts: u32,
    /// Wait before the second attempt, in milliseconds; doubles per attempt up to `retry_max_ms`.
    pub retry_initial_ms: u64,
    pub retry_max_ms: u64,
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            allow_private_networks: false,
            max_blob_bytes: LEXICON_MAX_BLOB_BYTES,
            concurrency: 2,
            transcoder: TranscoderKind::Builtin,
            connect_timeout_ms: 5_000,
            read_timeout_ms: 30_000,
            max_attempts: 5,
            retry_initial_ms: 30_000,
            retry_max_ms: 3_600_000,
        }
    }
}

impl MediaConfig {
    /// The effective blob cap: the configured one, never above the lexicon's.
    pub fn blob_cap(&self) -> u64 {
        self.max_blob_bytes.min(LEXICON_MAX_BLOB_BYTES)
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    pub fn read_timeout(&self) -> Duration {
        Duration::from_millis(self.read_timeout_ms)
    }

    /// The job runner's policy from these keys.
    pub fn runner(&self) -> crate::jobs::RunnerConfig {
        crate::jobs::RunnerConfig {
            concurrency: self.concurrency,
            max_attempts: self.max_attempts,
            base_backoff: Duration::from_millis(self.retry_initial_ms),
            max_backoff: Duration::from_millis(self.retry_max_ms),
        }
    }
}
