//! `reprise rebuild`: replay the log from seq 0 into a fresh `views.db`, then swap it in atomically.

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use reprise_events::LogReader;
use reprise_lexicons::Catalog;

use crate::error::ProjectorError;
use crate::heads::Heads;
use crate::model::MODELS;
use crate::prepare::{Prepared, prepare_all};
use crate::types::ApplyReport;
use crate::{accounts, apply, schema, store};

/// Events per transaction during a rebuild: big batches amortise the per-commit cost.
const REBUILD_BATCH: usize = 20_000;
/// Batches read and prepared ahead of the writer: one in the channel while the writer applies one
/// and the reader prepares the next keeps both threads busy; more would only hold memory.
const PREPARED_AHEAD: usize = 1;

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
    let started = std::time::Instant::now();
    let log = LogReader::open(data_dir)?;
    let mut conn = store::open_bulk(&tmp)?;
    let mut ctx = apply::Ctx {
        catalog,
        heads: Heads::Memory(Default::default()),
        seen: accounts::SeenCache::bulk(),
        rows: accounts::RowsByDid::bulk(),
        media: crate::media::Needed::bulk(),
        bulk: true,
    };
    let mut total = ApplyReport::default();
    let (ready, prepared) = mpsc::sync_channel(PREPARED_AHEAD);
    let (spent, applied) = mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(move || read_ahead(log, catalog, until, ready, applied));
        // The writer: this thread. A failed batch drops `prepared`, which stops the reader.
        for batch in prepared {
            let batch = batch?;
            total.add(apply::apply_prepared(&mut conn, &mut ctx, &batch)?);
            // Freeing the parsed records is the reader's work: it allocated them (~7% of the writer).
            let _ = spent.send(batch);
        }
        Ok::<_, ProjectorError>(())
    })?;
    tracing::debug!(events = total.events, secs = started.elapsed().as_secs_f64(), "rebuild applied the log");
    total.checkpoint = schema::checkpoint(&conn)?;
    finish(&mut conn, &mut ctx)?;
    drop(conn);
    install_views(&tmp, out)?;
    Ok(RebuildReport { out: out.to_owned(), report: total })
}

/// The rebuild's second thread: reads the log in batches after `0` (to `until`) and prepares them
/// (record parsed and validated), handing each to the writer, and frees the batches the writer hands
/// back; stops at the end or when the writer hangs up.
fn read_ahead(
    log: LogReader,
    catalog: &Catalog,
    until: Option<i64>,
    ready: mpsc::SyncSender<Result<Vec<Prepared>, ProjectorError>>,
    applied: mpsc::Receiver<Vec<Prepared>>,
) {
    let mut after = 0;
    loop {
        applied.try_iter().for_each(drop);
        let batch = apply::read(&log, after, REBUILD_BATCH, until).map(|events| {
            after = events.last().map_or(after, |e| e.seq);
            prepare_all(catalog, events)
        });
        if matches!(&batch, Ok(events) if events.is_empty()) {
            return;
        }
        let failed = batch.is_err();
        if ready.send(batch).is_err() || failed {
            return;
        }
    }
}

/// What a rebuild writes once at the end: the state kept in memory, what models skipped per event (the
/// search index), and the indexes.
/// The writer is the only thread with work here, so the other core sorts the record heads while the
/// writer flushes media jobs, and frees them (~2.4M strings) while it builds the indexes.
fn finish(conn: &mut rusqlite::Connection, ctx: &mut apply::Ctx<'_>) -> Result<(), ProjectorError> {
    let phase = Phase::start();
    let heads = std::mem::take(&mut ctx.heads);
    let rows = std::mem::take(&mut ctx.rows);
    std::thread::scope(|s| {
        let sorting = s.spawn(move || heads.into_sorted());
        let tx = conn.transaction()?;
        ctx.media.flush(&tx)?;
        tx.commit()?;
        ctx.seen.flush(conn)?;
        let phase = phase.done("media jobs and actors");
        let sorted = sorting.join().expect("sorting the record heads panicked");
        Heads::write_sorted(conn, &sorted)?;
        let phase = phase.done("record heads");
        s.spawn(move || drop((sorted, rows)));
        let mut phase = phase;
        for model in MODELS {
            if let Some(finish) = model.finish_bulk {
                finish(conn)?;
                phase = phase.done(model.name);
            }
        }
        store::finish_bulk(conn)?;
        phase.done("indexes");
        Ok(())
    })
}

/// Times the steps of a rebuild's end, for the debug log: it is most of a rebuild's single-threaded time.
struct Phase(std::time::Instant);

impl Phase {
    fn start() -> Self {
        Phase(std::time::Instant::now())
    }

    fn done(self, what: &str) -> Self {
        tracing::debug!(phase = what, secs = self.0.elapsed().as_secs_f64(), "rebuild step done");
        Phase::start()
    }
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
