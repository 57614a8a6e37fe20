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
    log: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Pool {
    /// Connections to `views` (read-only) with the log at `log` attached read-only as `log`.
    pub fn open(views: PathBuf, log: PathBuf) -> Result<Self, reprise_projector::ProjectorError> {
        let first = connect(&views, &log)?;
        Ok(Pool { path: views, log, idle: Mutex::new(vec![first]) })
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
                None => connect(&pool.path, &pool.log).map_err(ApiError::internal)?,
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

fn connect(
    views: &std::path::Path,
    log: &std::path::Path,
) -> Result<Connection, reprise_projector::ProjectorError> {
    let conn = reprise_projector::schema::open_read_only(views)?;
    conn.execute("ATTACH DATABASE ?1 AS log", [format!("file:{}?mode=ro", log.display())])?;
    Ok(conn)
}
