//! Test audio made in-process: a WAV of a sine wave, and (when ffmpeg is installed) other formats made
//! from it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Write a 16-bit PCM WAV of a sine at `freq` Hz and `amplitude` (of full scale) on every channel.
pub fn write_sine_wav(path: &Path, rate: u32, channels: u16, secs: f64, freq: f64, amplitude: f64) {
    let frames = (f64::from(rate) * secs) as u32;
    let data_len = frames * u32::from(channels) * 2;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * u32::from(channels) * 2).to_le_bytes());
    out.extend_from_slice(&(channels * 2).to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for i in 0..frames {
        let t = f64::from(i) / f64::from(rate);
        let sample = (amplitude * (2.0 * std::f64::consts::PI * freq * t).sin() * 32767.0) as i16;
        for _ in 0..channels {
            out.extend_from_slice(&sample.to_le_bytes());
        }
    }
    std::fs::write(path, out).expect("write wav");
}

pub fn ffmpeg_installed() -> bool {
    Command::new("ffmpeg").arg("-version").output().is_ok_and(|o| o.status.success())
}

/// Convert `input` with ffmpeg into `dir/name` using `codec_args`.
pub fn ffmpeg_convert(input: &Path, dir: &Path, name: &str, codec_args: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i"])
        .arg(input)
        .args(codec_args)
        .arg(&out)
        .status()
        .expect("run ffmpeg");
    assert!(status.success(), "ffmpeg {codec_args:?}");
    out
}
