//! The audit trail: one row per event that touched an indexed record or an account, saying what the
//! projector did with it and why. Moderators replay a record's or an account's history from it.

use std::borrow::Cow;

use rusqlite::{Statement, params};

use reprise_events::StoredEvent;

use crate::error::ProjectorError;
use crate::types::Outcome;

pub(crate) const TABLES: &str = "
CREATE TABLE IF NOT EXISTS audit (
    seq         INTEGER PRIMARY KEY,
    did         TEXT,
    uri         TEXT,
    kind        TEXT NOT NULL,
    operation   TEXT,
    rev         TEXT,
    cid         TEXT,
    cid_check   TEXT,
    validation  TEXT NOT NULL,
    errors      TEXT,
    outcome     TEXT NOT NULL,
    reason      TEXT
);";

/// A record's and an account's history (`getRecordHistory`, moderation).
pub(crate) const INDEXES: &str = "
CREATE INDEX IF NOT EXISTS audit_by_uri ON audit (uri, seq) WHERE uri IS NOT NULL;
CREATE INDEX IF NOT EXISTS audit_by_did ON audit (did, seq) WHERE did IS NOT NULL;";

/// What the audit row of one event will say; filled in as the event goes through the pipeline. It
/// borrows what the reader thread prepared, so the writer allocates nothing for most events.
#[derive(Debug)]
pub(crate) struct Entry<'e> {
    pub seq: i64,
    pub did: Option<Cow<'e, str>>,
    pub uri: Option<Cow<'e, str>>,
    pub kind: &'static str,
    pub operation: Option<&'static str>,
    pub rev: Option<&'e str>,
    pub cid: Option<Cow<'e, str>>,
    pub cid_check: Option<&'e str>,
    /// `valid`, `invalid` or `not checked` (deletes, account and identity events, rejected frames).
    pub validation: &'static str,
    pub errors: Option<String>,
    /// Extra context on an applied event (e.g. the account is hidden).
    pub note: Option<String>,
}

impl<'e> Entry<'e> {
    /// The entry of `event`, whose record URI and CID check (as the column writes it) the reader
    /// thread has prepared.
    pub fn for_event(event: &'e StoredEvent, uri: Option<&'e str>, cid_check: Option<&'e str>) -> Self {
        let env = &event.envelope;
        Entry {
            seq: event.seq,
            did: env.did.as_deref().map(Cow::Borrowed),
            uri: uri.map(Cow::Borrowed),
            kind: env.kind().as_str(),
            operation: env.operation.map(|o| o.as_str()),
            rev: env.rev.as_deref(),
            cid: env.cid.as_deref().map(Cow::Borrowed),
            cid_check,
            validation: "not checked",
            errors: None,
            note: None,
        }
    }
}

/// The audit row's statement, prepared once per batch: every event writes a row, and looking the
/// statement up in the cache per event hashed its SQL each time.
pub(crate) const INSERT: &str =
    "INSERT OR REPLACE INTO audit (seq, did, uri, kind, operation, rev, cid, cid_check,
        validation, errors, outcome, reason)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";

/// Writes one audit row with `insert`, a prepared [`INSERT`].
pub(crate) fn record(
    insert: &mut Statement<'_>,
    e: &Entry<'_>,
    outcome: &Outcome,
) -> Result<(), ProjectorError> {
    let (outcome, reason) = match outcome {
        Outcome::Applied => ("applied", e.note.as_deref().map(Cow::Borrowed)),
        Outcome::Ignored(why) => ("ignored", Some(why.reason())),
    };
    insert.execute(params![
        e.seq,
        e.did,
        e.uri,
        e.kind,
        e.operation,
        e.rev,
        e.cid,
        e.cid_check,
        e.validation,
        e.errors,
        outcome,
        reason
    ])?;
    Ok(())
}
