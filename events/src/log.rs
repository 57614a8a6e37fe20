//! Appending to and reading from the log.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use tokio::sync::watch;

use crate::checkpointer::{COMMITS_PER_CHECKPOINT, Checkpointer};
use crate::upcast::{COLUMNS, CURRENT_EVENT_VERSION, StoredEvent, decode};
use crate::{Envelope, EventKind, LogError, Operation, schema};

/// An event on its way into the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub envelope: Envelope,
    /// The frame exactly as received.
    pub frame: Vec<u8>,
    /// Where in its source this event was (Jetstream `time_us`, a v2 `seq`, a fixture line number).
    pub source_cursor: Option<i64>,
    /// When reprise received it, unix microseconds.
    pub received_at_us: i64,
}

/// How far a source has been read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceCursor {
    pub source: String,
    pub cursor: i64,
    /// The log's head when the cursor was stored.
    pub last_seq: i64,
    pub updated_at_us: i64,
}

/// What one append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AppendOutcome {
    pub appended: usize,
    /// Events the log already held, dropped.
    pub duplicates: usize,
    /// The log's head after the append.
    pub head: i64,
}

/// A writer of the log (ingest's, the media worker's, `reprise media retry`'s). Appends happen in batches,
/// one transaction each, serialized by SQLite's write lock.
#[derive(Debug)]
pub struct EventLog {
    conn: Connection,
    path: PathBuf,
    head: watch::Sender<i64>,
    poisoned: Option<String>,
    checkpointer: Checkpointer,
}

impl EventLog {
    /// Opens `<data_dir>/events.db`, creating the directory and file if needed.
    pub fn open(data_dir: &Path) -> Result<Self, LogError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|source| LogError::Io { path: data_dir.to_owned(), source })?;
        Self::open_file(&data_dir.join(crate::LOG_FILE))
    }

    pub fn open_file(path: &Path) -> Result<Self, LogError> {
        let conn = schema::open(path)?;
        conn.execute_batch("PRAGMA wal_autocheckpoint = 0")?;
        let head = max_seq(&conn)?;
        let checkpointer = Checkpointer::start(path, COMMITS_PER_CHECKPOINT)?;
        Ok(EventLog {
            conn,
            path: path.to_owned(),
            head: watch::Sender::new(head),
            poisoned: None,
            checkpointer,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends a batch in one transaction, dropping events the log already holds, and stores `cursor`
    /// as `source`'s position in the same transaction, unless the stored one is further: a position
    /// only moves forward (a resume's rewind, a host's replay or a file read again from its first line
    /// deliver older ones). Readers are woken once the batch is durable.
    pub fn append(
        &mut self,
        source: &str,
        events: &[NewEvent],
        cursor: Option<i64>,
    ) -> Result<AppendOutcome, LogError> {
        if let Some(reason) = &self.poisoned {
            return Err(LogError::Poisoned(reason.clone()));
        }
        let result = append_in_tx(&mut self.conn, source, events, cursor);
        match result {
            Ok(outcome) => {
                self.checkpointer.committed();
                if outcome.appended > 0 {
                    self.head.send_replace(outcome.head);
                }
                Ok(outcome)
            }
            // After a failed commit the state of the file is uncertain (fsync errors are not retryable),
            // so this handle stops writing; reopening re-reads what actually reached the disk.
            Err(e) => {
                self.poisoned = Some(e.to_string());
                Err(e)
            }
        }
    }

    /// Sets `source`'s position even below the stored one, or forgets it (`None`): only for a source
    /// that declared its own history reset (a firehose's `FutureCursor`), so that its old position, which
    /// the source no longer has, is not asked for again. Never for a replay.
    pub fn reset_cursor(&mut self, source: &str, cursor: Option<i64>) -> Result<(), LogError> {
        let head = self.head();
        let conn = self.conn_mut()?;
        let written = match cursor {
            Some(c) => conn.execute(
                "INSERT INTO source_cursors (source, cursor, last_seq, updated_at_us) VALUES (?1, ?2, ?3, 0)
                 ON CONFLICT(source) DO UPDATE SET cursor = excluded.cursor, last_seq = excluded.last_seq,
                    updated_at_us = 0",
                params![source, c, head],
            ),
            None => conn.execute("DELETE FROM source_cursors WHERE source = ?1", [source]),
        };
        if let Err(e) = written {
            self.poisoned = Some(e.to_string());
            return Err(e.into());
        }
        Ok(())
    }

    pub fn cursor(&self, source: &str) -> Result<Option<SourceCursor>, LogError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT source, cursor, last_seq, updated_at_us FROM source_cursors WHERE source = ?1",
            )?
            .query_row([source], cursor_row)
            .optional()?)
    }

    pub fn cursors(&self) -> Result<Vec<SourceCursor>, LogError> {
        all_cursors(&self.conn)
    }

    /// The highest seq in the log (0 when empty).
    pub fn head(&self) -> i64 {
        *self.head.borrow()
    }

    /// A receiver that changes whenever the head moves: readers wait on it instead of polling.
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.head.subscribe()
    }

    /// The write connection for another module's transaction, unless a failed commit poisoned this handle.
    pub(crate) fn conn_mut(&mut self) -> Result<&mut Connection, LogError> {
        match &self.poisoned {
            Some(reason) => Err(LogError::Poisoned(reason.clone())),
            None => Ok(&mut self.conn),
        }
    }

    /// After another module's commit: nudge the checkpointer and wake readers.
    pub(crate) fn committed(&mut self, head: i64) {
        self.checkpointer.committed();
        self.head.send_replace(head);
    }

    /// A separate read-only connection for a reader in another thread.
    pub fn reader(&self) -> Result<LogReader, LogError> {
        LogReader::open_file(&self.path)
    }
}

