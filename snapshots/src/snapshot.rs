//! Snapshots of `views.db`: `snapshots/<id>/views.db.zst` and `snapshots/<id>/manifest.json`.
//!
//! The manifest is written last, so a snapshot exists (is listed, can be restored) only once its data
//! is complete. Ids sort by creation time: `<UTC yyyymmddThhmmss.mmmZ>-<checkpoint seq>`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reprise_events::LogReader;
use reprise_projector::{SCHEMA_VERSION, VIEWS_FILE, install_views};
use reprise_store::{ObjectKey, ObjectStore};
use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::blob::{self, Digest};
use crate::error::{SnapshotError, blocking};

const PREFIX: &str = "snapshots";
const DATA: &str = "views.db.zst";
const MANIFEST: &str = "manifest.json";

/// What a snapshot is, as stored beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotManifest {
    pub format: u32,
    pub id: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// The last log event the read models include; the projector continues after it.
    pub checkpoint_seq: i64,
    /// `views.db`'s schema version; a build with another version refuses the snapshot.
    pub schema_version: i64,
    pub row_counts: BTreeMap<String, i64>,
    /// The uncompressed `views.db`.
    pub db: Digest,
    /// The stored (compressed) object.
    pub object: Digest,
    /// The log event at the checkpoint, so a restore can tell whether this node's log is the same log.
    pub log_anchor: Option<LogAnchor>,
}

/// Identifies one log event across nodes: a copied log holds it with the same values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogAnchor {
    pub seq: i64,
    pub received_at_us: i64,
    pub source: String,
    pub frame_sha256: String,
}

/// One entry of [`list_snapshots`]: a readable manifest, or why it is not.
#[derive(Debug, Clone)]
pub struct ListedSnapshot {
    pub id: String,
    pub manifest: Result<SnapshotManifest, String>,
}

fn key(id: &str, name: &str) -> Result<ObjectKey, SnapshotError> {
    ObjectKey::new(PREFIX, id, name)
        .map_err(|_| SnapshotError::NotFound(format!("snapshot {id:?} (not a valid id)")))
}

/// Takes a consistent snapshot of `<data_dir>/views.db` while other connections keep writing, and
/// stores it. Temporary files go in `data_dir`.
pub async fn create_snapshot(
    store: &dyn ObjectStore,
    data_dir: &Path,
) -> Result<SnapshotManifest, SnapshotError> {
    let dir = data_dir.to_owned();
    let (copy, mut manifest) = blocking(move || copy_views(&dir)).await?;
    let data_key = key(&manifest.id, DATA)?;
    // The digests are taken while compressing: one read of the copy, not two.
    (manifest.db, manifest.object) = blob::upload(store, &data_key, copy.path(), data_dir).await?;
    drop(copy);
    blob::put_json(store, &key(&manifest.id, MANIFEST)?, &manifest).await?;
    Ok(manifest)
}

