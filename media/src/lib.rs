//! Media: playable audio for every indexed track.
//!
//! This crate owns fetching audio blobs from their owner's PDS (`com.atproto.sync.getBlob`, through
//! reprise-atproto-net's SSRF guard and DID resolution, size-capped, hashed while streaming and checked
//! against the blob CID: [`fetch`]), transcoding them to a playable MP3 rendition with loudness and
//! waveform ([`transcode`]), where a blob's objects live in the store ([`keys`]), the job runner
//! ([`jobs`], [`pipeline`]), the worker that takes jobs from the read models and appends each state change
//! to the log as a `media` event ([`worker`]), and the audio routes ([`serve`]). The binary only wires the
//! worker to its configuration and to `reprise run`'s stop signal.

pub mod config;
pub mod fetch;
pub mod jobs;
pub mod keys;
pub mod pipeline;
pub mod serve;
pub mod transcode;
pub mod worker;

pub use config::{MediaConfig, TranscoderKind};