fn cursor_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SourceCursor> {
    Ok(SourceCursor { source: r.get(0)?, cursor: r.get(1)?, last_seq: r.get(2)?, updated_at_us: r.get(3)? })
}

fn all_cursors(conn: &Connection) -> Result<Vec<SourceCursor>, LogError> {
    let mut stmt = conn.prepare_cached(
        "SELECT source, cursor, last_seq, updated_at_us FROM source_cursors ORDER BY source",
    )?;
    let rows = stmt.query_map([], cursor_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn max_seq(conn: &Connection) -> Result<i64, LogError> {
    Ok(conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0))?)
}

fn append_in_tx(
    conn: &mut Connection,
    source: &str,
    events: &[NewEvent],
    cursor: Option<i64>,
) -> Result<AppendOutcome, LogError> {
    // IMMEDIATE: take the write lock before the duplicate lookups. The media worker and `reprise media
    // retry` append beside ingest; a deferred transaction that read first would fail with BUSY_SNAPSHOT
    // (no busy wait) when another writer committed in between, and poison this handle.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut outcome = AppendOutcome::default();
    {
        // One statement per event: insert unless the same event is already there. Duplicates are
        // found through the `identity` index and confirmed field by field (the key is only a hash).
        // Duplicates are found through the `identity` index and confirmed field by field (the key is
        // only a hash). Two plain statements measured faster than one INSERT ... WHERE NOT EXISTS.
        let mut exists = tx.prepare_cached(
            "SELECT 1 FROM events WHERE identity = ?1 AND kind = ?2
               AND did IS ?3 AND collection IS ?4 AND rkey IS ?5 AND operation IS ?6 AND rev IS ?7
               AND cid IS ?8 AND upstream_seq IS ?9
               AND (kind NOT IN ('rejected', 'media') OR (source = ?10 AND source_cursor IS ?11 AND frame = ?12))
               AND (kind <> 'gap' OR (source = ?10 AND gap_from IS ?13 AND gap_to IS ?14))
             LIMIT 1",
        )?;
        let mut insert = tx.prepare_cached(
            "INSERT INTO events (schema_version, received_at_us, source, source_cursor, kind, did,
                collection, rkey, operation, rev, cid, event_time_us, upstream_seq, reject_reason,
                identity, frame, cid_check, gap_from, gap_to)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
        )?;
        for ev in events {
            let env = &ev.envelope;
            let rejected = env.kind() == EventKind::Rejected;
            let by_bytes = rejected || env.kind() == EventKind::Media;
            let identity = env.identity_key(source, ev.source_cursor, &ev.frame);
            let (kind, op) = (env.kind().as_str(), env.operation.map(|o| o.as_str()));
            let (gap_from, gap_to) = (env.gap.map(|g| g.from), env.gap.map(|g| g.to));
            let seen = exists
                .query_row(
                    params![
                        identity,
                        kind,
                        env.did,
                        env.collection,
                        env.rkey,
                        op,
                        env.rev,
                        env.cid,
                        env.upstream_seq,
                        source,
                        ev.source_cursor,
                        if by_bytes { Some(&ev.frame) } else { None },
                        gap_from,
                        gap_to
                    ],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            let inserted = if seen {
                0
            } else {
                insert.execute(params![
                    CURRENT_EVENT_VERSION,
                    ev.received_at_us,
                    source,
                    ev.source_cursor,
                    kind,
                    env.did,
                    env.collection,
                    env.rkey,
                    op,
                    env.rev,
                    env.cid,
                    env.event_time_us,
                    env.upstream_seq,
                    if rejected { env.reject_reason.as_deref() } else { None },
                    identity,
                    ev.frame,
                    env.cid_check.as_ref().map(|c| c.to_column()),
                    gap_from,
                    gap_to
                ])?
            };
            if inserted == 1 {
                outcome.appended += 1;
            } else {
                outcome.duplicates += 1;
            }
        }
    }
    outcome.head = max_seq(&tx)?;
    if let Some(cursor) = cursor {
        let now = events.last().map(|e| e.received_at_us).unwrap_or_default();
        tx.prepare_cached(
            "INSERT INTO source_cursors (source, cursor, last_seq, updated_at_us) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(source) DO UPDATE SET cursor = excluded.cursor, last_seq = excluded.last_seq,
                updated_at_us = excluded.updated_at_us
             WHERE excluded.cursor >= source_cursors.cursor",
        )?
        .execute(params![source, cursor, outcome.head, now])?;
    }
    tx.commit()?;
    Ok(outcome)
}

