//! Log segments: a seq range of the log copied row for row (every column, the original seq) into a
//! small SQLite file with the log's own table layout, plus the source cursors as of the range's end.
//! Archives are made of them, and a new node is bootstrapped by importing them in order.
//!
//! Being SQLite, a segment is read and written by the same engine as the log, so no value changes type
//! or bytes on the way; the file's `user_version` is the log format it was written with.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use crate::LogError;
use crate::log::EventLog;
use crate::schema::{ALL_COLUMNS, LOG_FORMAT, TABLES};
use crate::upcast::CURRENT_EVENT_VERSION;

/// What a segment holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentInfo {
    pub first_seq: i64,
    pub last_seq: i64,
    pub events: i64,
}

/// The log format segments are written in; an import refuses any other.
pub const SEGMENT_FORMAT: i64 = LOG_FORMAT;

fn bad(reason: impl Into<String>) -> LogError {
    LogError::BadSegment(reason.into())
}

/// Copies events `first..=last` of the log at `log_path` into a new segment file `out`, in one read
/// transaction (so a log that is being appended to gives a consistent copy). Every seq in the range must
/// exist: a segment is only sealed once the log has reached its end.
pub fn export_segment(log_path: &Path, first: i64, last: i64, out: &Path) -> Result<SegmentInfo, LogError> {
    if first < 1 || last < first {
        return Err(bad(format!("empty seq range {first}..={last}")));
    }
    if !log_path.is_file() {
        return Err(LogError::Io {
            path: log_path.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no event log"),
        });
    }
    if out.exists() {
        return Err(bad(format!("{} already exists", out.display())));
    }
    let mut conn = Connection::open(out)?;
    // A scratch file written once and then checksummed: no journal, no fsync.
    conn.execute_batch(
        "PRAGMA page_size = 16384; PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
         PRAGMA busy_timeout = 5000;",
    )?;
    conn.execute_batch(TABLES)?;
    conn.execute_batch(&format!("PRAGMA user_version = {SEGMENT_FORMAT}"))?;
    conn.execute("ATTACH DATABASE ?1 AS log", [log_path.to_string_lossy()])?;
    let tx = conn.transaction()?;
    let copied = tx.execute(
        &format!(
            "INSERT INTO main.events ({ALL_COLUMNS}) SELECT {ALL_COLUMNS} FROM log.events
             WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq"
        ),
        params![first, last],
    )? as i64;
    if copied != last - first + 1 {
        return Err(bad(format!(
            "the log holds {copied} of the {} events in {first}..={last}: a segment is sealed only once complete",
            last - first + 1
        )));
    }
    // Cursors as of `last`: a source last stored at or before `last` keeps its stored row; one stored
    // later gets the position of its last event in this segment (a resume rewinds and the log drops
    // the overlap), and a source with no event here keeps what an earlier segment gave it.
    tx.execute(
        "INSERT INTO main.source_cursors (source, cursor, last_seq, updated_at_us)
         SELECT source, cursor, last_seq, updated_at_us FROM log.source_cursors WHERE last_seq <= ?1",
        [last],
    )?;
    tx.execute(
        "INSERT INTO main.source_cursors (source, cursor, last_seq, updated_at_us)
         SELECT e.source, e.source_cursor, e.seq, e.received_at_us FROM main.events e
         JOIN log.source_cursors c ON c.source = e.source AND c.last_seq > ?1
         WHERE e.source_cursor IS NOT NULL
           AND e.seq = (SELECT MAX(seq) FROM main.events x
                        WHERE x.source = e.source AND x.source_cursor IS NOT NULL)",
        [last],
    )?;
    tx.commit()?;
    conn.execute_batch("DETACH DATABASE log")?;
    Ok(SegmentInfo { first_seq: first, last_seq: last, events: copied })
}

impl EventLog {
    /// True when the log holds no event and no cursor: the only state a segment import starts from.
    pub fn is_empty(&self) -> Result<bool, LogError> {
        Ok(self.head() == 0 && self.cursors()?.is_empty())
    }

    /// Appends a segment file's events with their original seq and columns, and takes its cursors, in
    /// one transaction. The segment must continue the log exactly (its first seq is the head + 1), be
    /// of this build's format, and be gap-free; anything else is refused before a row is written.
    pub fn import_segment(&mut self, segment: &Path) -> Result<SegmentInfo, LogError> {
        if !segment.is_file() {
            return Err(bad(format!("{} is not a file", segment.display())));
        }
        let head = self.head();
        let conn = self.conn_mut()?;
        // A segment comes from elsewhere: never let its schema run functions in our connection.
        conn.execute_batch("PRAGMA trusted_schema = OFF")?;
        conn.execute("ATTACH DATABASE ?1 AS seg", [segment.to_string_lossy()])
            .map_err(|e| bad(format!("not a readable segment: {e}")))?;
        let result = import_attached(conn, head);
        let detached = conn.execute_batch("DETACH DATABASE seg");
        let info = result?;
        detached?;
        self.committed(info.last_seq);
        Ok(info)
    }
}

fn import_attached(conn: &mut Connection, head: i64) -> Result<SegmentInfo, LogError> {
    let not_sqlite = |e: rusqlite::Error| bad(format!("not a readable segment: {e}"));
    let format: i64 = conn.query_row("PRAGMA seg.user_version", [], |r| r.get(0)).map_err(not_sqlite)?;
    if format != SEGMENT_FORMAT {
        return Err(bad(format!("segment format {format}; this build reads format {SEGMENT_FORMAT}")));
    }
    let columns: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('events', 'seg') ORDER BY cid")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let expected: Vec<&str> = ALL_COLUMNS.split(',').map(str::trim).collect();
    if columns != expected {
        return Err(bad(format!("segment table `events` has columns {columns:?}, expected {expected:?}")));
    }
    let (first, last, count, newest): (Option<i64>, Option<i64>, i64, Option<i64>) = conn.query_row(
        "SELECT MIN(seq), MAX(seq), COUNT(*), MAX(schema_version) FROM seg.events",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    let (Some(first), Some(last)) = (first, last) else { return Err(bad("the segment holds no events")) };
    if first != head + 1 {
        return Err(bad(format!("the segment starts at seq {first}, but the log's head is {head}")));
    }
    if count != last - first + 1 {
        return Err(bad(format!("the segment has {count} events for seqs {first}..={last}: it has gaps")));
    }
    if let Some(v) = newest.filter(|v| *v > CURRENT_EVENT_VERSION) {
        return Err(bad(format!("the segment holds events of schema version {v}, newer than this build's")));
    }
    let tx = conn.transaction()?;
    tx.execute(
        &format!("INSERT INTO main.events ({ALL_COLUMNS}) SELECT {ALL_COLUMNS} FROM seg.events ORDER BY seq"),
        [],
    )?;
    tx.execute(
        "INSERT INTO main.source_cursors (source, cursor, last_seq, updated_at_us)
         SELECT source, cursor, last_seq, updated_at_us FROM seg.source_cursors WHERE true
         ON CONFLICT(source) DO UPDATE SET cursor = excluded.cursor, last_seq = excluded.last_seq,
            updated_at_us = excluded.updated_at_us",
        [],
    )?;
    let stray: Option<i64> = tx
        .query_row("SELECT last_seq FROM main.source_cursors WHERE last_seq > ?1 LIMIT 1", [last], |r| {
            r.get(0)
        })
        .optional()?;
    if let Some(s) = stray {
        return Err(bad(format!("a cursor in the segment points past its end ({s} > {last})")));
    }
    tx.commit()?;
    Ok(SegmentInfo { first_seq: first, last_seq: last, events: count })
}
