//! Measurements taken while decoding: integrated loudness (EBU R128) and a peak waveform.

use reprise_events::media::Waveform;

/// Buckets in a waveform (fewer for very short audio).
pub const WAVEFORM_BUCKETS: usize = 1000;

/// Collects peaks per block of ~10 ms, then folds them into at most [`WAVEFORM_BUCKETS`] buckets.
pub(super) struct WaveformBuilder {
    block_frames: u64,
    in_block: u64,
    current: f32,
    blocks: Vec<f32>,
}

impl WaveformBuilder {
    pub fn new(sample_rate: u32) -> Self {
        Self {
            block_frames: u64::from(sample_rate / 100).max(1),
            in_block: 0,
            current: 0.0,
            blocks: Vec::new(),
        }
    }

    pub fn push(&mut self, interleaved: &[f32], channels: usize) {
        for frame in interleaved.chunks_exact(channels) {
            let peak = frame.iter().fold(0.0f32, |m, s| if s.is_finite() { m.max(s.abs()) } else { m });
            self.current = self.current.max(peak);
            self.in_block += 1;
            if self.in_block == self.block_frames {
                self.blocks.push(self.current);
                self.current = 0.0;
                self.in_block = 0;
            }
        }
    }

    pub fn finish(mut self) -> Waveform {
        if self.in_block > 0 {
            self.blocks.push(self.current);
        }
        let n = self.blocks.len();
        let buckets = n.min(WAVEFORM_BUCKETS);
        let peaks = (0..buckets)
            .map(|b| {
                let (start, end) = (b * n / buckets, ((b + 1) * n / buckets).max(b * n / buckets + 1));
                let peak = self.blocks[start..end.min(n)].iter().fold(0.0f32, |m, p| m.max(*p));
                (peak.min(1.0) * 255.0).round() as u8
            })
            .collect();
        Waveform { peaks }
    }
}

/// Integrated loudness of everything pushed.
pub(super) struct Loudness {
    meter: Option<ebur128::EbuR128>,
}

impl Loudness {
    pub fn new(channels: usize, sample_rate: u32) -> Self {
        let channels = u32::try_from(channels).unwrap_or(0);
        Self { meter: ebur128::EbuR128::new(channels, sample_rate, ebur128::Mode::I).ok() }
    }

    pub fn push(&mut self, interleaved: &[f32]) {
        if let Some(meter) = &mut self.meter
            && meter.add_frames_f32(interleaved).is_err()
        {
            self.meter = None;
        }
    }

    /// LUFS, or `None` for silence or when the meter could not run.
    pub fn finish(self) -> Option<f64> {
        self.meter.and_then(|m| m.loudness_global().ok()).filter(|l| l.is_finite())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waveforms_fold_into_at_most_a_thousand_buckets() {
        let mut builder = WaveformBuilder::new(1000);
        let samples: Vec<f32> = (0..200_000).map(|i| if i < 100_000 { 0.5 } else { -1.0 }).collect();
        builder.push(&samples, 1);
        let waveform = builder.finish();
        assert_eq!(waveform.peaks.len(), WAVEFORM_BUCKETS);
        assert_eq!(waveform.peaks[0], 128);
        assert_eq!(waveform.peaks[999], 255);
    }

    #[test]
    fn short_audio_gets_fewer_buckets() {
        let mut builder = WaveformBuilder::new(44_100);
        builder.push(&vec![0.25; 44_100 / 10 * 2], 2);
        assert_eq!(builder.finish().peaks, vec![64; 10], "100 ms in 10 ms blocks");
    }
}
