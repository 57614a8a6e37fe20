//! The body of a `media` event: one state change of one blob's media job, as the media worker and
//! `reprise media retry` append it and the projector folds it. Both sides go through [`MediaEvent`]: the
//! writers [`encode`](MediaEvent::encode) it, the fold [`decode`](MediaEvent::decode)s it.
//!
//! The body is JSON: `{"v", "cid", "did", "uri"?, "state": {"state": "requested" | "fetched" |
//! "transcoded" | "stored" | "failed" | "retry_scheduled", ...}, "manual"?: true, "atUs"}`.
//!
//! Versions: 1 is the shape written since media events began. Bodies written before the version field
//! existed carry no `v` and are version 1 (`tests/fixtures/media-bodies-v1.jsonl` keeps such bodies as
//! the old code wrote them). Stored bodies are never rewritten: when the shape changes, the version goes
//! up and `decode` learns to upcast every older one. A body from a newer build is refused, not misread.

use serde::{Deserialize, Serialize};

use crate::{Envelope, NewEvent};

/// The version written with every new media event.
pub const MEDIA_EVENT_VERSION: u32 = 1;

/// A media job's state change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaEvent {
    #[serde(rename = "v", default = "first_version")]
    version: u32,
    /// The blob CID (raw, sha2-256).
    pub cid: String,
    /// The account whose PDS holds the blob.
    pub did: String,
    /// The track that asked for the blob, when the writer knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    pub state: JobState,
    /// An operator's retry (`reprise media retry`): the attempt count starts again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub manual: bool,
    /// When it happened, unix microseconds.
    pub at_us: i64,
}

fn first_version() -> u32 {
    1
}

/// A job's state changes, in the order they happen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum JobState {
    Requested,
    Fetched { size: u64 },
    Transcoded { duration_secs: Option<f64>, loudness_lufs: Option<f64> },
    Stored { rendition: Box<RenditionInfo> },
    Failed { reason: String, attempt: u32, will_retry: bool },
    RetryScheduled { at_unix_ms: i64, attempt: u32 },
}

impl JobState {
    /// The state's name, as the body's `state` tag spells it.
    pub fn name(&self) -> &'static str {
        match self {
            JobState::Requested => "requested",
            JobState::Fetched { .. } => "fetched",
            JobState::Transcoded { .. } => "transcoded",
            JobState::Stored { .. } => "stored",
            JobState::Failed { .. } => "failed",
            JobState::RetryScheduled { .. } => "retry_scheduled",
        }
    }

    /// Whether nothing more happens to the job until an explicit retry.
    pub fn is_finished(&self) -> bool {
        matches!(self, JobState::Stored { .. } | JobState::Failed { will_retry: false, .. })
    }
}

/// What was stored for a blob: enough for a trackView's renditions and waveform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RenditionInfo {
    pub format: String,
    pub content_type: String,
    pub bitrate_kbps: u32,
    pub size: u64,
    pub duration_secs: Option<f64>,
    pub loudness_lufs: Option<f64>,
    pub waveform: Waveform,
    pub original: Probe,
}

/// Peaks, one per bucket of equal duration, scaled to 0..=255 of full scale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waveform {
    pub peaks: Vec<u8>,
}

/// What an original is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    /// Container sniffed from the bytes: wav, flac, mp3, mp4, ogg, webm, aiff or unknown.
    pub container: String,
    pub codec: String,
    pub duration_secs: Option<f64>,
    pub sample_rate: Option<u32>,
    pub channels: Option<u16>,
    /// Average bitrate of the whole file, when the duration is known.
    pub bitrate_kbps: Option<u32>,
}

/// Why a stored body cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaEventError {
    #[error("{0}")]
    Invalid(String),
    #[error("version {found} is newer than this build reads ({supported})")]
    TooNew { found: u32, supported: u32 },
    #[error("unknown version {0}")]
    UnknownVersion(u32),
}

impl MediaEvent {
    /// A state change of `cid`'s job, at `at_us`, in the current version.
    pub fn new(cid: impl Into<String>, did: impl Into<String>, state: JobState, at_us: i64) -> Self {
        Self {
            version: MEDIA_EVENT_VERSION,
            cid: cid.into(),
            did: did.into(),
            uri: None,
            state,
            manual: false,
            at_us,
        }
    }

    /// The same event, naming the track that asked for the blob.
    pub fn with_uri(mut self, uri: Option<String>) -> Self {
        self.uri = uri;
        self
    }

    /// The same event, as an operator's retry.
    pub fn manual(mut self) -> Self {
        self.manual = true;
        self
    }

    /// The body as stored in the log's `frame` column (`version` is always the current one: `new` sets
    /// it and `decode` upcasts).
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a media event always serializes")
    }

    /// A stored body, upcast to the current shape.
    pub fn decode(body: &[u8]) -> Result<Self, MediaEventError> {
        match serde_json::from_slice::<MediaEvent>(body) {
            Ok(event) => match event.version {
                1 => Ok(event),
                0 => Err(MediaEventError::UnknownVersion(0)),
                found => Err(MediaEventError::TooNew { found, supported: MEDIA_EVENT_VERSION }),
            },
            // A newer shape may fail to parse as this one: name the version rather than the shape.
            Err(e) => match stated_version(body) {
                Some(found) if found > MEDIA_EVENT_VERSION => {
                    Err(MediaEventError::TooNew { found, supported: MEDIA_EVENT_VERSION })
                }
                _ => Err(MediaEventError::Invalid(e.to_string())),
            },
        }
    }

    /// The log event that records this: told apart from other media events by its time (a second
    /// `requested` of the same blob is a new event), so the time is also its source cursor.
    pub fn to_log_event(&self) -> NewEvent {
        NewEvent {
            envelope: Envelope::media(&self.did, &self.cid),
            frame: self.encode(),
            source_cursor: Some(self.at_us),
            received_at_us: self.at_us,
        }
    }
}

/// The `v` a body states, if it is an object with a numeric `v`.
fn stated_version(body: &[u8]) -> Option<u32> {
    #[derive(Deserialize)]
    struct Stated {
        v: u32,
    }
    serde_json::from_slice::<Stated>(body).ok().map(|s| s.v)
}
