//! Applying events: dispatch by kind and collection, the ordering decision, and the checkpoint.

use reprise_events::{EventKind, LogReader, Operation, StoredEvent};
use reprise_lexicons::Catalog;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::ordering::{Decision, Head, decide};
use crate::{ApplyReport, ProjectorError, tracks};

/// What happened to one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    Ignored(Ignored),
}

/// Why an event changed nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ignored {
    /// No read model covers this kind or collection (yet).
    NotIndexed,
    /// Ingest could not understand the frame.
    Rejected,
    Duplicate,
    OlderRev,
    Tombstoned,
    /// The record is not a valid version; the reason says why.
    Invalid(String),
}

pub(crate) fn checkpoint(conn: &Connection) -> Result<i64, ProjectorError> {
    Ok(conn.query_row("SELECT seq FROM checkpoint WHERE id = 1", [], |r| r.get(0))?)
}

pub(crate) fn batch(
    views: &mut Connection,
    log: &LogReader,
    catalog: &Catalog,
    batch_size: usize,
    until: Option<i64>,
) -> Result<ApplyReport, ProjectorError> {
    let from = checkpoint(views)?;
    let events = match until {
        Some(until) => log.read_range(from, until, batch_size)?,
        None => log.read_after(from, batch_size)?,
    };
    let Some(last) = events.last().map(|e| e.seq) else {
        return Ok(ApplyReport { checkpoint: from, ..Default::default() });
    };
    let tx = views.transaction()?;
    let mut report = ApplyReport { events: events.len() as u64, checkpoint: last, ..Default::default() };
    for event in &events {
        match apply(&tx, catalog, event)? {
            Outcome::Applied => report.applied += 1,
            Outcome::Ignored(_) => report.ignored += 1,
        }
    }
    tx.prepare_cached("UPDATE checkpoint SET seq = ?1 WHERE id = 1")?.execute([last])?;
    tx.commit()?;
    Ok(report)
}

/// Applies one event inside the batch's transaction.
pub(crate) fn apply(
    tx: &Transaction<'_>,
    catalog: &Catalog,
    event: &StoredEvent,
) -> Result<Outcome, ProjectorError> {
    let env = &event.envelope;
    match env.kind() {
        EventKind::Rejected => return Ok(Outcome::Ignored(Ignored::Rejected)),
        EventKind::Commit if env.collection.as_deref() == Some(tracks::COLLECTION) => {}
        _ => return Ok(Outcome::Ignored(Ignored::NotIndexed)),
    }
    // Ingest guarantees these for commits; a row that lacks them is treated as not understood.
    let (Some(did), Some(rkey), Some(rev), Some(op)) =
        (env.did.as_deref(), env.rkey.as_deref(), env.rev.as_deref(), env.operation)
    else {
        return Ok(Outcome::Ignored(Ignored::Rejected));
    };
    let uri = format!("at://{did}/{}/{rkey}", tracks::COLLECTION);
    let head = load_head(tx, &uri)?;
    match decide(head.as_ref(), op, rev, env.cid.as_deref()) {
        Decision::Apply => {}
        Decision::Duplicate => return Ok(Outcome::Ignored(Ignored::Duplicate)),
        Decision::OlderRev => return Ok(Outcome::Ignored(Ignored::OlderRev)),
        Decision::Tombstoned => return Ok(Outcome::Ignored(Ignored::Tombstoned)),
    }
    if op == Operation::Delete {
        tracks::remove(tx, &uri)?;
        store_head(tx, &uri, rev, None, event.seq)?;
        return Ok(Outcome::Applied);
    }
    let cid = env.cid.as_deref().unwrap_or_default();
    let record = match reprise_ingest::commit_record(&event.frame) {
        Ok(r) => r,
        Err(reason) => return Ok(Outcome::Ignored(Ignored::Invalid(reason))),
    };
    let value = match tracks::parse(record) {
        Ok(v) => v,
        Err(reason) => return Ok(Outcome::Ignored(Ignored::Invalid(reason))),
    };
    let track = match tracks::decode(catalog, rkey, &value) {
        Ok(t) => t,
        // An invalid version never replaces the current one, and does not move the head.
        Err(reason) => return Ok(Outcome::Ignored(Ignored::Invalid(reason))),
    };
    let version = tracks::Version {
        uri: &uri,
        did,
        rkey,
        cid,
        rev,
        seq: event.seq,
        received_at_us: event.received_at_us,
    };
    tracks::upsert(tx, &version, &track)?;
    store_head(tx, &uri, rev, Some(cid), event.seq)?;
    Ok(Outcome::Applied)
}

fn load_head(tx: &Transaction<'_>, uri: &str) -> Result<Option<Head>, ProjectorError> {
    Ok(tx
        .prepare_cached("SELECT rev, cid, deleted FROM record_heads WHERE uri = ?1")?
        .query_row([uri], |r| Ok(Head { rev: r.get(0)?, cid: r.get(1)?, deleted: r.get(2)? }))
        .optional()?)
}

fn store_head(
    tx: &Transaction<'_>,
    uri: &str,
    rev: &str,
    cid: Option<&str>,
    seq: i64,
) -> Result<(), ProjectorError> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO record_heads (uri, rev, cid, deleted, seq) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![uri, rev, cid, cid.is_none(), seq])?;
    Ok(())
}
