//! Media: playable audio for every indexed track.
//!
//! This crate owns fetching audio blobs from their owner's PDS (`com.atproto.sync.getBlob`, through
//! reprise-atproto-net's SSRF guard and DID resolution, size-capped, hashed while streaming and checked
//! against the blob CID: [`fetch`]), transcoding them to a playable MP3 rendition with loudness and
//! waveform ([`transcode`]), where a blob's objects live in the store ([`keys`]), the job runner that
//! reports state changes for the event log ([`jobs`], [`pipeline`]), and the audio routes ([`serve`]). It
//! never writes the event log itself: the binary records what [`jobs::JobEvents`] reports.

pub mod config;
pub mod fetch;
pub mod jobs;
pub mod keys;
pub mod pipeline;
pub mod serve;
pub mod transcode;

pub use config::{MediaConfig, TranscoderKind};
