//! Durable per-repo progress, `<data_dir>/backfill.db`: which repos are done (at which rev), refused or
//! failed. A repo is marked only after its events are durable in the log, so a run killed at any point
//! redoes at most the repos in flight, and the log's duplicate check makes redoing them append nothing.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

/// The progress file's name in the data directory.
pub const PROGRESS_FILE: &str = "backfill.db";

/// Where one repo stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepoState {
    /// Every wanted record of the repo at `rev` is in the log.
    Done,
    /// The repo was refused (bad signature, broken MST, ...); a rejected event says why.
    Rejected,
    /// It could not be fetched (after retries); the next run tries again.
    Failed,
}

impl RepoState {
    pub fn as_str(self) -> &'static str {
        match self {
            RepoState::Done => "done",
            RepoState::Rejected => "rejected",
            RepoState::Failed => "failed",
        }
    }
}

/// One repo's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoProgress {
    pub did: String,
    pub pds: String,
    pub state: String,
    pub rev: Option<String>,
    pub records: i64,
    pub reason: Option<String>,
}

/// The progress table.
#[derive(Debug)]
pub struct Progress {
    conn: Connection,
}

impl Progress {
    pub fn open(data_dir: &Path) -> rusqlite::Result<Self> {
        let conn = Connection::open(data_dir.join(PROGRESS_FILE))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;
             CREATE TABLE IF NOT EXISTS repos (
                did TEXT PRIMARY KEY, pds TEXT NOT NULL, state TEXT NOT NULL, rev TEXT,
                records INTEGER NOT NULL DEFAULT 0, reason TEXT, updated_at_us INTEGER NOT NULL
             );
             CREATE TABLE IF NOT EXISTS gap_repairs (
                through_seq INTEGER PRIMARY KEY, gaps INTEGER NOT NULL, repos INTEGER NOT NULL,
                repaired_at_us INTEGER NOT NULL
             );",
        )?;
        Ok(Progress { conn })
    }

    /// The rev a repo was completed at, if it was.
    pub fn done_rev(&self, did: &str) -> rusqlite::Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT rev FROM repos WHERE did = ?1 AND state = 'done'")?
            .query_row([did], |r| r.get::<_, Option<String>>(0))
            .optional()?
            .flatten())
    }

    pub fn mark(
        &self,
        did: &str,
        pds: &str,
        state: RepoState,
        rev: Option<&str>,
        records: usize,
        reason: Option<&str>,
    ) -> rusqlite::Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO repos (did, pds, state, rev, records, reason, updated_at_us)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT(did) DO UPDATE SET pds = excluded.pds, state = excluded.state,
                    rev = excluded.rev, records = excluded.records, reason = excluded.reason,
                    updated_at_us = excluded.updated_at_us",
            )?
            .execute(params![did, pds, state.as_str(), rev, records as i64, reason, crate::now_us()])?;
        Ok(())
    }

    /// The last log seq whose gap events have been repaired (0: none).
    pub fn gaps_repaired_through(&self) -> rusqlite::Result<i64> {
        self.conn.query_row("SELECT COALESCE(MAX(through_seq), 0) FROM gap_repairs", [], |r| r.get(0))
    }

    /// Records that every gap event up to `through_seq` has been repaired by backfilling `repos` repos.
    pub fn mark_gaps_repaired(&self, through_seq: i64, gaps: usize, repos: usize) -> rusqlite::Result<()> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO gap_repairs (through_seq, gaps, repos, repaired_at_us) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![through_seq, gaps as i64, repos as i64, crate::now_us()])?;
        Ok(())
    }

    pub fn all(&self) -> rusqlite::Result<Vec<RepoProgress>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT did, pds, state, rev, records, reason FROM repos ORDER BY did")?;
        let rows = stmt.query_map([], |r| {
            Ok(RepoProgress {
                did: r.get(0)?,
                pds: r.get(1)?,
                state: r.get(2)?,
                rev: r.get(3)?,
                records: r.get(4)?,
                reason: r.get(5)?,
            })
        })?;
        rows.collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_done_repos_have_a_done_rev_and_marks_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let p = Progress::open(dir.path()).unwrap();
        p.mark("did:plc:a", "https://pds", RepoState::Failed, None, 0, Some("503")).unwrap();
        p.mark("did:plc:b", "https://pds", RepoState::Done, Some("3kaaaaaaaaaa2"), 5, None).unwrap();
        drop(p);
        let p = Progress::open(dir.path()).unwrap();
        assert_eq!(p.done_rev("did:plc:a").unwrap(), None);
        assert_eq!(p.done_rev("did:plc:b").unwrap().as_deref(), Some("3kaaaaaaaaaa2"));
        p.mark("did:plc:a", "https://pds", RepoState::Done, Some("3kaaaaaaaaaa3"), 1, None).unwrap();
        let all = p.all().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!((all[0].state.as_str(), all[0].reason.as_deref()), ("done", None));
    }
}
