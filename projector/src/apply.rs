//! Applying events: the one pipeline every record goes through (account state, ordering, CID,
//! lexicon, model), the audit row each event leaves, and the checkpoint.

use reprise_events::{CidCheck, EventKind, LogReader, Operation, StoredEvent};
use reprise_lexicons::Catalog;
use rusqlite::{Connection, Transaction};

use crate::accounts::{self, Visibility};
use crate::audit::{self, Entry};
use crate::error::ProjectorError;
use crate::heads::Heads;
use crate::model::{self, RecordModel};
use crate::ordering::{Decision, decide};
use crate::prepare::{Prepared, prepare_all};
use crate::schema::checkpoint;
use crate::types::{ApplyReport, Ignored, ModelError, Outcome, Version};

/// What applying needs besides the transaction.
#[derive(Debug)]
pub(crate) struct Ctx<'c> {
    pub catalog: &'c Catalog,
    pub heads: Heads,
    pub seen: accounts::SeenCache,
    pub rows: accounts::RowsByDid,
    pub media: crate::media::Needed,
    /// A bulk rebuild: derived indexes (search) are built once at the end instead of per event.
    pub bulk: bool,
}

/// Up to `limit` events after `after` (and at most `until`), in seq order.
pub(crate) fn read(
    log: &LogReader,
    after: i64,
    limit: usize,
    until: Option<i64>,
) -> Result<Vec<StoredEvent>, ProjectorError> {
    Ok(match until {
        Some(until) => log.read_range(after, until, limit)?,
        None => log.read_after(after, limit)?,
    })
}

/// Reads, prepares and applies the next batch after the checkpoint, in one transaction.
pub(crate) fn batch(
    views: &mut Connection,
    log: &LogReader,
    ctx: &mut Ctx<'_>,
    batch_size: usize,
    until: Option<i64>,
) -> Result<ApplyReport, ProjectorError> {
    let from = checkpoint(views)?;
    let events = prepare_all(ctx.catalog, read(log, from, batch_size, until)?);
    if events.is_empty() {
        return Ok(ApplyReport { checkpoint: from, ..Default::default() });
    }
    apply_prepared(views, ctx, &events)
}

/// Applies prepared events (the next ones after the checkpoint, in seq order) in one transaction
/// that also moves the checkpoint to the last of them.
pub(crate) fn apply_prepared(
    views: &mut Connection,
    ctx: &mut Ctx<'_>,
    events: &[Prepared],
) -> Result<ApplyReport, ProjectorError> {
    let Some(last) = events.last().map(|p| p.event.seq) else {
        return Ok(ApplyReport { checkpoint: checkpoint(views)?, ..Default::default() });
    };
    let tx = views.transaction()?;
    let mut report = ApplyReport { events: events.len() as u64, checkpoint: last, ..Default::default() };
    {
        let mut audit_insert = tx.prepare_cached(audit::INSERT)?;
        for prepared in events {
            match apply(&tx, ctx, prepared, &mut audit_insert)? {
                Outcome::Applied => report.applied += 1,
                Outcome::Ignored(_) => report.ignored += 1,
            }
        }
    }
    tx.prepare_cached("UPDATE checkpoint SET seq = ?1 WHERE id = 1")?.execute([last])?;
    tx.commit()?;
    Ok(report)
}

/// Applies one event inside the batch's transaction and records its audit row.
pub(crate) fn apply(
    tx: &Transaction<'_>,
    ctx: &mut Ctx<'_>,
    prepared: &Prepared,
    audit_insert: &mut rusqlite::Statement<'_>,
) -> Result<Outcome, ProjectorError> {
    let event = &prepared.event;
    let env = &event.envelope;
    let mut entry = Entry::for_event(event, prepared.uri.as_deref(), prepared.cid_check.as_deref());
    let outcome = match env.kind() {
        EventKind::Rejected => {
            Outcome::Ignored(Ignored::Rejected(env.reject_reason.clone().unwrap_or_default()))
        }
        EventKind::Account => accounts::apply_account(tx, event, &mut ctx.seen, &mut ctx.rows)?,
        EventKind::Identity => accounts::apply_identity(tx, event, &mut ctx.seen)?,
        EventKind::Commit => match prepared.model {
            None => return Ok(Outcome::Ignored(Ignored::NotIndexed)),
            Some(model) => commit(tx, ctx, prepared, model, &mut entry)?,
        },
        // Gap markers describe the stream, not a record or an account.
        EventKind::Gap => return Ok(Outcome::Ignored(Ignored::NotIndexed)),
        kind => match model::for_event(kind) {
            None => return Ok(Outcome::Ignored(Ignored::NotIndexed)),
            Some(apply_event) => {
                // What a rebuild keeps in memory (the media jobs track versions asked for) is written
                // out first, so the model reads what incremental application would have written.
                ctx.media.flush(tx)?;
                apply_event(tx, event, &mut entry)?
            }
        },
    };
    audit::record(audit_insert, &entry, &outcome)?;
    Ok(outcome)
}

