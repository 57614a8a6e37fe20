//! The audit trail: one row per event that touched an indexed record or an account, saying what the
//! projector did with it and why. Moderators replay a record's or an account's history from it.

use reprise_events::{EventKind, StoredEvent};
use rusqlite::{Transaction, params};

use crate::ProjectorError;
use crate::apply::Outcome;

/// What the audit row of one event will say; filled in as the event goes through the pipeline.
#[derive(Debug)]
pub(crate) struct Entry {
    pub seq: i64,
    pub did: Option<String>,
    pub uri: Option<String>,
    pub kind: &'static str,
    pub operation: Option<&'static str>,
    pub rev: Option<String>,
    pub cid: Option<String>,
    pub cid_check: Option<String>,
    /// `valid`, `invalid` or `not checked` (deletes, account and identity events, rejected frames).
    pub validation: &'static str,
    pub errors: Option<String>,
    /// Extra context on an applied event (e.g. the account is hidden).
    pub note: Option<String>,
}

impl Entry {
    pub fn for_event(event: &StoredEvent) -> Self {
        let env = &event.envelope;
        let uri = match (env.kind(), &env.did, &env.collection, &env.rkey) {
            (EventKind::Commit, Some(did), Some(c), Some(rkey)) => Some(format!("at://{did}/{c}/{rkey}")),
            _ => None,
        };
        Entry {
            seq: event.seq,
            did: env.did.clone(),
            uri,
            kind: env.kind().as_str(),
            operation: env.operation.map(|o| o.as_str()),
            rev: env.rev.clone(),
            cid: env.cid.clone(),
            cid_check: env.cid_check.as_ref().map(|c| c.to_column()),
            validation: "not checked",
            errors: None,
            note: None,
        }
    }
}

pub(crate) fn record(tx: &Transaction<'_>, e: &Entry, outcome: &Outcome) -> Result<(), ProjectorError> {
    let (outcome, reason) = match outcome {
        Outcome::Applied => ("applied", e.note.clone()),
        Outcome::Ignored(why) => ("ignored", Some(why.reason())),
    };
    tx.prepare_cached(
        "INSERT OR REPLACE INTO audit (seq, did, uri, kind, operation, rev, cid, cid_check, validation, errors,
            outcome, reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
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
