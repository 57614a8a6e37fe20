//! `views.db` as its readers know it: the file name, the schema version, the checkpoint (the last log
//! event the read models reflect) and the read-only opening the API and the media worker use.
//! Rebuild is the migration: a file with another schema version is refused, and `reprise rebuild`
//! writes a fresh one. Creating the tables is `store.rs`'s job, from the registry; every table is
//! documented in SCHEMA.md.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use crate::error::ProjectorError;

/// Bump with any change to a table or index of `views.db` (every model's under `model/`, `media.rs`,
/// and the pipeline's own: below, `heads.rs`, `accounts.rs`, `audit.rs`), and describe it in SCHEMA.md.
pub const VERSION: i64 = 6;

/// File name of the read models inside the data directory.
pub const VIEWS_FILE: &str = "views.db";

/// The checkpoint: the last log event applied, moved in each batch's transaction.
pub(crate) const TABLES: &str = "
CREATE TABLE IF NOT EXISTS checkpoint (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL
);
INSERT OR IGNORE INTO checkpoint (id, seq) VALUES (1, 0);";

/// Distinct statements the projector and the API prepare: rusqlite's default cache (16) is smaller,
/// and re-preparing statements on every event cost ~5x in rebuild throughput.
pub(crate) const STATEMENT_CACHE: usize = 256;

/// The last log event the read models reflect.
pub(crate) fn checkpoint(conn: &Connection) -> Result<i64, ProjectorError> {
    Ok(conn.query_row("SELECT seq FROM checkpoint WHERE id = 1", [], |r| r.get(0))?)
}

/// Opens `views.db` read-only (the API's connections) and checks its schema version.
pub fn open_read_only(path: &Path) -> Result<Connection, ProjectorError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
    )?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.execute_batch("PRAGMA busy_timeout = 5000; PRAGMA query_only = ON;")?;
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found != VERSION {
        return Err(ProjectorError::SchemaMismatch { found, expected: VERSION });
    }
    Ok(conn)
}
