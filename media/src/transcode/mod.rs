//! Transcoding: probe an original, produce a browser-playable MP3 rendition, and measure integrated
//! loudness (EBU R128) and a compact waveform. The builtin backend decodes in-process (symphonia) and
//! encodes with LAME; the ffmpeg backend, when configured and present, also covers Opus and webm. Every
//! run is bounded in time and decoded length, and a corrupt input is an error, never a panic.

mod analysis;
mod builtin;
mod ffmpeg;
mod mp3;

use std::path::Path;
use std::time::Duration;

pub use analysis::WAVEFORM_BUCKETS;
// What an original is and its waveform are part of the `stored` media event: the log's types are the ones.
pub use builtin::probe;
pub use ffmpeg::ffmpeg_available;
pub use reprise_events::media::{Probe, Waveform};

use crate::config::TranscoderKind;

/// The rendition's bitrate.
pub const MP3_BITRATE_KBPS: u32 = 192;

/// Errors of probing and transcoding.
#[derive(Debug, thiserror::Error)]
pub enum TranscodeError {
    #[error("unsupported media: {0}")]
    Unsupported(String),
    #[error("corrupt media: {0}")]
    Corrupt(String),
    #[error("audio is longer than {max_secs} s")]
    TooLong { max_secs: u64 },
    #[error("transcode took longer than {0:?}")]
    Timeout(Duration),
    #[error("decoder panicked: {0}")]
    Panicked(String),
    #[error("mp3 encoder failed: {0}")]
    Encode(String),
    #[error("ffmpeg failed: {0}")]
    Ffmpeg(String),
    #[error("io error: {0}")]
    Io(#[from] std::io::Error),
}

/// Bounds on one transcode of untrusted media.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest audio decoded; a longer input fails.
    pub max_duration: Duration,
    /// Wall-clock budget for the whole run.
    pub deadline: Duration,
    /// Undecodable packets tolerated before the input counts as corrupt.
    pub max_bad_packets: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_duration: Duration::from_secs(3 * 60 * 60),
            deadline: Duration::from_secs(300),
            max_bad_packets: 16,
        }
    }
}

/// The playable rendition, in a temporary file deleted on drop.
#[derive(Debug)]
pub struct Rendition {
    pub content_type: &'static str,
    pub format: &'static str,
    pub bitrate_kbps: u32,
    pub size: u64,
    file: tempfile::TempPath,
}

impl Rendition {
    pub fn path(&self) -> &Path {
        &self.file
    }
}

/// Everything one transcode produced.
#[derive(Debug)]
pub struct Transcoded {
    /// The original, with the duration actually decoded.
    pub probe: Probe,
    pub rendition: Rendition,
    /// Integrated loudness in LUFS; `None` for silence.
    pub loudness_lufs: Option<f64>,
    pub waveform: Waveform,
}

/// Produces renditions with the configured backend.
#[derive(Debug, Clone)]
pub struct Transcoder {
    kind: TranscoderKind,
    limits: Limits,
}

impl Transcoder {
    pub fn new(kind: TranscoderKind, limits: Limits) -> Self {
        Self { kind, limits }
    }

    /// The backend that will run: ffmpeg only when configured and found on `PATH`.
    pub async fn effective_kind(&self) -> TranscoderKind {
        match self.kind {
            TranscoderKind::Ffmpeg if ffmpeg_available().await => TranscoderKind::Ffmpeg,
            _ => TranscoderKind::Builtin,
        }
    }

    /// Transcode the original at `input`.
    pub async fn transcode(&self, input: &Path) -> Result<Transcoded, TranscodeError> {
        match self.effective_kind().await {
            TranscoderKind::Ffmpeg => ffmpeg::transcode(input, self.limits).await,
            TranscoderKind::Builtin => {
                let input = input.to_path_buf();
                let limits = self.limits;
                tokio::task::spawn_blocking(move || builtin::transcode(&input, limits))
                    .await
                    .map_err(|e| TranscodeError::Panicked(e.to_string()))?
            }
        }
    }
}

/// Name the container from its first bytes.
pub fn sniff_container(head: &[u8]) -> &'static str {
    match head {
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'A', b'V', b'E', ..] => "wav",
        [b'F', b'O', b'R', b'M', _, _, _, _, b'A', b'I', b'F', _, ..] => "aiff",
        [b'f', b'L', b'a', b'C', ..] => "flac",
        [b'O', b'g', b'g', b'S', ..] => "ogg",
        [0x1a, 0x45, 0xdf, 0xa3, ..] => "webm",
        [_, _, _, _, b'f', b't', b'y', b'p', ..] => "mp4",
        [b'I', b'D', b'3', ..] => "mp3",
        [0xff, b, ..] if b & 0xe0 == 0xe0 && b & 0x06 != 0 => "mp3",
        [0xff, b, ..] if b & 0xf6 == 0xf0 => "aac",
        _ => "unknown",
    }
}

fn sniff_file(path: &Path) -> std::io::Result<&'static str> {
    use std::io::Read;
    let mut head = [0u8; 16];
    let mut file = std::fs::File::open(path)?;
    let mut filled = 0;
    while filled < head.len() {
        match file.read(&mut head[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(sniff_container(&head[..filled]))
}

fn average_kbps(path: &Path, duration_secs: Option<f64>) -> Option<u32> {
    let size = std::fs::metadata(path).ok()?.len() as f64;
    let secs = duration_secs.filter(|d| *d > 0.0)?;
    Some((size * 8.0 / secs / 1000.0).round() as u32)
}