fn commit(
    tx: &Transaction<'_>,
    ctx: &mut Ctx<'_>,
    prepared: &Prepared,
    model: RecordModel,
    entry: &mut Entry<'_>,
) -> Result<Outcome, ProjectorError> {
    let event = &prepared.event;
    let env = &event.envelope;
    // Ingest guarantees these for commits; a row that lacks them is treated as not understood.
    let (Some(did), Some(collection), Some(rkey), Some(rev), Some(op)) = (
        env.did.as_deref(),
        env.collection.as_deref(),
        env.rkey.as_deref(),
        env.rev.as_deref(),
        env.operation,
    ) else {
        return Ok(Outcome::Ignored(Ignored::Rejected("commit without its envelope".into())));
    };
    let uri = prepared.uri.as_deref().unwrap_or_default();
    let visibility = accounts::touch(tx, &mut ctx.seen, did, event.received_at_us)?;
    if visibility == Visibility::Deleted {
        return Ok(Outcome::Ignored(Ignored::AccountDeleted));
    }
    if let Visibility::Hidden(status) = &visibility {
        entry.note = Some(format!("account {status}: not served until active again"));
    }
    let head = ctx.heads.load(tx, uri)?;
    // The row the current version lives in, if any (an account deletion may have removed it since).
    let replaces = head.as_ref().and_then(|(h, seq)| (!h.deleted).then_some(*seq));
    match decide(head.as_ref().map(|(h, _)| h), op, rev, env.cid.as_deref()) {
        Decision::Apply => {}
        Decision::Duplicate => return Ok(Outcome::Ignored(Ignored::Duplicate)),
        Decision::OlderRev => return Ok(Outcome::Ignored(Ignored::OlderRev)),
        Decision::Tombstoned => return Ok(Outcome::Ignored(Ignored::Tombstoned)),
    }
    if op == Operation::Delete {
        (model.remove)(tx, did, replaces, ctx.bulk)?;
        ctx.heads.store(tx, uri, rev, None, event.seq)?;
        return Ok(Outcome::Applied);
    }
    // A record that does not hash to the CID its commit claims is not that version: never serve it.
    if matches!(env.cid_check, Some(CidCheck::Mismatch { .. })) {
        return Ok(Outcome::Ignored(Ignored::CidMismatch));
    }
    let cid = env.cid.as_deref().unwrap_or_default();
    let record = match &prepared.record {
        Some(Ok(record)) => record,
        Some(Err(errors)) => return Ok(invalid(entry, errors.clone())),
        None => return Ok(invalid(entry, "commit without a record".into())),
    };
    entry.validation = "valid";
    let version = Version {
        uri,
        did,
        collection,
        rkey,
        cid,
        rev,
        seq: event.seq,
        replaces,
        received_at_us: event.received_at_us,
    };
    match (model.upsert)(tx, &version, record, ctx.bulk) {
        Ok(blob) => {
            ctx.rows.note(did, model, event.seq);
            if let Some(blob) = blob {
                ctx.media.need(tx, did, uri, blob, event.seq)?;
            }
        }
        Err(ModelError::Sql(e)) => return Err(e.into()),
        Err(ModelError::Decode(reason)) => return Ok(invalid(entry, reason)),
    }
    ctx.heads.store(tx, uri, rev, Some(cid), event.seq)?;
    Ok(Outcome::Applied)
}

fn invalid(entry: &mut Entry<'_>, errors: String) -> Outcome {
    entry.validation = "invalid";
    entry.errors = Some(errors.clone());
    // An invalid version never replaces the current one, and does not move the head.
    Outcome::Ignored(Ignored::Invalid(errors))
}
