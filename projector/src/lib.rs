//! The projector: folds the event log into the read models in `views.db`.
//!
//! Each batch of events is applied in one transaction together with the checkpoint (the last applied
//! seq), so a crash at any point leaves the read models exactly at some checkpoint, and the next run
//! continues from there. The projector does no network IO: read models are a pure function of the
//! log, and `rebuild` replays from seq 0 into a fresh file that gives the same result.

mod accounts;
mod apply;
mod audit;
mod follow;
pub mod media;
pub mod media_jobs;
mod models;
mod ordering;
mod plays;
mod prepare;
mod rebuild;
pub mod schema;
mod tracks;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use reprise_events::{Checkpointer, LogError, LogReader};
pub use reprise_lexicons::Catalog;
use rusqlite::Connection;

pub use accounts::HIDING_STATUSES;
pub use apply::{Ignored, Outcome};
pub use follow::follow;
pub use ordering::{Decision, Head, decide};
pub use plays::name_key;
pub use rebuild::{RebuildReport, install_views, rebuild};
pub use schema::{VERSION as SCHEMA_VERSION, VIEWS_FILE};

#[derive(Debug, thiserror::Error)]
pub enum ProjectorError {
    #[error("read model database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("views.db has schema version {found}, this build expects {expected}: run `reprise rebuild`")]
    SchemaMismatch { found: i64, expected: i64 },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// Counts of what a run of the projector did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApplyReport {
    pub events: u64,
    pub applied: u64,
    pub ignored: u64,
    pub checkpoint: i64,
}

impl ApplyReport {
    fn add(&mut self, other: ApplyReport) {
        self.events += other.events;
        self.applied += other.applied;
        self.ignored += other.ignored;
        self.checkpoint = other.checkpoint;
    }
}

/// Applies the log to `views.db` incrementally.
#[derive(Debug)]
pub struct Projector {
    views: Connection,
    log: LogReader,
    batch_size: usize,
    catalog: Arc<Catalog>,
    checkpointer: Checkpointer,
}

/// Projector commits between WAL checkpoints of views.db: they run on a background thread, because
/// one inside a commit (SQLite's default) stalled that batch by tens of milliseconds.
const COMMITS_PER_CHECKPOINT: u32 = 50;

impl Projector {
    /// Opens `<data_dir>/views.db` (creating it) and the log beside it; records are checked against
    /// `catalog`.
    pub fn open(data_dir: &Path, batch_size: usize, catalog: Arc<Catalog>) -> Result<Self, ProjectorError> {
        let path = data_dir.join(VIEWS_FILE);
        let views = schema::open_rw(&path)?;
        let log = LogReader::open(data_dir)?;
        let checkpointer = Checkpointer::start(&path, COMMITS_PER_CHECKPOINT)?;
        Ok(Projector { views, log, batch_size: batch_size.max(1), catalog, checkpointer })
    }

    pub fn checkpoint(&self) -> Result<i64, ProjectorError> {
        apply::checkpoint(&self.views)
    }

    /// Applies one batch in one transaction. Returns the events it read (0 when caught up).
    pub fn apply_batch(&mut self, until: Option<i64>) -> Result<ApplyReport, ProjectorError> {
        let report = apply::batch(
            &mut self.views,
            &self.log,
            &mut apply::Ctx {
                catalog: &self.catalog,
                heads: apply::Heads::Table,
                seen: Default::default(),
                rows: Default::default(),
                media: Default::default(),
                bulk: false,
            },
            self.batch_size,
            until,
        )?;
        if report.events > 0 {
            self.checkpointer.committed();
        }
        Ok(report)
    }

    /// Applies everything up to the log's head (or `until`).
    pub fn catch_up(&mut self, until: Option<i64>) -> Result<ApplyReport, ProjectorError> {
        let mut total = ApplyReport { checkpoint: self.checkpoint()?, ..Default::default() };
        loop {
            let r = self.apply_batch(until)?;
            if r.events == 0 {
                return Ok(total);
            }
            tracing::debug!(
                events = r.events,
                applied = r.applied,
                checkpoint = r.checkpoint,
                "applied batch"
            );
            total.add(r);
        }
    }
}
