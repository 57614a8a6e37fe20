//! The read models' tables (`views.db`). Rebuild is the migration: a file with another schema version
//! is refused, and `reprise rebuild` writes a fresh one. Every table is documented in SCHEMA.md.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use crate::ProjectorError;

/// Bump with any change below, and describe the change in SCHEMA.md.
pub const VERSION: i64 = 1;

/// File name of the read models inside the data directory.
pub const VIEWS_FILE: &str = "views.db";

const TABLES: &str = "
CREATE TABLE IF NOT EXISTS checkpoint (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL
);
INSERT OR IGNORE INTO checkpoint (id, seq) VALUES (1, 0);

CREATE TABLE IF NOT EXISTS record_heads (
    uri      TEXT PRIMARY KEY,
    rev      TEXT NOT NULL,
    cid      TEXT,
    deleted  INTEGER NOT NULL,
    seq      INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS tracks (
    uri              TEXT PRIMARY KEY,
    did              TEXT NOT NULL,
    rkey             TEXT NOT NULL,
    cid              TEXT NOT NULL,
    rev              TEXT NOT NULL,
    title            TEXT NOT NULL,
    artist           TEXT NOT NULL,
    album            TEXT,
    duration         INTEGER,
    file_type        TEXT NOT NULL,
    audio_url        TEXT,
    audio_blob_cid   TEXT,
    audio_blob_mime  TEXT,
    audio_blob_size  INTEGER,
    image_url        TEXT,
    description      TEXT,
    features         TEXT NOT NULL,
    labels           TEXT,
    created_at       TEXT NOT NULL,
    sort_at_us       INTEGER NOT NULL,
    indexed_at_us    INTEGER NOT NULL,
    seq              INTEGER NOT NULL
) WITHOUT ROWID;
";

/// Secondary indexes: created after a bulk rebuild, which is several times faster than maintaining them.
const INDEXES: &str = "
CREATE INDEX IF NOT EXISTS tracks_feed ON tracks (sort_at_us DESC, uri DESC);
CREATE INDEX IF NOT EXISTS tracks_by_artist ON tracks (did, sort_at_us DESC, uri DESC);
";

/// Opens `views.db` for the projector, creating it when new; refuses another schema version.
pub(crate) fn open_rw(path: &Path) -> Result<Connection, ProjectorError> {
    let conn = Connection::open(path)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA busy_timeout = 5000;
         PRAGMA cache_size = -131072;",
    )?;
    init(&conn, true)?;
    Ok(conn)
}

/// Opens a fresh file for a bulk rebuild: no journal and no fsync until the end, when the finished
/// file is made durable and renamed into place.
pub(crate) fn open_bulk(path: &Path) -> Result<Connection, ProjectorError> {
    let conn = Connection::open(path)?;
    conn.execute_batch(
        "PRAGMA journal_mode = OFF;
         PRAGMA synchronous = OFF;
         PRAGMA locking_mode = EXCLUSIVE;
         PRAGMA cache_size = -262144;",
    )?;
    init(&conn, false)?;
    Ok(conn)
}

pub(crate) fn finish_bulk(conn: &Connection) -> Result<(), ProjectorError> {
    conn.execute_batch(INDEXES)?;
    conn.execute_batch("PRAGMA journal_mode = DELETE; PRAGMA synchronous = FULL; VACUUM;")?;
    Ok(())
}

fn init(conn: &Connection, with_indexes: bool) -> Result<(), ProjectorError> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let empty: bool =
        conn.query_row("SELECT COUNT(*) = 0 FROM sqlite_schema WHERE type = 'table'", [], |r| r.get(0))?;
    if !empty && found != VERSION {
        return Err(ProjectorError::SchemaMismatch { found, expected: VERSION });
    }
    conn.execute_batch(TABLES)?;
    if with_indexes {
        conn.execute_batch(INDEXES)?;
    }
    conn.execute_batch(&format!("PRAGMA user_version = {VERSION}"))?;
    Ok(())
}

/// Opens `views.db` read-only (the API's connections) and checks its schema version.
pub fn open_read_only(path: &Path) -> Result<Connection, ProjectorError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
    )?;
    conn.execute_batch("PRAGMA busy_timeout = 5000; PRAGMA query_only = ON;")?;
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found != VERSION {
        return Err(ProjectorError::SchemaMismatch { found, expected: VERSION });
    }
    Ok(conn)
}
