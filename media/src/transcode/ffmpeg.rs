//! The ffmpeg backend: `ffprobe` describes the original, `ffmpeg` (libmp3lame) writes the rendition, both
//! as child processes killed at the deadline; loudness and waveform are then measured from the rendition
//! in-process. Covers everything ffmpeg decodes (Opus, webm, ogg, aiff, ...).

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::process::Command;

use super::{Limits, MP3_BITRATE_KBPS, Probe, Rendition, TranscodeError, Transcoded, builtin, sniff_file};

/// Whether an `ffmpeg` binary (and its `ffprobe`) can be run.
pub async fn ffmpeg_available() -> bool {
    let mut ok = true;
    for tool in ["ffmpeg", "ffprobe"] {
        let status =
            Command::new(tool).arg("-version").stdout(Stdio::null()).stderr(Stdio::null()).status().await;
        ok &= status.is_ok_and(|s| s.success());
    }
    ok
}

#[derive(Deserialize)]
struct FfprobeOutput {
    #[serde(default)]
    streams: Vec<FfStream>,
    format: Option<FfFormat>,
}

#[derive(Deserialize)]
struct FfStream {
    codec_type: Option<String>,
    codec_name: Option<String>,
    sample_rate: Option<String>,
    channels: Option<u16>,
}

#[derive(Deserialize)]
struct FfFormat {
    format_name: Option<String>,
    duration: Option<String>,
    bit_rate: Option<String>,
}

/// Run a tool with a time budget; its stdout on success.
async fn run(tool: &str, args: &[&std::ffi::OsStr], budget: Duration) -> Result<Vec<u8>, TranscodeError> {
    let child = Command::new(tool)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let output = tokio::time::timeout(budget, child.wait_with_output())
        .await
        .map_err(|_| TranscodeError::Timeout(budget))??;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let message: String = stderr.trim().chars().take(500).collect();
        return Err(TranscodeError::Ffmpeg(format!("{tool} exited with {}: {message}", output.status)));
    }
    Ok(output.stdout)
}

fn remaining(started: Instant, limits: Limits) -> Result<Duration, TranscodeError> {
    limits.deadline.checked_sub(started.elapsed()).ok_or(TranscodeError::Timeout(limits.deadline))
}

async fn ffprobe(input: &Path, budget: Duration) -> Result<Probe, TranscodeError> {
    let args = ["-v", "error", "-print_format", "json", "-show_format", "-show_streams"];
    let mut argv: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    argv.push(input.as_os_str());
    let stdout = run("ffprobe", &argv, budget).await?;
    let parsed: FfprobeOutput = serde_json::from_slice(&stdout)
        .map_err(|e| TranscodeError::Ffmpeg(format!("unreadable ffprobe output: {e}")))?;
    let audio = parsed
        .streams
        .into_iter()
        .find(|s| s.codec_type.as_deref() == Some("audio"))
        .ok_or_else(|| TranscodeError::Unsupported("no audio stream".into()))?;
    let format = parsed.format;
    let sniffed = sniff_file(input)?;
    let container = match (sniffed, format.as_ref().and_then(|f| f.format_name.as_deref())) {
        ("unknown", Some(name)) => name.split(',').next().unwrap_or(name).to_owned(),
        (sniffed, _) => sniffed.to_owned(),
    };
    let duration_secs = format.as_ref().and_then(|f| f.duration.as_deref()?.parse::<f64>().ok());
    let bitrate_kbps =
        format.as_ref().and_then(|f| f.bit_rate.as_deref()?.parse::<u64>().ok()).map(|b| (b / 1000) as u32);
    Ok(Probe {
        container,
        codec: audio.codec_name.unwrap_or_else(|| "unknown".into()),
        duration_secs,
        sample_rate: audio.sample_rate.and_then(|r| r.parse().ok()),
        channels: audio.channels,
        bitrate_kbps,
    })
}

/// Transcode with ffmpeg, then measure the rendition.
pub(super) async fn transcode(input: &Path, limits: Limits) -> Result<Transcoded, TranscodeError> {
    let started = Instant::now();
    let probe = ffprobe(input, remaining(started, limits)?).await?;
    let max_secs = limits.max_duration.as_secs();
    if probe.duration_secs.is_some_and(|d| d > max_secs as f64) {
        return Err(TranscodeError::TooLong { max_secs });
    }
    let output = tempfile::Builder::new().suffix(".mp3").tempfile()?.into_temp_path();
    let channels = if probe.channels == Some(1) { "1" } else { "2" };
    let bitrate = format!("{MP3_BITRATE_KBPS}k");
    let max_secs = max_secs.to_string();
    let mut argv: Vec<&std::ffi::OsStr> = ["-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i"]
        .iter()
        .map(std::ffi::OsStr::new)
        .collect();
    argv.push(input.as_os_str());
    for arg in ["-map", "0:a:0", "-vn", "-map_metadata", "-1", "-t", &max_secs, "-ac", channels] {
        argv.push(std::ffi::OsStr::new(arg));
    }
    for arg in ["-c:a", "libmp3lame", "-b:a", &bitrate, "-f", "mp3"] {
        argv.push(std::ffi::OsStr::new(arg));
    }
    argv.push(output.as_os_str());
    run("ffmpeg", &argv, remaining(started, limits)?).await?;

    let rendition_path = output.to_path_buf();
    let analysis_limits = Limits { deadline: remaining(started, limits)?, ..limits };
    let (measured, loudness_lufs, waveform) =
        tokio::task::spawn_blocking(move || builtin::analyze(&rendition_path, analysis_limits))
            .await
            .map_err(|e| TranscodeError::Panicked(e.to_string()))??;
    let probe = Probe { duration_secs: probe.duration_secs.or(measured.duration_secs), ..probe };
    let size = std::fs::metadata(&output)?.len();
    let rendition = Rendition {
        content_type: "audio/mpeg",
        format: "mp3",
        bitrate_kbps: MP3_BITRATE_KBPS,
        size,
        file: output,
    };
    Ok(Transcoded { probe, rendition, loudness_lufs, waveform })
}
