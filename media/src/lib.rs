//! Media jobs (not built yet; see issue 7).
//!
//! This crate will own fetching audio blobs from the owner's PDS (`com.atproto.sync.getBlob`, SSRF-guarded,
//! size-capped, hashed while streaming and checked against the blob CID), transcoding them to a playable
//! rendition with loudness and waveform, and the object-store trait with its local-file and S3 backends.
//! Job state changes are events in the log, so a rebuild never refetches.
