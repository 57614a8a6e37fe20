//! Snapshots and log archives (not built yet; see issue 8).
//!
//! This crate will own `reprise snapshot create|list|restore`: consistent online backups of `views.db`
//! with a manifest (checkpoint seq, schema version, row counts, sha256), zstd-compressed into the object
//! store, and sealed, checksummed segments of the event log (`reprise log export|import`) so a new node
//! can start from object storage alone and then follow the tail of the log.