/// A read-only view of the log, for the projector, the API and researchers' tools.
#[derive(Debug)]
pub struct LogReader {
    conn: Connection,
}

/// The newest version of one record the log knows, by rev.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRev {
    pub collection: String,
    pub rkey: String,
    pub rev: String,
    /// The newest version is a delete.
    pub deleted: bool,
}

impl LogReader {
    pub fn open(data_dir: &Path) -> Result<Self, LogError> {
        Self::open_file(&data_dir.join(crate::LOG_FILE))
    }

    pub fn open_file(path: &Path) -> Result<Self, LogError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
        )?;
        conn.execute_batch("PRAGMA busy_timeout = 5000; PRAGMA cache_size = -16384;")?;
        Ok(LogReader { conn })
    }

    /// Up to `limit` events with `seq > after`, in seq order.
    pub fn read_after(&self, after: i64, limit: usize) -> Result<Vec<StoredEvent>, LogError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2"))?;
        let mut rows = stmt.query(params![after, limit as i64])?;
        let mut out = Vec::with_capacity(limit.min(4096));
        while let Some(row) = rows.next()? {
            out.push(decode(row)?);
        }
        Ok(out)
    }

    /// Events `after < seq <= until`, at most `limit`.
    pub fn read_range(&self, after: i64, until: i64, limit: usize) -> Result<Vec<StoredEvent>, LogError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM events WHERE seq > ?1 AND seq <= ?2 ORDER BY seq LIMIT ?3"
        ))?;
        let mut rows = stmt.query(params![after, until, limit as i64])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(decode(row)?);
        }
        Ok(out)
    }

    pub fn head(&self) -> Result<i64, LogError> {
        max_seq(&self.conn)
    }

    /// The highest seq received at or before `time_us` (0 when none): for "as of" rebuilds.
    pub fn seq_at_time(&self, time_us: i64) -> Result<i64, LogError> {
        // received_at_us grows with seq except across clock steps, so scan rather than binary-search.
        Ok(self.conn.query_row(
            "SELECT COALESCE(MAX(seq), 0) FROM events WHERE received_at_us <= ?1",
            [time_us],
            |r| r.get(0),
        )?)
    }

    pub fn count_by_kind(&self) -> Result<Vec<(String, i64)>, LogError> {
        let mut stmt =
            self.conn.prepare_cached("SELECT kind, COUNT(*) FROM events GROUP BY kind ORDER BY kind")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn cursors(&self) -> Result<Vec<SourceCursor>, LogError> {
        all_cursors(&self.conn)
    }

    /// Events of one kind with `seq > after`, in seq order (a scan: for rare kinds such as gaps).
    pub fn read_kind_after(&self, kind: EventKind, after: i64) -> Result<Vec<StoredEvent>, LogError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM events WHERE kind = ?1 AND seq > ?2 ORDER BY seq"
        ))?;
        let mut rows = stmt.query(params![kind.as_str(), after])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(decode(row)?);
        }
        Ok(out)
    }

    /// The newest version (by rev; a delete counts) of every record of `dids` the log holds commits for:
    /// what a backfill compares a repo with, to find records deleted while nobody was listening. One scan
    /// of the commits, holding only the wanted DIDs' records.
    pub fn record_revs(&self, dids: &HashSet<String>) -> Result<HashMap<String, Vec<RecordRev>>, LogError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT did, collection, rkey, operation, rev FROM events
             WHERE kind = 'commit' AND did IS NOT NULL AND collection IS NOT NULL AND rkey IS NOT NULL
               AND rev IS NOT NULL",
        )?;
        let mut rows = stmt.query([])?;
        let mut newest: HashMap<String, HashMap<(String, String), RecordRev>> = HashMap::new();
        while let Some(row) = rows.next()? {
            let did: String = row.get(0)?;
            if !dids.contains(&did) {
                continue;
            }
            let (collection, rkey): (String, String) = (row.get(1)?, row.get(2)?);
            let (op, rev): (Option<String>, String) = (row.get(3)?, row.get(4)?);
            let deleted = op.as_deref() == Some(Operation::Delete.as_str());
            let records = newest.entry(did).or_default();
            let slot = records.entry((collection.clone(), rkey.clone()));
            let candidate = RecordRev { collection, rkey, rev, deleted };
            match slot {
                std::collections::hash_map::Entry::Occupied(mut o) if o.get().rev < candidate.rev => {
                    o.insert(candidate);
                }
                std::collections::hash_map::Entry::Occupied(_) => {}
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(candidate);
                }
            }
        }
        Ok(newest.into_iter().map(|(did, records)| (did, records.into_values().collect())).collect())
    }

    /// Every DID that has an event of `kind` in the log, sorted.
    pub fn dids_with(&self, kind: EventKind) -> Result<Vec<String>, LogError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT DISTINCT did FROM events WHERE kind = ?1 AND did IS NOT NULL ORDER BY did",
        )?;
        let rows = stmt.query_map([kind.as_str()], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
