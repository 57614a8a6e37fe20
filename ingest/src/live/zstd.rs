//! Jetstream's zstd framing: every binary frame is one zstd frame compressed with a shared dictionary.
//!
//! v1 servers use one fixed dictionary, embedded here (provenance in `PROVENANCE.md` beside this file).

use std::io::Read;
use std::sync::OnceLock;

use zstd::dict::DecoderDictionary;

/// The legacy Jetstream v1 dictionary (112,640 bytes, dictionary ID 1612007021).
pub static V1_DICTIONARY: &[u8] = include_bytes!("jetstream-v1-zstd.dict");

fn prepared_v1() -> &'static DecoderDictionary<'static> {
    static DICT: OnceLock<DecoderDictionary<'static>> = OnceLock::new();
    DICT.get_or_init(|| DecoderDictionary::copy(V1_DICTIONARY))
}

/// Decompresses one v1 binary frame into its JSON text. `max` bounds the output: a bigger frame is an
/// error, not an allocation.
pub fn decompress_v1_frame(data: &[u8], max: usize) -> Result<Vec<u8>, String> {
    decompress(data, max, prepared_v1())
}

/// Reusable per-connection decompressor (the bulk context is reused across frames).
pub(crate) struct FrameDecompressor {
    bulk: zstd::bulk::Decompressor<'static>,
    max: usize,
    /// A v2 host's fetched dictionary; `None`: the embedded v1 one.
    v2: Option<std::sync::Arc<[u8]>>,
}

impl FrameDecompressor {
    pub(crate) fn v1(max: usize) -> Result<Self, String> {
        let bulk =
            zstd::bulk::Decompressor::with_prepared_dictionary(prepared_v1()).map_err(|e| e.to_string())?;
        Ok(FrameDecompressor { bulk, max, v2: None })
    }

    /// For a v2 host, with the dictionary it published.
    pub(crate) fn with_dictionary(dict: std::sync::Arc<[u8]>, max: usize) -> Result<Self, String> {
        let bulk = zstd::bulk::Decompressor::with_dictionary(&dict).map_err(|e| e.to_string())?;
        Ok(FrameDecompressor { bulk, max, v2: Some(dict) })
    }

    pub(crate) fn decompress(&mut self, data: &[u8]) -> Result<Vec<u8>, String> {
        match zstd::zstd_safe::get_frame_content_size(data) {
            Ok(Some(n)) if n as usize <= self.max => self
                .bulk
                .decompress(data, n as usize)
                .map_err(|e| format!("zstd frame does not decompress: {e}")),
            Ok(Some(n)) => Err(format!("zstd frame of {n} bytes exceeds the {}-byte limit", self.max)),
            _ => match &self.v2 {
                None => decompress(data, self.max, prepared_v1()),
                Some(dict) => decompress(data, self.max, &DecoderDictionary::copy(dict)),
            },
        }
    }
}

/// Streaming decompression for frames that do not state their size.
fn decompress(data: &[u8], max: usize, dict: &DecoderDictionary<'_>) -> Result<Vec<u8>, String> {
    let decoder =
        zstd::stream::read::Decoder::with_prepared_dictionary(data, dict).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    decoder
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("zstd frame does not decompress: {e}"))?;
    if out.len() > max {
        return Err(format!("zstd frame exceeds the {max}-byte limit"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_dictionary_is_the_v1_one() {
        assert_eq!(V1_DICTIONARY.len(), 112_640);
        assert_eq!(&V1_DICTIONARY[..4], &0xEC30_A437u32.to_le_bytes());
        assert_eq!(u32::from_le_bytes(V1_DICTIONARY[4..8].try_into().unwrap()), 1_612_007_021);
    }

    #[test]
    fn frames_round_trip_and_oversized_or_garbage_frames_are_errors() {
        let text = br#"{"did":"did:plc:a","time_us":1,"kind":"identity"}"#;
        let packed =
            zstd::bulk::Compressor::with_dictionary(3, V1_DICTIONARY).unwrap().compress(text).unwrap();
        let mut d = FrameDecompressor::v1(1 << 20).unwrap();
        assert_eq!(d.decompress(&packed).unwrap(), text);
        assert_eq!(decompress_v1_frame(&packed, 1 << 20).unwrap(), text);
        assert!(FrameDecompressor::v1(10).unwrap().decompress(&packed).is_err());
        assert!(d.decompress(b"not zstd").is_err());
    }
}
