//! Snapshots of the read models and archives of the log, in the object store.
//!
//! - A **snapshot** is a consistent copy of `views.db` (SQLite's online backup, taken while ingest and
//!   projection keep running), zstd-compressed, with a manifest: checkpoint seq, schema version, row
//!   counts, sha256 of both the file and the stored object, and an anchor naming the log event at the
//!   checkpoint. Restoring one verifies everything before swapping it in; the projector then continues
//!   from its checkpoint. See [`snapshot`].
//! - A **log archive** is the log cut into sealed segments of fixed size (each a compressed,
//!   checksummed SQLite file of the log's own layout) listed in one manifest. Importing them into an
//!   empty node rebuilds its log row for row, cursors included. See [`archive`].
//!
//! Everything is streamed through temporary files: a node's files are far larger than memory allows.

pub mod archive;
mod blob;
mod error;
pub mod schedule;
pub mod snapshot;

pub use archive::{
    ExportOptions, ExportReport, ImportReport, LogManifest, SegmentEntry, export_log, import_log,
};
pub use blob::Digest;
pub use error::SnapshotError;
pub use schedule::run_schedule;
pub use snapshot::{
    ListedSnapshot, LogAnchor, SnapshotManifest, create_snapshot, list_snapshots, prune_snapshots,
    restore_snapshot,
};

/// Version of the manifests written here; a manifest of any other version is refused.
pub const MANIFEST_FORMAT: u32 = 1;
