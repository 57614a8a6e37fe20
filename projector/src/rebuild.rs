//! `reprise rebuild`: replay the log from seq 0 into a fresh `views.db`, then swap it in atomically.

use std::path::{Path, PathBuf};

use reprise_events::LogReader;
use reprise_lexicons::Catalog;

use crate::{ApplyReport, ProjectorError, accounts, apply, schema};

/// Events per transaction during a rebuild: big batches amortise the per-commit cost.
const REBUILD_BATCH: usize = 20_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuildReport {
    pub out: PathBuf,
    pub report: ApplyReport,
}

/// Rebuilds read models from the log in `data_dir` into `out` (a views.db path), as of `until` (a seq)
/// if given. The result is written to a temporary file beside `out` and renamed over it only when
/// complete, so a crash mid-rebuild leaves the previous file untouched.
pub fn rebuild(
    data_dir: &Path,
    out: &Path,
    until: Option<i64>,
    catalog: &Catalog,
) -> Result<RebuildReport, ProjectorError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| ProjectorError::Io { path, source }
    };
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let tmp = out.with_extension(format!("rebuild-{}", std::process::id()));
    remove_if_exists(&tmp).map_err(io(&tmp))?;
    let log = LogReader::open(data_dir)?;
    let mut conn = schema::open_bulk(&tmp)?;
    let mut total = ApplyReport::default();
    let mut ctx = apply::Ctx {
        catalog,
        heads: apply::Heads::Memory(Default::default()),
        seen: accounts::SeenCache::bulk(),
        bulk: true,
    };
    loop {
        let r = apply::batch(&mut conn, &log, &mut ctx, REBUILD_BATCH, until)?;
        if r.events == 0 {
            break;
        }
        total.add(r);
    }
    total.checkpoint = apply::checkpoint(&conn)?;
    ctx.heads.flush(&mut conn)?;
    ctx.seen.flush(&mut conn)?;
    crate::tracks::build_search_index(&mut conn)?;
    schema::finish_bulk(&conn)?;
    drop(conn);
    install_views(&tmp, out)?;
    Ok(RebuildReport { out: out.to_owned(), report: total })
}

/// Makes the complete read-model file `tmp` durable and renames it over `out` (a views.db path) in one
/// step, dropping the old file's WAL and shared-memory files first so they cannot be replayed onto the
/// new one. Rebuild and snapshot restore both finish through here; the node must not be running.
pub fn install_views(tmp: &Path, out: &Path) -> Result<(), ProjectorError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| ProjectorError::Io { path, source }
    };
    std::fs::File::open(tmp).and_then(|f| f.sync_all()).map_err(io(tmp))?;
    for suffix in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{suffix}", out.display()));
        remove_if_exists(&side).map_err(io(&side))?;
    }
    std::fs::rename(tmp, out).map_err(io(out))?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))?;
    }
    Ok(())
}

fn remove_if_exists(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
