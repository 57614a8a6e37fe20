//! The in-process backend: symphonia decodes (wav, mp3, flac, aac/m4a), LAME encodes. Runs on a blocking
//! thread; the decoder runs inside `catch_unwind`, the deadline is checked between packets, and the decoded
//! length is capped.

use std::io::BufWriter;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::time::Instant;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{CODEC_TYPE_NULL, CodecParameters, DecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use super::analysis::{Loudness, WaveformBuilder};
use super::mp3::Mp3Sink;
use super::{
    Limits, MP3_BITRATE_KBPS, Probe, Rendition, TranscodeError, Transcoded, average_kbps, sniff_file,
};

fn corrupt(e: impl std::fmt::Display) -> TranscodeError {
    TranscodeError::Corrupt(e.to_string())
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Run `f`, turning a panic into [`TranscodeError::Panicked`].
fn guarded<T>(f: impl FnOnce() -> Result<T, TranscodeError>) -> Result<T, TranscodeError> {
    std::panic::catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|p| Err(TranscodeError::Panicked(panic_message(p))))
}

fn open(path: &Path) -> Result<(Box<dyn FormatReader>, u32, CodecParameters), TranscodeError> {
    let file = std::fs::File::open(path)?;
    let source = MediaSourceStream::new(Box::new(file), Default::default());
    let options = FormatOptions { enable_gapless: true, ..Default::default() };
    let probed = symphonia::default::get_probe()
        .format(&Hint::new(), source, &options, &MetadataOptions::default())
        .map_err(|e| match e {
            SymphoniaError::Unsupported(what) => TranscodeError::Unsupported(what.to_owned()),
            other => corrupt(other),
        })?;
    let format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| TranscodeError::Unsupported("no audio track".into()))?;
    let (id, params) = (track.id, track.codec_params.clone());
    Ok((format, id, params))
}

fn codec_name(params: &CodecParameters) -> String {
    symphonia::default::get_codecs()
        .get_codec(params.codec)
        .map(|d| d.short_name.to_owned())
        .unwrap_or_else(|| "unknown".into())
}

/// Probe the original's header (no decoding); the duration is `None` when the header does not say.
pub fn probe(path: &Path) -> Result<Probe, TranscodeError> {
    let container = sniff_file(path)?.to_owned();
    guarded(|| {
        let (_, _, params) = open(path)?;
        let sample_rate = params.sample_rate;
        let duration_secs = match (params.n_frames, sample_rate) {
            (Some(n), Some(rate)) if rate > 0 => Some(n as f64 / f64::from(rate)),
            _ => None,
        };
        Ok(Probe {
            container,
            codec: codec_name(&params),
            duration_secs,
            sample_rate,
            channels: params.channels.map(|c| c.count() as u16),
            bitrate_kbps: average_kbps(path, duration_secs),
        })
    })
}

/// Decode `input`, encode the MP3 rendition, and measure loudness and waveform.
pub fn transcode(input: &Path, limits: Limits) -> Result<Transcoded, TranscodeError> {
    let container = sniff_file(input)?.to_owned();
    let output = tempfile::NamedTempFile::new()?;
    let (probe, loudness_lufs, waveform) = guarded(|| decode_all(input, Some(output.as_file()), limits))?;
    let probe = Probe { container, bitrate_kbps: average_kbps(input, probe.duration_secs), ..probe };
    let size = output.as_file().metadata()?.len();
    let rendition = Rendition {
        content_type: "audio/mpeg",
        format: "mp3",
        bitrate_kbps: MP3_BITRATE_KBPS,
        size,
        file: output.into_temp_path(),
    };
    Ok(Transcoded { probe, rendition, loudness_lufs, waveform })
}

pub(super) type Measured = (Probe, Option<f64>, super::Waveform);

/// Decode `input` for loudness and waveform only (no rendition).
pub(super) fn analyze(input: &Path, limits: Limits) -> Result<Measured, TranscodeError> {
    guarded(|| decode_all(input, None, limits))
}

