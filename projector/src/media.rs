//! Media jobs and renditions, folded from the log like everything else: a valid track version whose
//! `audioBlob` has no job yet marks the blob as needed; `media` events (appended by reprise-media's worker
//! and by `reprise media retry`) move the job through its states and, once stored, describe the
//! rendition. A rebuild therefore reproduces both tables without fetching anything.
//!
//! The media event body is `reprise_events::media::MediaEvent`, the type its writers encode; a manual
//! `requested` (an operator's retry) resets the attempt count. The worker's read-only view of these
//! tables is `media_jobs.rs`.

use std::borrow::Cow;

use reprise_events::media::{JobState, MediaEvent};
use reprise_events::{EventKind, StoredEvent};
use rusqlite::{Transaction, params};

use crate::audit::Entry;
use crate::error::ProjectorError;
use crate::model::descriptor::{AccountRows, Folds, Model};
use crate::types::{Ignored, Outcome};

pub(crate) const TABLES: &str = "
CREATE TABLE IF NOT EXISTS media_jobs (
    cid          TEXT PRIMARY KEY,
    did          TEXT NOT NULL,
    uri          TEXT,
    state        TEXT NOT NULL,
    attempts     INTEGER NOT NULL,
    last_reason  TEXT,
    retry_at_ms  INTEGER,
    updated_seq  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS renditions (
    cid            TEXT PRIMARY KEY,
    format         TEXT NOT NULL,
    content_type   TEXT NOT NULL,
    bitrate_kbps   INTEGER NOT NULL,
    size           INTEGER NOT NULL,
    duration_secs  REAL,
    loudness_lufs  REAL,
    waveform       TEXT NOT NULL,
    original       TEXT NOT NULL,
    seq            INTEGER NOT NULL
) WITHOUT ROWID;
";

/// Built after a bulk rebuild with the API's indexes, maintained incrementally otherwise.
pub(crate) const INDEXES: &str = "
CREATE INDEX IF NOT EXISTS media_jobs_open ON media_jobs (updated_seq)
    WHERE state NOT IN ('stored', 'failed');
";

/// The media fold in the registry: it folds `media` events; its rows are per blob, not per account.
pub(crate) static MODEL: Model = Model {
    name: "media",
    folds: Folds::Events { kinds: &[EventKind::Media], apply },
    tables: TABLES,
    apply_indexes: "",
    indexes: INDEXES,
    account: AccountRows::None,
    finish_bulk: None,
};

/// Job states that are finished: nothing more happens until an explicit retry.
pub const FINISHED_STATES: [&str; 2] = ["stored", "failed"];

/// Blobs that applied track versions need a job for. Incremental application writes each to
/// `media_jobs` at once; a bulk rebuild keeps the first version that asked for each CID in memory and
/// writes them in CID order (`flush`), because inserting random CIDs one by one was ~7% of a rebuild.
#[derive(Debug, Default)]
pub(crate) struct Needed(Option<foldhash::HashMap<String, (String, String, i64)>>);

const NEED: &str = "INSERT INTO media_jobs (cid, did, uri, state, attempts, updated_seq)
    VALUES (?1, ?2, ?3, 'needed', 0, ?4) ON CONFLICT (cid) DO NOTHING";

impl Needed {
    pub fn bulk() -> Self {
        Needed(Some(Default::default()))
    }

    /// A valid track version was applied: its blob needs a job unless one exists (in any state).
    pub fn need(
        &mut self,
        tx: &Transaction<'_>,
        did: &str,
        uri: &str,
        blob_cid: &str,
        seq: i64,
    ) -> Result<(), rusqlite::Error> {
        match &mut self.0 {
            // Events arrive in seq order, so the first asker is the one incremental application keeps.
            Some(m) if !m.contains_key(blob_cid) => {
                m.insert(blob_cid.to_owned(), (did.to_owned(), uri.to_owned(), seq));
            }
            Some(_) => {}
            None => {
                tx.prepare_cached(NEED)?.execute(params![blob_cid, did, uri, seq])?;
            }
        }
        Ok(())
    }

    /// Writes the waiting blobs of a bulk rebuild into `media_jobs` in CID order, unless the CID has a
    /// job already, as `need` does one by one.
    pub fn flush(&mut self, tx: &Transaction<'_>) -> Result<(), rusqlite::Error> {
        let Some(m) = self.0.as_mut().filter(|m| !m.is_empty()) else { return Ok(()) };
        let mut all: Vec<_> = m.drain().collect();
        all.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut insert = tx.prepare_cached(NEED)?;
        for (cid, (did, uri, seq)) in all {
            insert.execute(params![cid, did, uri, seq])?;
        }
        Ok(())
    }
}

/// Applies one `media` event and fills in its audit entry (the track's URI, so the record's history
/// shows what happened to its audio).
pub(crate) fn apply(
    tx: &Transaction<'_>,
    event: &StoredEvent,
    entry: &mut Entry<'_>,
) -> Result<Outcome, ProjectorError> {
    let body = match MediaEvent::decode(&event.frame) {
        Ok(b) => b,
        Err(e) => {
            let reason = format!("media event body: {e}");
            entry.validation = "invalid";
            entry.errors = Some(reason.clone());
            return Ok(Outcome::Ignored(Ignored::Invalid(reason)));
        }
    };
    entry.uri = body.uri.clone().or_else(|| known_uri(tx, &body.cid)).map(Cow::Owned);
    entry.cid = Some(Cow::Owned(body.cid.clone()));
    entry.did = Some(Cow::Owned(body.did.clone()));
    let seq = event.seq;
    tx.prepare_cached(
        "INSERT INTO media_jobs (cid, did, uri, state, attempts, updated_seq) VALUES (?1, ?2, ?3, 'requested', 0, ?4)
         ON CONFLICT (cid) DO NOTHING",
    )?
    .execute(params![body.cid, body.did, entry.uri, seq])?;
    let set = |sql: &str, state: &str, attempts: Option<u32>, reason: Option<&str>, retry_at: Option<i64>| {
        tx.prepare_cached(sql)?.execute(params![body.cid, state, attempts, reason, retry_at, seq])
    };
    // ?3 attempts and ?4 reason keep the previous value when NULL, except where the statement says so.
    const UPDATE: &str = "UPDATE media_jobs SET state = ?2, attempts = COALESCE(?3, attempts),
        last_reason = COALESCE(?4, last_reason), retry_at_ms = ?5, updated_seq = ?6 WHERE cid = ?1";
    const RESET: &str = "UPDATE media_jobs SET state = ?2, attempts = COALESCE(?3, 0), last_reason = ?4,
        retry_at_ms = ?5, updated_seq = ?6 WHERE cid = ?1";
    entry.note = Some(match &body.state {
        JobState::Requested if body.manual => {
            set(RESET, "requested", None, None, None)?;
            "media requested (manual retry)".to_owned()
        }
        JobState::Requested => {
            set(UPDATE, "requested", None, None, None)?;
            "media requested".to_owned()
        }
        JobState::Fetched { .. } => {
            set(UPDATE, "fetched", None, None, None)?;
            "media fetched".to_owned()
        }
        JobState::Transcoded { .. } => {
            set(UPDATE, "transcoded", None, None, None)?;
            "media transcoded".to_owned()
        }
        JobState::Stored { rendition: r } => {
            set(RESET, "stored", None, None, None)?;
            tx.prepare_cached(
                "INSERT OR REPLACE INTO renditions (cid, format, content_type, bitrate_kbps, size, duration_secs,
                    loudness_lufs, waveform, original, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                body.cid,
                r.format,
                r.content_type,
                r.bitrate_kbps,
                r.size,
                r.duration_secs,
                r.loudness_lufs,
                serde_json::to_string(&r.waveform.peaks).unwrap_or_else(|_| "[]".into()),
                // As a JSON value first, so the stored text keeps the sorted keys it always had.
                serde_json::to_value(&r.original).map(|v| v.to_string()).unwrap_or_else(|_| "{}".into()),
                seq
            ])?;
            format!("media stored: {} {} kbps", r.format, r.bitrate_kbps)
        }
        JobState::Failed { reason, attempt, will_retry } => {
            let state = if *will_retry { "retry_scheduled" } else { "failed" };
            set(UPDATE, state, Some(*attempt), Some(reason), None)?;
            let then = if *will_retry { "will retry" } else { "stopped" };
            format!("media failed (attempt {attempt}, {then}): {reason}")
        }
        JobState::RetryScheduled { at_unix_ms, attempt } => {
            set(UPDATE, "retry_scheduled", None, None, Some(*at_unix_ms))?;
            format!("media retry scheduled: attempt {attempt} at {at_unix_ms} ms")
        }
    });
    Ok(Outcome::Applied)
}

fn known_uri(tx: &Transaction<'_>, cid: &str) -> Option<String> {
    tx.prepare_cached("SELECT uri FROM media_jobs WHERE cid = ?1")
        .and_then(|mut s| s.query_row([cid], |r| r.get::<_, Option<String>>(0)))
        .ok()
        .flatten()
}
