//! The log's error type.

/// What can go wrong opening, appending to or reading the log.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("cannot create {path}: {source}")]
    Io { path: std::path::PathBuf, source: std::io::Error },
    #[error("event log database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("event log file format {found} is newer than this build understands ({supported})")]
    FormatTooNew { found: i64, supported: i64 },
    #[error("event {seq} has schema version {version}, newer than this build understands ({supported})")]
    EventVersionTooNew { seq: i64, version: i64, supported: i64 },
    #[error("event {seq} is corrupt: {reason}")]
    Corrupt { seq: i64, reason: String },
    #[error("log segment refused: {0}")]
    BadSegment(String),
    #[error("the log refuses further appends after a failed commit: {0}")]
    Poisoned(String),
}
