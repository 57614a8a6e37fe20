//! The crate's one error type.

use std::path::PathBuf;

use reprise_events::LogError;

#[derive(Debug, thiserror::Error)]
pub enum ProjectorError {
    #[error("read model database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("views.db has schema version {found}, this build expects {expected}: run `reprise rebuild`")]
    SchemaMismatch { found: i64, expected: i64 },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}
