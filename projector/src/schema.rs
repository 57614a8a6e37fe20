//! The read models' tables (`views.db`). Rebuild is the migration: a file with another schema version
//! is refused, and `reprise rebuild` writes a fresh one. Every table is documented in SCHEMA.md.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use crate::error::ProjectorError;

/// Bump with any change below, and describe the change in SCHEMA.md.
pub const VERSION: i64 = 6;

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

CREATE TABLE IF NOT EXISTS actors (
    did            TEXT PRIMARY KEY,
    handle         TEXT,
    status         TEXT NOT NULL,
    active         INTEGER NOT NULL,
    account_seq    INTEGER,
    identity_seq   INTEGER,
    first_seen_us  INTEGER NOT NULL,
    last_seen_us   INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS handle_history (
    did           TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    handle        TEXT,
    upstream_seq  INTEGER,
    time          TEXT,
    PRIMARY KEY (did, seq)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS profiles (
    did         TEXT PRIMARY KEY,
    uri         TEXT NOT NULL,
    cid         TEXT NOT NULL,
    bio         TEXT,
    avatar      TEXT,
    created_at  TEXT,
    updated_at  TEXT,
    seq         INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS tracks (
    uri              TEXT NOT NULL,
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
    name_key         TEXT NOT NULL,
    seq              INTEGER PRIMARY KEY
);

-- Full-text search over tracks; the rowid is the track's row key (tracks.seq).
CREATE VIRTUAL TABLE IF NOT EXISTS tracks_fts USING fts5(
    uri UNINDEXED, title, artist, album, description, tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TABLE IF NOT EXISTS likes (
    uri            TEXT NOT NULL,
    did            TEXT NOT NULL,
    subject_uri    TEXT NOT NULL,
    subject_cid    TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    sort_at_us     INTEGER NOT NULL,
    indexed_at_us  INTEGER NOT NULL,
    seq            INTEGER PRIMARY KEY
);

CREATE TABLE IF NOT EXISTS comments (
    uri            TEXT NOT NULL,
    did            TEXT NOT NULL,
    subject_uri    TEXT NOT NULL,
    subject_cid    TEXT NOT NULL,
    text           TEXT NOT NULL,
    timestamp_ms   INTEGER NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT,
    sort_at_us     INTEGER NOT NULL,
    indexed_at_us  INTEGER NOT NULL,
    seq            INTEGER PRIMARY KEY
);

CREATE TABLE IF NOT EXISTS lists (
    uri            TEXT NOT NULL,
    did            TEXT NOT NULL,
    cid            TEXT NOT NULL,
    name           TEXT,
    list_type      TEXT NOT NULL,
    item_count     INTEGER NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT,
    sort_at_us     INTEGER NOT NULL,
    indexed_at_us  INTEGER NOT NULL,
    seq            INTEGER PRIMARY KEY
);

CREATE TABLE IF NOT EXISTS list_items (
    list_seq     INTEGER NOT NULL,
    position     INTEGER NOT NULL,
    list_uri     TEXT NOT NULL,
    subject_uri  TEXT NOT NULL,
    subject_cid  TEXT NOT NULL,
    PRIMARY KEY (list_seq, position)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS plays (
    uri                TEXT NOT NULL,
    did                TEXT NOT NULL,
    collection         TEXT NOT NULL,
    track_name         TEXT NOT NULL,
    artists            TEXT NOT NULL,
    release_name       TEXT,
    duration           INTEGER,
    played_time        TEXT,
    sort_at_us         INTEGER NOT NULL,
    origin_uri         TEXT,
    music_service_uri  TEXT,
    match_uri          TEXT,
    match_rkey         TEXT,
    match_name         TEXT,
    seq                INTEGER PRIMARY KEY
);

CREATE TABLE IF NOT EXISTS now_playing (
    did        TEXT PRIMARY KEY,
    uri        TEXT NOT NULL,
    time       TEXT,
    expiry     TEXT,
    expiry_us  INTEGER,
    item       TEXT,
    seq        INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS audit (
    seq         INTEGER PRIMARY KEY,
    did         TEXT,
    uri         TEXT,
    kind        TEXT NOT NULL,
    operation   TEXT,
    rev         TEXT,
    cid         TEXT,
    cid_check   TEXT,
    validation  TEXT NOT NULL,
    errors      TEXT,
    outcome     TEXT NOT NULL,
    reason      TEXT
);
";

/// Indexes the projector itself needs (removing an account's records). A bulk rebuild finds those
/// rows another way and builds these at the end with the others.
const APPLY_INDEXES: &str = "
CREATE INDEX IF NOT EXISTS tracks_by_artist ON tracks (did, sort_at_us DESC, uri DESC);
CREATE INDEX IF NOT EXISTS likes_by_actor ON likes (did, sort_at_us DESC, uri DESC);
CREATE INDEX IF NOT EXISTS comments_by_actor ON comments (did);
CREATE INDEX IF NOT EXISTS lists_by_actor ON lists (did, list_type, sort_at_us DESC, uri DESC);
CREATE INDEX IF NOT EXISTS plays_by_actor ON plays (did, sort_at_us DESC, uri DESC);
";

/// Indexes for the API's queries: created after a bulk rebuild, which is several times faster than
/// maintaining them. Each serves a query the API makes (see SCHEMA.md). `likes_by_subject_with_liker`
/// carries the liker so a track's like count reads the index alone (a table row per like, scattered
/// over the file, was most of a trackView's cost); it replaces `likes_by_subject`, which older files
/// drop when the projector next opens them.
const INDEXES: &str = "
CREATE UNIQUE INDEX IF NOT EXISTS tracks_by_uri ON tracks (uri);
CREATE UNIQUE INDEX IF NOT EXISTS lists_by_uri ON lists (uri);
CREATE INDEX IF NOT EXISTS list_items_by_list ON list_items (list_uri, position);
CREATE INDEX IF NOT EXISTS tracks_feed ON tracks (sort_at_us DESC, uri DESC);
CREATE INDEX IF NOT EXISTS tracks_by_album ON tracks (album, sort_at_us DESC, uri DESC);
CREATE INDEX IF NOT EXISTS actors_by_handle ON actors (handle);
DROP INDEX IF EXISTS likes_by_subject;
CREATE INDEX IF NOT EXISTS likes_by_subject_with_liker ON likes (subject_uri, sort_at_us DESC, uri DESC, did);
CREATE INDEX IF NOT EXISTS comments_by_subject ON comments (subject_uri, timestamp_ms, sort_at_us, uri);
CREATE INDEX IF NOT EXISTS list_items_by_subject ON list_items (subject_uri);
CREATE INDEX IF NOT EXISTS plays_by_match_uri ON plays (match_uri) WHERE match_uri IS NOT NULL;
CREATE INDEX IF NOT EXISTS plays_by_match_rkey ON plays (match_rkey) WHERE match_rkey IS NOT NULL;
CREATE INDEX IF NOT EXISTS plays_by_match_name ON plays (match_name) WHERE match_name IS NOT NULL;
CREATE INDEX IF NOT EXISTS plays_by_time ON plays (sort_at_us);
CREATE INDEX IF NOT EXISTS audit_by_uri ON audit (uri, seq) WHERE uri IS NOT NULL;
CREATE INDEX IF NOT EXISTS audit_by_did ON audit (did, seq) WHERE did IS NOT NULL;
";

/// Opens `views.db` for the projector, creating it when new; refuses another schema version.
/// Distinct statements the projector and the API prepare: rusqlite's default cache (16) is smaller,
/// and re-preparing statements on every event cost ~5x in rebuild throughput.
const STATEMENT_CACHE: usize = 256;

pub(crate) fn open_rw(path: &Path) -> Result<Connection, ProjectorError> {
    let conn = Connection::open(path)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA busy_timeout = 5000;
         PRAGMA cache_size = -131072; PRAGMA wal_autocheckpoint = 0;",
    )?;
    init(&conn, true)?;
    Ok(conn)
}

/// Opens a fresh file for a bulk rebuild: no journal and no fsync until the end, when the finished
/// file is made durable and renamed into place. Its pages are 16 KB: a quarter of the page fetches,
/// allocations and writes of 4 KB pages, which made a rebuild 10-20% faster in paired runs.
pub(crate) fn open_bulk(path: &Path) -> Result<Connection, ProjectorError> {
    let conn = Connection::open(path)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.execute_batch(
        "PRAGMA page_size = 16384;
         PRAGMA journal_mode = OFF;
         PRAGMA synchronous = OFF;
         PRAGMA locking_mode = EXCLUSIVE;
         PRAGMA cache_size = -2097152;
         PRAGMA temp_store = MEMORY;",
    )?;
    init(&conn, false)?;
    Ok(conn)
}

/// Sorter threads for building the indexes at the end of a rebuild: sorting is most of that step,
/// and SQLite can sort in parallel.
const INDEX_SORT_THREADS: u32 = 2;

pub(crate) fn finish_bulk(conn: &Connection) -> Result<(), ProjectorError> {
    // The sorter holds as much as the page cache in one run before handing it to a sorter thread: with
    // the rebuild's 2 GB cache every index was one run, sorted on this thread alone. Small runs are
    // sorted on the other core and merged, which made the index builds ~25% faster (8 MB was as
    // fast as any size from 2 to 32 MB).
    conn.execute_batch(&format!("PRAGMA threads = {INDEX_SORT_THREADS}; PRAGMA cache_size = -8192;"))?;
    create_indexes(conn)?;
    conn.execute_batch("PRAGMA journal_mode = DELETE; PRAGMA synchronous = FULL;")?;
    Ok(())
}

/// Every index: maintained from the start by incremental application, built at the end of a rebuild.
fn create_indexes(conn: &Connection) -> Result<(), ProjectorError> {
    conn.execute_batch(APPLY_INDEXES)?;
    conn.execute_batch(INDEXES)?;
    conn.execute_batch(crate::media::INDEXES)?;
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
    conn.execute_batch(crate::media::TABLES)?;
    if with_indexes {
        create_indexes(conn)?;
    }
    conn.execute_batch(&format!("PRAGMA user_version = {VERSION}"))?;
    Ok(())
}

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
