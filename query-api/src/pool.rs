//! A small pool of read-only SQLite connections, used from blocking threads.

use std::path::PathBuf;
use std::sync::Mutex;

use rusqlite::Connection;

use crate::ApiError;

/// Idle connections kept for reuse; more are opened on demand under load.
const MAX_IDLE: usize = 16;

#[derive(Debug)]
pub struct Pool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Pool {
    pub fn open(path: PathBuf) -> Result<Self, reprise_projector::ProjectorError> {
        let first = reprise_projector::schema::open_read_only(&path)?;
        Ok(Pool { path, idle: Mutex::new(vec![first]) })
    }

    /// Runs `f` with a connection on a blocking thread: SQLite calls must not stall the async workers.
    pub async fn run<T: Send + 'static>(
        self: &std::sync::Arc<Self>,
        f: impl FnOnce(&Connection) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let pool = self.clone();
        tokio::task::spawn_blocking(move || {
            let conn = match pool.idle.lock().map_err(ApiError::internal)?.pop() {
                Some(c) => c,
                None => reprise_projector::schema::open_read_only(&pool.path).map_err(ApiError::internal)?,
            };
            let out = f(&conn);
            let mut idle = pool.idle.lock().map_err(ApiError::internal)?;
            if idle.len() < MAX_IDLE {
                idle.push(conn);
            }
            out
        })
        .await
        .map_err(ApiError::internal)?
    }
}
