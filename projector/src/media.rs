//! Media jobs and renditions, folded from the log like everything else: a valid track version whose
//! `audioBlob` has no job yet marks the blob as needed; `media` events (appended by the binary's media
//! worker and by `reprise media retry`) move the job through its states and, once stored, describe the
//! rendition. A rebuild therefore reproduces both tables without fetching anything.
//!
//! The media event body is defined here, once ([`event_frame`] writes it, [`apply`] reads it):
//! `{"cid", "did", "uri"?, "state": {"state": "requested" | "fetched" | "transcoded" | "stored" | "failed"
//! | "retry_scheduled", ...}, "manual"?: true, "atUs"}`, where `state` is the media crate's `JobState`
//! JSON and `manual` marks an operator's retry (it resets the attempt count).

use std::borrow::Cow;

use reprise_events::{EventKind, StoredEvent};
use rusqlite::{Transaction, params};
use serde::Deserialize;
use serde_json::{Value, json};

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

/// The frame of a media event (see the module docs for its shape).
pub fn event_frame(
    cid: &str,
    did: &str,
    uri: Option<&str>,
    state: &Value,
    manual: bool,
    at_us: i64,
) -> Vec<u8> {
    let mut body = json!({"cid": cid, "did": did, "state": state, "atUs": at_us});
    if let Some(uri) = uri {
        body["uri"] = json!(uri);
    }
    if manual {
        body["manual"] = json!(true);
    }
    body.to_string().into_bytes()
}

#[derive(Debug, Deserialize)]
struct Body {
    cid: String,
    did: String,
    uri: Option<String>,
    state: State,
    #[serde(default)]
    manual: bool,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
enum State {
    Requested,
    Fetched,
    Transcoded,
    Stored { rendition: Rendition },
    Failed { reason: String, attempt: u32, will_retry: bool },
    RetryScheduled { at_unix_ms: i64, attempt: u32 },
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rendition {
    format: String,
    content_type: String,
    bitrate_kbps: u32,
    size: u64,
    duration_secs: Option<f64>,
    loudness_lufs: Option<f64>,
    waveform: Waveform,
    original: Value,
}

#[derive(Debug, Deserialize)]
struct Waveform {
    peaks: Vec<u8>,
}

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
    let body: Body = match serde_json::from_slice(&event.frame) {
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
        State::Requested if body.manual => {
            set(RESET, "requested", None, None, None)?;
            "media requested (manual retry)".to_owned()
        }
        State::Requested => {
            set(UPDATE, "requested", None, None, None)?;
            "media requested".to_owned()
        }
        State::Fetched => {
            set(UPDATE, "fetched", None, None, None)?;
            "media fetched".to_owned()
        }
        State::Transcoded => {
            set(UPDATE, "transcoded", None, None, None)?;
            "media transcoded".to_owned()
        }
        State::Stored { rendition: r } => {
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
                r.original.to_string(),
                seq
            ])?;
            format!("media stored: {} {} kbps", r.format, r.bitrate_kbps)
        }
        State::Failed { reason, attempt, will_retry } => {
            let state = if *will_retry { "retry_scheduled" } else { "failed" };
            set(UPDATE, state, Some(*attempt), Some(reason), None)?;
            let then = if *will_retry { "will retry" } else { "stopped" };
            format!("media failed (attempt {attempt}, {then}): {reason}")
        }
        State::RetryScheduled { at_unix_ms, attempt } => {
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

/// The media worker's and `reprise media retry`'s read-only view of `views.db`.
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
