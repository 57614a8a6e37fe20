//! The crate's error type.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The object is truncated, corrupt, of an unknown version, or does not fit this node. Nothing was
    /// changed.
    #[error("refused: {0}")]
    Refused(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("object store: {0}")]
    Store(#[from] reprise_store::StoreError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error(transparent)]
    Log(#[from] reprise_events::LogError),
    #[error(transparent)]
    Projector(#[from] reprise_projector::ProjectorError),
    #[error("background task failed: {0}")]
    Task(String),
}

impl SnapshotError {
    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Self + use<> {
        let path = path.to_owned();
        move |source| SnapshotError::Io { path, source }
    }
}

/// Runs blocking work (SQLite, compression, file copies) off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SnapshotError> + Send + 'static,
) -> Result<T, SnapshotError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| SnapshotError::Task(e.to_string()))?
}