fn decode_all(
    input: &Path,
    output: Option<&std::fs::File>,
    limits: Limits,
) -> Result<Measured, TranscodeError> {
    let started = Instant::now();
    let (mut format, track_id, params) = open(input)?;
    let mut decoder = symphonia::default::get_codecs()
        .make(&params, &DecoderOptions::default())
        .map_err(|e| TranscodeError::Unsupported(e.to_string()))?;
    let mut state: Option<Pipeline> = None;
    let mut samples: Option<SampleBuffer<f32>> = None;
    let mut bad_packets = 0u32;
    loop {
        if started.elapsed() > limits.deadline {
            return Err(TranscodeError::Timeout(limits.deadline));
        }
        let packet = match format.next_packet() {
            Ok(packet) => packet,
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(corrupt(e)),
        };
        if packet.track_id() != track_id {
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(decoded) => decoded,
            Err(SymphoniaError::DecodeError(_) | SymphoniaError::IoError(_)) => {
                bad_packets += 1;
                if bad_packets > limits.max_bad_packets {
                    return Err(corrupt(format!("more than {} undecodable packets", limits.max_bad_packets)));
                }
                continue;
            }
            Err(e) => return Err(corrupt(e)),
        };
        let spec = *decoded.spec();
        let channels = spec.channels.count();
        if decoded.frames() == 0 {
            continue;
        }
        let buffer = match &mut samples {
            Some(b) if b.capacity() >= decoded.capacity() * channels => b,
            slot => slot.insert(SampleBuffer::new(decoded.capacity() as u64, spec)),
        };
        buffer.copy_interleaved_ref(decoded);
        let pipeline = match &mut state {
            Some(p) => p,
            None => state.insert(Pipeline::new(spec.rate, channels, output, limits)?),
        };
        if (spec.rate, channels) != (pipeline.rate, pipeline.channels) {
            return Err(corrupt("sample rate or channel count changed mid-stream"));
        }
        pipeline.push(buffer.samples())?;
    }
    let pipeline = state.ok_or_else(|| corrupt("no decodable audio"))?;
    pipeline.finish(codec_name(&params))
}

/// Where decoded audio goes: the encoder, the loudness meter and the waveform.
struct Pipeline<'a> {
    rate: u32,
    channels: usize,
    frames: u64,
    max_frames: u64,
    max_secs: u64,
    mp3: Option<Mp3Sink<BufWriter<&'a std::fs::File>>>,
    loudness: Loudness,
    waveform: WaveformBuilder,
}

impl<'a> Pipeline<'a> {
    fn new(
        rate: u32,
        channels: usize,
        output: Option<&'a std::fs::File>,
        limits: Limits,
    ) -> Result<Self, TranscodeError> {
        if rate == 0 || channels == 0 {
            return Err(corrupt("zero sample rate or channels"));
        }
        let max_secs = limits.max_duration.as_secs();
        Ok(Self {
            rate,
            channels,
            frames: 0,
            max_frames: max_secs.saturating_mul(u64::from(rate)),
            max_secs,
            mp3: output
                .map(|out| Mp3Sink::new(rate, channels, BufWriter::with_capacity(256 * 1024, out)))
                .transpose()?,
            loudness: Loudness::new(channels, rate),
            waveform: WaveformBuilder::new(rate),
        })
    }

    fn push(&mut self, interleaved: &[f32]) -> Result<(), TranscodeError> {
        self.frames += (interleaved.len() / self.channels) as u64;
        if self.frames > self.max_frames {
            return Err(TranscodeError::TooLong { max_secs: self.max_secs });
        }
        if let Some(mp3) = &mut self.mp3 {
            mp3.push(interleaved, self.channels)?;
        }
        self.loudness.push(interleaved);
        self.waveform.push(interleaved, self.channels);
        Ok(())
    }

    fn finish(self, codec: String) -> Result<Measured, TranscodeError> {
        if let Some(mp3) = self.mp3 {
            mp3.finish()?;
        }
        let probe = Probe {
            container: String::new(),
            codec,
            duration_secs: Some(self.frames as f64 / f64::from(self.rate)),
            sample_rate: Some(self.rate),
            channels: u16::try_from(self.channels).ok(),
            bitrate_kbps: None,
        };
        Ok((probe, self.loudness.finish(), self.waveform.finish()))
    }
}
