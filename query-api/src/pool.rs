//! A bounded pool of read-only SQLite connections, used from blocking threads.
//!
//! Requests wait (asynchronously) for a free connection rather than opening more: opening one
//! parses the schema, attaches the log and starts with an empty statement cache, which costs more
//! than most queries, and SQLite reads cannot run faster than the cores anyway.
//!
//! The projector's checkpoint, which every cacheable request reads first, comes from one more
//! connection kept for that alone and read on the request's own thread: a point read of a page in
//! SQLite's cache takes microseconds, while a hop to a blocking thread (and a wait for a pool
//! connection behind slower queries) takes far longer and made cache hits queue behind misses.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension};
use tokio::sync::Semaphore;

use crate::ApiError;

#[derive(Debug)]
pub struct Pool {
    path: PathBuf,
    log: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// Reads the checkpoint only; never waits for a lock (`busy_timeout` 0), so it cannot stall
    /// the async thread it runs on: when busy, the read goes through the pool instead.
    probe: Mutex<Connection>,
    /// One permit per connection the pool may hold; a request keeps its permit until its blocking
    /// work ends, even when the request itself was dropped (timed out) before that.
    permits: Arc<Semaphore>,
}

impl Pool {
    /// Connections to `views` (read-only) with the log at `log` attached read-only as `log`; at
    /// most `size` (at least 1) at once.
    pub fn open(
        views: PathBuf,
        log: PathBuf,
        size: usize,
    ) -> Result<Self, reprise_projector::ProjectorError> {
        let first = connect(&views, &log)?;
        let probe = reprise_projector::schema::open_read_only(&views)?;
        probe.busy_timeout(std::time::Duration::ZERO)?;
        Ok(Pool {
            path: views,
            log,
            idle: Mutex::new(vec![first]),
            probe: Mutex::new(probe),
            permits: Arc::new(Semaphore::new(size.max(1))),
        })
    }

    /// Runs `f` with a connection on a blocking thread: SQLite calls must not stall the async workers.
    pub async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Connection) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let permit = self.permits.clone().acquire_owned().await.map_err(ApiError::internal)?;
        let pool = self.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let conn = match pool.idle.lock().map_err(ApiError::internal)?.pop() {
                Some(c) => c,
                None => connect(&pool.path, &pool.log).map_err(ApiError::internal)?,
            };
            let out = f(&conn);
            pool.idle.lock().map_err(ApiError::internal)?.push(conn);
            out
        })
        .await
        .map_err(ApiError::internal)?
    }

    /// The projector's checkpoint: the version of the read models (0 before the first batch), as
    /// committed when this is called.
    pub async fn checkpoint(self: &Arc<Self>) -> Result<i64, ApiError> {
        // Held for one point read, which never waits inside SQLite.
        let quick = read_checkpoint(&self.probe.lock().unwrap_or_else(|p| p.into_inner()));
        match quick {
            Ok(seq) => Ok(seq),
            // SQLite is busy (a WAL reset or recovery under way): wait for a pool connection instead.
            Err(_) => self.run(|conn| Ok(read_checkpoint(conn)?)).await,
        }
    }
}

fn read_checkpoint(conn: &Connection) -> rusqlite::Result<i64> {
    let mut stmt = conn.prepare_cached("SELECT seq FROM checkpoint WHERE id = 1")?;
    Ok(stmt.query_row([], |r| r.get::<_, i64>(0)).optional()?.unwrap_or(0))
}

/// Read through a memory map rather than `read` into SQLite's page cache: with views.db far larger
/// than any connection's cache, a trackView's dozens of random page reads were each a syscall, a
/// copy and a page-cache allocation behind one lock shared by every connection (a quarter of the
/// CPU under load). SQLite caps this at 2 GiB by default; pages past the map are read as before.
/// Mapped pages that were read count in the process's RSS (as file-backed, reclaimable memory), so
/// RSS now grows toward the size of the hot part of views.db.
const MMAP_BYTES: i64 = 2 << 30;

fn connect(
    views: &std::path::Path,
    log: &std::path::Path,
) -> Result<Connection, reprise_projector::ProjectorError> {
    let conn = reprise_projector::schema::open_read_only(views)?;
    // Before the ATTACH, so the log is mapped too.
    conn.pragma_update(None, "mmap_size", MMAP_BYTES)?;
    conn.execute("ATTACH DATABASE ?1 AS log", [format!("file:{}?mode=ro", log.display())])?;
    Ok(conn)
}
