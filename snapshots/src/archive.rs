//! The log in the object store: `log/segments/<first>-<last>.db.zst` (sealed segments, see
//! `reprise_events::export_segment`) and `log/manifest/manifest.json` listing them in seq order.
//!
//! Export appends: it continues after the manifest's last segment and uploads only segments that are
//! new, each followed by the rewritten manifest, so an interrupted export loses at most the segment in
//! flight. A segment is sealed only when it is full, or when `--to` ends it. Import builds the whole
//! log in a temporary file beside `events.db` and renames it into place only once every segment has
//! been verified and applied: a bad segment anywhere changes nothing.

use std::path::Path;

use reprise_events::{EventLog, LOG_FILE, LogReader, SEGMENT_FORMAT, export_segment};
use reprise_store::{ObjectKey, ObjectStore};
use serde::{Deserialize, Serialize};

use crate::blob::{self, Digest};
use crate::error::{SnapshotError, blocking};

const PREFIX: &str = "log";

/// The default segment size: ~85 MB of log, ~20 MB stored.
pub const DEFAULT_SEGMENT_EVENTS: i64 = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogManifest {
    pub format: u32,
    /// The log format of every segment (`reprise_events::SEGMENT_FORMAT`).
    pub log_format: i64,
    pub segment_events: i64,
    pub updated_at: String,
    pub segments: Vec<SegmentEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentEntry {
    pub first_seq: i64,
    pub last_seq: i64,
    pub events: i64,
    /// The segment file before compression.
    pub db: Digest,
    /// The stored object.
    pub object: Digest,
}

impl SegmentEntry {
    fn key(&self) -> Result<ObjectKey, SnapshotError> {
        Ok(ObjectKey::new(PREFIX, "segments", &format!("{}-{}.db.zst", self.first_seq, self.last_seq))?)
    }
}

fn manifest_key() -> ObjectKey {
    ObjectKey::new(PREFIX, "manifest", "manifest.json").expect("a valid constant key")
}

#[derive(Debug, Clone, Copy)]
pub struct ExportOptions {
    /// Where the first export starts (default 1); later exports continue after the last segment.
    pub from: Option<i64>,
    /// Seal the last segment at this seq even if it is not full (default: only full segments).
    pub to: Option<i64>,
    pub segment_events: i64,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions { from: None, to: None, segment_events: DEFAULT_SEGMENT_EVENTS }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportReport {
    pub uploaded: Vec<SegmentEntry>,
    /// Segments already in the store and left alone.
    pub kept: usize,
    /// The seq the next export starts at.
    pub next_seq: i64,
    pub head: i64,
}

/// Exports sealed segments of `<data_dir>/events.db` that the store does not have yet.
pub async fn export_log(
    store: &dyn ObjectStore,
    data_dir: &Path,
    opts: ExportOptions,
) -> Result<ExportReport, SnapshotError> {
    if opts.segment_events < 1 {
        return Err(SnapshotError::Refused("segment size must be at least 1 event".into()));
    }
    let log_path = data_dir.join(LOG_FILE);
    if !log_path.is_file() {
        return Err(SnapshotError::NotFound(format!("{}: no event log to export", log_path.display())));
    }
    let head = LogReader::open(data_dir)?.head()?;
    let mut manifest = match blob::get_json::<LogManifest>(store, &manifest_key()).await? {
        Some(m) if m.log_format != SEGMENT_FORMAT => {
            return Err(SnapshotError::Refused(format!(
                "the store's log archive has log format {}, this build writes {SEGMENT_FORMAT}",
                m.log_format
            )));
        }
        Some(m) => m,
        None => LogManifest {
            format: crate::MANIFEST_FORMAT,
            log_format: SEGMENT_FORMAT,
            segment_events: opts.segment_events,
            updated_at: String::new(),
            segments: Vec::new(),
        },
    };
    let kept = manifest.segments.len();
    let mut next = match (manifest.segments.last(), opts.from) {
        (None, from) => from.unwrap_or(1).max(1),
        (Some(last), Some(from)) if from > last.last_seq + 1 => {
            return Err(SnapshotError::Refused(format!(
                "--from {from} would leave a gap: the archive ends at seq {}",
                last.last_seq
            )));
        }
        (Some(last), _) => last.last_seq + 1,
    };
    let end = match opts.to {
        Some(to) if to > head => {
            return Err(SnapshotError::Refused(format!("--to {to} is past the log's head ({head})")));
        }
        Some(to) => to,
        None => head,
    };
    let mut uploaded = Vec::new();
    while next <= end {
        let mut last = next + opts.segment_events - 1;
        if last > end {
            if opts.to.is_none() {
                break; // not full yet: sealed by a later export
            }
            last = end;
        }
        let entry = export_one(store, data_dir, next, last).await?;
        manifest.segments.push(entry.clone());
        manifest.segment_events = opts.segment_events;
        manifest.updated_at = jiff::Timestamp::now().to_string();
        blob::put_json(store, &manifest_key(), &manifest).await?;
        tracing::info!(
            first = entry.first_seq,
            last = entry.last_seq,
            bytes = entry.object.bytes,
            "log segment exported"
        );
        uploaded.push(entry);
        next = last + 1;
    }
    Ok(ExportReport { uploaded, kept, next_seq: next, head })
}

async fn export_one(
    store: &dyn ObjectStore,
    data_dir: &Path,
    first: i64,
    last: i64,
) -> Result<SegmentEntry, SnapshotError> {
    let dir = data_dir.to_owned();
    let (file, info) = blocking(move || {
        let temp = tempfile::Builder::new()
            .prefix(".segment-")
            .tempfile_in(&dir)
            .map_err(SnapshotError::io(&dir))?;
        // export_segment creates the file itself.
        let path = temp.into_temp_path();
        std::fs::remove_file(&path).map_err(SnapshotError::io(&path))?;
        let info = export_segment(&dir.join(LOG_FILE), first, last, &path)?;
        Ok((path, info))
    })
    .await?;
    let mut entry = SegmentEntry {
        first_seq: info.first_seq,
        last_seq: info.last_seq,
        events: info.events,
        db: Digest::pending(),
        object: Digest::pending(),
    };
    let (db, object) = blob::upload(store, &entry.key()?, &file, data_dir).await?;
    (entry.db, entry.object) = (db, object);
    Ok(entry)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub segments: usize,
    pub events: i64,
    pub head: i64,
}

/// Loads the store's log archive into this node, which must be empty (no events, no cursors, no read
/// models past seq 0). The log is built aside and renamed into place only when complete.
pub async fn import_log(store: &dyn ObjectStore, data_dir: &Path) -> Result<ImportReport, SnapshotError> {
    let manifest = blob::get_json::<LogManifest>(store, &manifest_key())
        .await?
        .ok_or_else(|| SnapshotError::NotFound("no log archive in the store".into()))?;
    if manifest.log_format != SEGMENT_FORMAT {
        return Err(SnapshotError::Refused(format!(
            "the log archive has log format {}, this build reads {SEGMENT_FORMAT}",
            manifest.log_format
        )));
    }
    let mut expected = 1;
    for s in &manifest.segments {
        if s.first_seq != expected || s.last_seq < s.first_seq || s.events != s.last_seq - s.first_seq + 1 {
            return Err(SnapshotError::Refused(format!(
                "the log archive's segments do not cover the log from seq 1 without gaps (at seq {expected}: \
                 segment {}..={})",
                s.first_seq, s.last_seq
            )));
        }
        expected = s.last_seq + 1;
    }
    std::fs::create_dir_all(data_dir).map_err(SnapshotError::io(data_dir))?;
    let dir = data_dir.to_owned();
    blocking(move || ensure_empty(&dir)).await?;

    let building = data_dir.join(format!(".{LOG_FILE}.import-{}", std::process::id()));
    let cleanup = Cleanup(building.clone());
    cleanup.remove()?;
    let log = EventLog::open_file(&building)?;
    let mut log = Some(log);
    for s in &manifest.segments {
        let compressed = blob::download(store, &s.key()?, &s.object, data_dir).await?;
        let (mut l, entry, dir) = (log.take().expect("log present"), s.clone(), data_dir.to_owned());
        log = Some(
            blocking(move || {
                let segment = tempfile::Builder::new()
                    .prefix(".segment-")
                    .tempfile_in(&dir)
                    .map_err(SnapshotError::io(&dir))?;
                let what = format!("segment {}..={}", entry.first_seq, entry.last_seq);
                blob::decompress(compressed.path(), segment.as_file(), &entry.db, &what)?;
                let info = l.import_segment(segment.path())?;
                if (info.first_seq, info.last_seq, info.events)
                    != (entry.first_seq, entry.last_seq, entry.events)
                {
                    return Err(SnapshotError::Refused(format!(
                        "{what} holds seqs {}..={}",
                        info.first_seq, info.last_seq
                    )));
                }
                Ok(l)
            })
            .await?,
        );
        tracing::info!(first = s.first_seq, last = s.last_seq, "log segment imported");
    }
    let head = log.as_ref().map_or(0, EventLog::head);
    drop(log);
    let dir = data_dir.to_owned();
    blocking(move || finish_import(&building, &dir)).await?;
    drop(cleanup); // the built file was renamed away: this only sweeps its side files
    Ok(ImportReport {
        segments: manifest.segments.len(),
        events: manifest.segments.iter().map(|s| s.events).sum(),
        head,
    })
}

/// Refuses a node that holds anything: events, cursors, or read models past seq 0.
fn ensure_empty(data_dir: &Path) -> Result<(), SnapshotError> {
    if data_dir.join(LOG_FILE).is_file() {
        let log = LogReader::open(data_dir)?;
        let (head, cursors) = (log.head()?, log.cursors()?.len());
        if head > 0 || cursors > 0 {
            return Err(SnapshotError::Refused(format!(
                "this node's log is not empty (head {head}, {cursors} cursors): import only into an empty node"
            )));
        }
    }
    let views = data_dir.join(reprise_projector::VIEWS_FILE);
    if views.is_file() {
        let conn = rusqlite::Connection::open_with_flags(&views, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let seq: i64 =
            conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM checkpoint", [], |r| r.get(0)).unwrap_or(0);
        if seq > 0 {
            return Err(SnapshotError::Refused(format!(
                "this node has read models at seq {seq}: import only into an empty node"
            )));
        }
    }
    Ok(())
}

/// Folds the WAL into the built file and renames it over `events.db`.
fn finish_import(building: &Path, data_dir: &Path) -> Result<(), SnapshotError> {
    let conn = rusqlite::Connection::open(building)?;
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
    drop(conn);
    let target = data_dir.join(LOG_FILE);
    for suffix in ["-wal", "-shm"] {
        remove_if_exists(Path::new(&format!("{}{suffix}", target.display())))?;
    }
    std::fs::rename(building, &target).map_err(SnapshotError::io(&target))?;
    for suffix in ["-wal", "-shm"] {
        remove_if_exists(Path::new(&format!("{}{suffix}", building.display())))?;
    }
    std::fs::File::open(data_dir).and_then(|d| d.sync_all()).map_err(SnapshotError::io(data_dir))?;
    Ok(())
}

fn remove_if_exists(path: &Path) -> Result<(), SnapshotError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(SnapshotError::io(path)(e)),
        _ => Ok(()),
    }
}

/// Removes a half-built log (and its WAL) when an import fails.
struct Cleanup(std::path::PathBuf);

impl Cleanup {
    fn remove(&self) -> Result<(), SnapshotError> {
        remove_if_exists(&self.0)?;
        for suffix in ["-wal", "-shm"] {
            remove_if_exists(Path::new(&format!("{}{suffix}", self.0.display())))?;
        }
        Ok(())
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = self.remove();
    }
}
