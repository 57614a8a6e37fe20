//! The MP3 encoder sink (LAME): mono stays mono, everything else becomes stereo from its first two channels.

use std::io::Write;

use mp3lame_encoder::{Bitrate, Builder, FlushNoGap, InterleavedPcm, MonoPcm, Quality};

use super::{MP3_BITRATE_KBPS, TranscodeError};

/// Highest input rate passed to LAME unchanged; above it LAME resamples to 44.1 kHz.
const MAX_MP3_RATE: u32 = 48_000;

pub(super) struct Mp3Sink<W: Write> {
    encoder: mp3lame_encoder::Encoder,
    stereo: bool,
    pcm: Vec<f32>,
    out: Vec<u8>,
    writer: W,
}

fn encode_error(e: impl std::fmt::Display) -> TranscodeError {
    TranscodeError::Encode(e.to_string())
}

impl<W: Write> Mp3Sink<W> {
    pub fn new(sample_rate: u32, channels: usize, writer: W) -> Result<Self, TranscodeError> {
        let stereo = channels > 1;
        let mut builder = Builder::new().ok_or_else(|| encode_error("lame could not allocate"))?;
        builder.set_num_channels(if stereo { 2 } else { 1 }).map_err(encode_error)?;
        builder.set_sample_rate(sample_rate).map_err(encode_error)?;
        if sample_rate > MAX_MP3_RATE {
            builder.set_output_sample_rate(std::num::NonZeroU32::new(44_100)).map_err(encode_error)?;
        }
        debug_assert_eq!(MP3_BITRATE_KBPS, 192);
        builder.set_brate(Bitrate::Kbps192).map_err(encode_error)?;
        builder.set_quality(Quality::Good).map_err(encode_error)?;
        let encoder = builder.build().map_err(encode_error)?;
        Ok(Self { encoder, stereo, pcm: Vec::new(), out: Vec::new(), writer })
    }

    /// Encode interleaved samples of `channels` channels.
    pub fn push(&mut self, interleaved: &[f32], channels: usize) -> Result<(), TranscodeError> {
        let keep = if self.stereo { 2 } else { 1 };
        self.pcm.clear();
        for frame in interleaved.chunks_exact(channels) {
            for s in &frame[..keep] {
                self.pcm.push(if s.is_finite() { s.clamp(-1.0, 1.0) } else { 0.0 });
            }
        }
        let frames = self.pcm.len() / keep;
        self.out.clear();
        self.out.reserve(mp3lame_encoder::max_required_buffer_size(frames));
        if self.stereo {
            self.encoder.encode_to_vec(InterleavedPcm(&self.pcm[..]), &mut self.out).map_err(encode_error)?;
        } else {
            self.encoder.encode_to_vec(MonoPcm(&self.pcm[..]), &mut self.out).map_err(encode_error)?;
        }
        self.writer.write_all(&self.out)?;
        Ok(())
    }

    pub fn finish(mut self) -> Result<W, TranscodeError> {
        self.out.clear();
        self.out.reserve(7200 * 2);
        self.encoder.flush_to_vec::<FlushNoGap>(&mut self.out).map_err(encode_error)?;
        self.writer.write_all(&self.out)?;
        self.writer.flush()?;
        Ok(self.writer)
    }
}
