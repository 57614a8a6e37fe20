//! The projector a node runs: applies the log to `views.db` incrementally, one batch per transaction.

use std::path::Path;
use std::sync::Arc;

use reprise_events::{Checkpointer, LogReader};
use reprise_lexicons::Catalog;
use rusqlite::Connection;

use crate::apply;
use crate::error::ProjectorError;
use crate::heads::Heads;
use crate::schema::{self, VIEWS_FILE};
use crate::store;
use crate::types::ApplyReport;

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
        let views = store::open_rw(&path)?;
        let log = LogReader::open(data_dir)?;
        let checkpointer = Checkpointer::start(&path, COMMITS_PER_CHECKPOINT)?;
        Ok(Projector { views, log, batch_size: batch_size.max(1), catalog, checkpointer })
    }

    pub fn checkpoint(&self) -> Result<i64, ProjectorError> {
        schema::checkpoint(&self.views)
    }

    /// Applies one batch in one transaction. Returns the events it read (0 when caught up).
    pub fn apply_batch(&mut self, until: Option<i64>) -> Result<ApplyReport, ProjectorError> {
        let report = apply::batch(
            &mut self.views,
            &self.log,
            &mut apply::Ctx {
                catalog: &self.catalog,
                heads: Heads::Table,
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