/// The online backup and what the manifest says about it (without the digests yet).
fn copy_views(data_dir: &Path) -> Result<(tempfile::NamedTempFile, SnapshotManifest), SnapshotError> {
    let views = data_dir.join(VIEWS_FILE);
    if !views.is_file() {
        return Err(SnapshotError::NotFound(format!("{}: no read models to snapshot", views.display())));
    }
    let source = Connection::open_with_flags(
        &views,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    source.execute_batch("PRAGMA busy_timeout = 5000")?;
    let found: i64 = source.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found != SCHEMA_VERSION {
        return Err(SnapshotError::Refused(format!(
            "{} has schema version {found}, this build writes {SCHEMA_VERSION}: run `reprise rebuild` first",
            views.display()
        )));
    }
    let copy = tempfile::Builder::new()
        .prefix(".snapshot-")
        .tempfile_in(data_dir)
        .map_err(SnapshotError::io(data_dir))?;
    let mut target = Connection::open(copy.path())?;
    {
        // All pages in one step: the copy is made inside one read transaction of the source, so it is
        // one consistent state even while the projector commits (WAL readers never block writers).
        use rusqlite::backup::{Backup, StepResult};
        let backup = Backup::new(&source, &mut target)?;
        let mut busy = 0;
        loop {
            match backup.step(-1)? {
                StepResult::Done => break,
                StepResult::More => {}
                // Only while another connection holds a lock briefly (a checkpoint, a schema change).
                StepResult::Busy | StepResult::Locked if busy < 100 => {
                    busy += 1;
                    std::thread::sleep(Duration::from_millis(50));
                }
                _ => return Err(SnapshotError::Task("views.db stayed locked for 5 s".into())),
            }
        }
    }
    // A self-contained file: no WAL to carry along.
    target.execute_batch("PRAGMA journal_mode = DELETE")?;
    let checkpoint_seq: i64 =
        target.query_row("SELECT seq FROM checkpoint WHERE id = 1", [], |r| r.get(0))?;
    let row_counts = row_counts(&target)?;
    drop(target);
    let now = jiff::Timestamp::now();
    let id = format!(
        "{}.{:03}Z-{checkpoint_seq}",
        now.strftime("%Y%m%dT%H%M%S"),
        now.as_millisecond().rem_euclid(1000)
    );
    let log_anchor = anchor(data_dir, checkpoint_seq)?;
    let manifest = SnapshotManifest {
        format: crate::MANIFEST_FORMAT,
        id,
        created_at: now.to_string(),
        checkpoint_seq,
        schema_version: SCHEMA_VERSION,
        row_counts,
        db: Digest::pending(),
        object: Digest::pending(),
        log_anchor,
    };
    Ok((copy, manifest))
}

fn row_counts(conn: &Connection) -> Result<BTreeMap<String, i64>, SnapshotError> {
    let tables: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut counts = BTreeMap::new();
    for table in tables {
        let n: i64 =
            conn.query_row(&format!("SELECT COUNT(*) FROM \"{}\"", table.replace('"', "\"\"")), [], |r| {
                r.get(0)
            })?;
        counts.insert(table, n);
    }
    Ok(counts)
}

/// The log event at `seq` in this node's log, if it has it.
fn anchor(data_dir: &Path, seq: i64) -> Result<Option<LogAnchor>, SnapshotError> {
    if seq == 0 || !data_dir.join(reprise_events::LOG_FILE).is_file() {
        return Ok(None);
    }
    let log = LogReader::open(data_dir)?;
    Ok(log.read_range(seq - 1, seq, 1)?.into_iter().next().map(|e| LogAnchor {
        seq: e.seq,
        received_at_us: e.received_at_us,
        source: e.source,
        frame_sha256: blob::hex(&Sha256::digest(&e.frame)),
    }))
}

/// Every snapshot in the store, oldest first.
pub async fn list_snapshots(store: &dyn ObjectStore) -> Result<Vec<ListedSnapshot>, SnapshotError> {
    let mut listed = Vec::new();
    for object in store.list(PREFIX).await? {
        if object.key.name() != MANIFEST {
            continue;
        }
        let manifest = match blob::get_json::<SnapshotManifest>(store, &object.key).await {
            Ok(Some(m)) => Ok(m),
            Ok(None) => continue,
            Err(e) => Err(e.to_string()),
        };
        listed.push(ListedSnapshot { id: object.key.id().to_owned(), manifest });
    }
    listed.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(listed)
}

/// Deletes all but the newest `keep` snapshots (0 keeps all); returns the ids deleted. The manifest
/// goes first, so a snapshot half-deleted by a crash is no longer listed.
pub async fn prune_snapshots(store: &dyn ObjectStore, keep: usize) -> Result<Vec<String>, SnapshotError> {
    if keep == 0 {
        return Ok(Vec::new());
    }
    let listed = list_snapshots(store).await?;
    let excess = listed.len().saturating_sub(keep);
    let mut deleted = Vec::new();
    for snapshot in &listed[..excess] {
        store.delete(&key(&snapshot.id, MANIFEST)?).await?;
        store.delete(&key(&snapshot.id, DATA)?).await?;
        deleted.push(snapshot.id.clone());
    }
    Ok(deleted)
}

/// Restores snapshot `id` (or the newest readable one for `"latest"`) as `<data_dir>/views.db`. The
/// node must not be running. Everything is checked first (manifest version, schema version, that this
/// node's log holds the checkpoint's event, sizes and sha256s, the file itself); on any failure the
/// current `views.db` is left as it was.
pub async fn restore_snapshot(
    store: &dyn ObjectStore,
    data_dir: &Path,
    id: &str,
) -> Result<SnapshotManifest, SnapshotError> {
    let manifest = if id == "latest" {
        let newest = list_snapshots(store).await?.into_iter().rev().find_map(|s| s.manifest.ok());
        newest.ok_or_else(|| SnapshotError::NotFound("no snapshot in the store".into()))?
    } else {
        blob::get_json::<SnapshotManifest>(store, &key(id, MANIFEST)?)
            .await?
            .ok_or_else(|| SnapshotError::NotFound(format!("snapshot {id}")))?
    };
    if manifest.schema_version != SCHEMA_VERSION {
        return Err(SnapshotError::Refused(format!(
            "snapshot {} has read-model schema version {}, this build uses {SCHEMA_VERSION}: \
             rebuild from the log instead (`reprise rebuild`)",
            manifest.id, manifest.schema_version
        )));
    }
    check_anchor(data_dir, &manifest)?;
    std::fs::create_dir_all(data_dir).map_err(SnapshotError::io(data_dir))?;
    let compressed = blob::download(store, &key(&manifest.id, DATA)?, &manifest.object, data_dir).await?;
    let (dir, m) = (data_dir.to_owned(), manifest.clone());
    blocking(move || install(&dir, compressed.path(), &m)).await?;
    Ok(manifest)
}

fn check_anchor(data_dir: &Path, manifest: &SnapshotManifest) -> Result<(), SnapshotError> {
    let Some(expected) = &manifest.log_anchor else { return Ok(()) };
    let here = anchor(data_dir, expected.seq)?;
    match here {
        Some(found) if &found == expected => Ok(()),
        Some(_) => Err(SnapshotError::Refused(format!(
            "snapshot {} was taken from another log: this node's event {} differs",
            manifest.id, expected.seq
        ))),
        None => Err(SnapshotError::Refused(format!(
            "snapshot {} needs the log up to seq {}, and this node's log does not reach it: \
             import the log first (`reprise log import`)",
            manifest.id, expected.seq
        ))),
    }
}

fn install(data_dir: &Path, compressed: &Path, manifest: &SnapshotManifest) -> Result<(), SnapshotError> {
    let target: PathBuf = data_dir.join(VIEWS_FILE);
    let temp = tempfile::Builder::new()
        .prefix(".restore-")
        .tempfile_in(data_dir)
        .map_err(SnapshotError::io(data_dir))?;
    blob::decompress(compressed, temp.as_file(), &manifest.db, &format!("snapshot {}", manifest.id))?;
    {
        let conn = Connection::open_with_flags(temp.path(), OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let seq: i64 = conn.query_row("SELECT seq FROM checkpoint WHERE id = 1", [], |r| r.get(0))?;
        if (version, seq) != (manifest.schema_version, manifest.checkpoint_seq) {
            return Err(SnapshotError::Refused(format!(
                "snapshot {}: the file has schema version {version} at seq {seq}, its manifest says {} at {}",
                manifest.id, manifest.schema_version, manifest.checkpoint_seq
            )));
        }
    }
    // Temporary files are private (0600); the read models are as readable as a rebuilt file.
    let mode = std::fs::metadata(&target)
        .map(|m| m.permissions())
        .or_else(|_| std::fs::metadata(data_dir.join(reprise_events::LOG_FILE)).map(|m| m.permissions()));
    if let Ok(mode) = mode {
        std::fs::set_permissions(temp.path(), mode).map_err(SnapshotError::io(temp.path()))?;
    }
    let temp = temp.into_temp_path();
    install_views(&temp, &target)?;
    // Renamed into place: nothing is left at the temporary path to clean up.
    temp.keep().map_err(|e| SnapshotError::io(&target)(e.error))?;
    Ok(())
}
