//! Applying events: the one pipeline every record goes through (account state, ordering, CID,
//! lexicon, model), the audit row each event leaves, and the checkpoint.

use std::borrow::Cow;

use reprise_events::{CidCheck, EventKind, LogReader, Operation, StoredEvent};
use reprise_lexicons::Catalog;

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::accounts::{self, Visibility};
use crate::audit::{self, Entry};
use crate::models::Model;
use crate::ordering::{Decision, Head, decide};
use crate::prepare::{Prepared, prepare_all};
use crate::{ApplyReport, ProjectorError};

/// What happened to one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    Ignored(Ignored),
}

/// Why an event changed nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ignored {
    /// No read model covers this kind or collection.
    NotIndexed,
    /// Ingest could not understand the frame.
    Rejected(String),
    Duplicate,
    OlderRev,
    Tombstoned,
    /// An account or identity event older (by upstream seq) than one already applied.
    OlderSeq,
    /// The account is deleted: its records are gone and new ones are not indexed.
    AccountDeleted,
    /// The record does not match the CID the commit claims.
    CidMismatch,
    /// The record is not a valid version; every error, with its path.
    Invalid(String),
}

impl Ignored {
    pub fn reason(&self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            Ignored::Rejected(r) => return Cow::Owned(format!("rejected by ingest: {r}")),
            Ignored::NotIndexed => "not indexed",
            Ignored::Duplicate => "duplicate",
            Ignored::OlderRev => "older rev",
            Ignored::Tombstoned => "tombstone",
            Ignored::OlderSeq => "older seq",
            Ignored::AccountDeleted => "account deleted",
            Ignored::CidMismatch => "cid mismatch",
            Ignored::Invalid(_) => "invalid",
        })
    }
}

/// A model's failure to apply a version: a database error stops the batch; a decode error makes the
/// version invalid.
#[derive(Debug)]
pub(crate) enum ModelError {
    Sql(rusqlite::Error),
    Decode(String),
}

impl From<rusqlite::Error> for ModelError {
    fn from(e: rusqlite::Error) -> Self {
        ModelError::Sql(e)
    }
}

/// The version of a record being applied.
#[derive(Debug)]
pub(crate) struct Version<'e> {
    pub uri: &'e str,
    pub did: &'e str,
    pub collection: &'e str,
    pub rkey: &'e str,
    pub cid: &'e str,
    pub rev: &'e str,
    pub seq: i64,
    /// The seq (row key) of the version this one replaces, if its row exists.
    pub replaces: Option<i64>,
    pub received_at_us: i64,
}

/// A record's claimed time, but never later than when it arrived (a future date must not pin
/// anything to the top of a feed).
pub(crate) fn sort_at(claimed: &str, received_at_us: i64) -> Result<i64, ModelError> {
    let t =
        claimed.parse::<jiff::Timestamp>().map_err(|e| ModelError::Decode(format!("{claimed:?}: {e}")))?;
    Ok(t.as_microsecond().min(received_at_us))
}

/// Where the ordering state lives: in `record_heads` (incremental application), or in memory during
/// a bulk rebuild, written out sorted at the end, because random-key inserts into a big B-tree
/// were the rebuild's bottleneck (see ../shared/LIMITS.md).
#[derive(Debug, Default)]
pub(crate) enum Heads {
    #[default]
    Table,
    Memory(foldhash::HashMap<String, (Head, i64)>),
}

impl Heads {
    /// The record's head and the seq of the event that set it: while the head is not a tombstone,
    /// that seq is also the key of the record's row in its model's table.
    fn load(&self, tx: &Transaction<'_>, uri: &str) -> Result<Option<(Head, i64)>, ProjectorError> {
        match self {
            Heads::Memory(m) => Ok(m.get(uri).cloned()),
            Heads::Table => Ok(tx
                .prepare_cached("SELECT rev, cid, deleted, seq FROM record_heads WHERE uri = ?1")?
                .query_row([uri], |r| {
                    Ok((Head { rev: r.get(0)?, cid: r.get(1)?, deleted: r.get(2)? }, r.get(3)?))
                })
                .optional()?),
        }
    }

    fn store(
        &mut self,
        tx: &Transaction<'_>,
        uri: &str,
        rev: &str,
        cid: Option<&str>,
        seq: i64,
    ) -> Result<(), ProjectorError> {
        match self {
            // Most records are written once; a new version reuses the strings of the one it replaces.
            Heads::Memory(m) => match m.get_mut(uri) {
                Some((head, at)) => {
                    rev.clone_into(&mut head.rev);
                    match (cid, &mut head.cid) {
                        (Some(cid), Some(old)) => cid.clone_into(old),
                        (cid, old) => *old = cid.map(str::to_owned),
                    }
                    head.deleted = cid.is_none();
                    *at = seq;
                }
                None => {
                    let head =
                        Head { rev: rev.to_owned(), cid: cid.map(str::to_owned), deleted: cid.is_none() };
                    m.insert(uri.to_owned(), (head, seq));
                }
            },
            Heads::Table => {
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO record_heads (uri, rev, cid, deleted, seq) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![uri, rev, cid, cid.is_none(), seq])?;
            }
        }
        Ok(())
    }

    /// The in-memory heads sorted by URI: the order they are written in.
    pub(crate) fn into_sorted(self) -> Vec<(String, (Head, i64))> {
        let Heads::Memory(m) = self else { return Vec::new() };
        let mut all: Vec<_> = m.into_iter().collect();
        all.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// Writes heads sorted by URI (from `into_sorted`) into `record_heads`, empty since the file is new.
    pub(crate) fn write_sorted(
        conn: &mut Connection,
        sorted: &[(String, (Head, i64))],
    ) -> Result<(), ProjectorError> {
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO record_heads (uri, rev, cid, deleted, seq) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for (uri, (h, seq)) in sorted {
                insert.execute(params![uri, h.rev, h.cid, h.deleted, seq])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

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

pub(crate) fn checkpoint(conn: &Connection) -> Result<i64, ProjectorError> {
    Ok(conn.query_row("SELECT seq FROM checkpoint WHERE id = 1", [], |r| r.get(0))?)
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
    let mut entry = Entry::for_event(prepared);
    let outcome = match env.kind() {
        EventKind::Rejected => {
            Outcome::Ignored(Ignored::Rejected(env.reject_reason.clone().unwrap_or_default()))
        }
        EventKind::Account => accounts::apply_account(tx, event, &mut ctx.seen, &mut ctx.rows)?,
        EventKind::Identity => accounts::apply_identity(tx, event, &mut ctx.seen)?,
        EventKind::Commit => match env.collection.as_deref().and_then(Model::of) {
            None => return Ok(Outcome::Ignored(Ignored::NotIndexed)),
            Some(model) => commit(tx, ctx, prepared, model, &mut entry)?,
        },
        // Gap markers describe the stream, not a record or an account.
        EventKind::Gap => return Ok(Outcome::Ignored(Ignored::NotIndexed)),
        EventKind::Media => {
            // A media event reads the job a track version asked for: write out those waiting.
            ctx.media.flush(tx)?;
            crate::media::apply(tx, event, &mut entry)?
        }
    };
    audit::record(audit_insert, &entry, &outcome)?;
    Ok(outcome)
}

fn commit(
    tx: &Transaction<'_>,
    ctx: &mut Ctx<'_>,
    prepared: &Prepared,
    model: Model,
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
        model.remove(tx, did, replaces, ctx.bulk)?;
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
    match model.upsert(tx, &version, record, ctx.bulk) {
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
