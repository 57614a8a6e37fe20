//! The media worker's and `reprise media retry`'s read-only view of `views.db`: unfinished jobs, one blob's
//! job, and the DIDs whose identity changed (their cached DID documents are stale). The fold that fills
//! these tables is `media.rs`; this module only reads them, on its own read-only connection.

use crate::error::ProjectorError;

/// A job the media worker may have to run, as the read model shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenJob {
    pub cid: String,
    pub did: String,
    pub uri: Option<String>,
    pub state: String,
    pub attempts: u32,
    pub retry_at_ms: Option<i64>,
    pub updated_seq: i64,
}

/// A read-only connection to `views.db` for the media worker.
#[derive(Debug)]
pub struct MediaReader {
    conn: rusqlite::Connection,
}

impl MediaReader {
    pub fn open(views: &std::path::Path) -> Result<Self, ProjectorError> {
        Ok(Self { conn: crate::schema::open_read_only(views)? })
    }

    /// The last log event the read models reflect.
    pub fn checkpoint(&self) -> Result<i64, ProjectorError> {
        crate::schema::checkpoint(&self.conn)
    }

    /// Unfinished jobs (needed, requested, fetched, transcoded, retry scheduled), oldest change first.
    pub fn open_jobs(&self) -> Result<Vec<OpenJob>, ProjectorError> {
        self.jobs("WHERE state NOT IN ('stored', 'failed') ORDER BY updated_seq", [])
    }

    /// One blob's job, in whatever state.
    pub fn job(&self, cid: &str) -> Result<Option<OpenJob>, ProjectorError> {
        Ok(self.jobs("WHERE cid = ?1", [cid])?.pop())
    }

    fn jobs(&self, filter: &str, args: impl rusqlite::Params) -> Result<Vec<OpenJob>, ProjectorError> {
        let sql = format!(
            "SELECT cid, did, uri, state, attempts, retry_at_ms, updated_seq FROM media_jobs {filter}"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(args, |r| {
            Ok(OpenJob {
                cid: r.get(0)?,
                did: r.get(1)?,
                uri: r.get(2)?,
                state: r.get(3)?,
                attempts: r.get(4)?,
                retry_at_ms: r.get(5)?,
                updated_seq: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// DIDs whose identity changed in log events after `after_seq`, and the last such seq: their cached
    /// DID documents are stale.
    pub fn identity_changes(&self, after_seq: i64) -> Result<(Vec<String>, i64), ProjectorError> {
        // The audit is keyed by seq, so this reads only the new rows.
        let mut stmt = self.conn.prepare_cached(
            "SELECT did, seq FROM audit WHERE seq > ?1 AND kind = 'identity' AND did IS NOT NULL ORDER BY seq",
        )?;
        let mut last = after_seq;
        let mut dids = Vec::new();
        let mut rows = stmt.query([after_seq])?;
        while let Some(r) = rows.next()? {
            dids.push(r.get(0)?);
            last = r.get(1)?;
        }
        Ok((dids, last))
    }
}
