//! Media: playable audio for every indexed track.
//!
//! This crate owns resolving a DID to its PDS ([`identity`]), fetching audio blobs from it
//! (`com.atproto.sync.getBlob`, behind the SSRF guard in [`net`], size-capped, hashed while streaming and
//! checked against the blob CID: [`fetch`]), transcoding them to a playable MP3 rendition with loudness and
//! waveform ([`transcode`]), the object-store trait with its local-file and S3 backends ([`store`]), the job
//! runner that reports state changes for the event log ([`jobs`], [`pipeline`]), and the audio routes
//! ([`serve`]). It never writes the event log itself: the binary records what [`jobs::JobEvents`] reports.

pub mod config;
pub mod fetch;
pub mod identity;
pub mod jobs;
pub mod net;
pub mod pipeline;
pub mod serve;
pub mod store;
pub mod transcode;

pub use config::{IdentityConfig, MediaConfig, S3Config, StorageBackend, StorageConfig, TranscoderKind};
pub use store::{
    ByteRange, GetObject, ListedObject, LocalStore, ObjectKey, ObjectMeta, ObjectStore, S3Store, StoreError,
};

/// The object store `config` names: local files under `local_root`, or the configured S3 bucket.
pub fn open_store(
    config: &StorageConfig,
    local_root: &std::path::Path,
) -> Result<std::sync::Arc<dyn ObjectStore>, StoreError> {
    Ok(match config.backend {
        StorageBackend::Local => std::sync::Arc::new(LocalStore::new(local_root)),
        StorageBackend::S3 => std::sync::Arc::new(S3Store::new(&config.s3)?),
    })
}
