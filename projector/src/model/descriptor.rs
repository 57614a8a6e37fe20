//! What a read model declares about itself: one [`Model`] value, in the model's own file, listed
//! once in the registry (`model/mod.rs`). Schema creation, the pipeline's dispatch, account removal
//! and a rebuild's end all read these values, so a model cannot be registered for one and forgotten
//! by another. Also the helpers the models share (decoding a record, deleting a row by its key).

use reprise_events::{EventKind, StoredEvent};
use rusqlite::{Connection, Transaction};
use serde::Deserialize;
use serde_json::Value;

use crate::audit::Entry;
use crate::error::ProjectorError;
use crate::types::{ModelError, Outcome, Version};

/// Everything about one read model. Every field is stated in the model's file (none has a default),
/// so adding a model means deciding each of them.
#[derive(Debug)]
pub(crate) struct Model {
    /// For logs and test messages.
    pub name: &'static str,
    /// What it folds.
    pub folds: Folds,
    /// Its tables (`CREATE ... IF NOT EXISTS`, one statement each), including any it maintains on the
    /// side (a search index, aggregates).
    pub tables: &'static str,
    /// Indexes applying needs, to find an account's rows: maintained from the start by incremental
    /// application, built at the end of a rebuild, which finds those rows another way.
    pub apply_indexes: &'static str,
    /// Indexes the API's queries need (each serves one, see SCHEMA.md): maintained by incremental
    /// application, built at the end of a rebuild, which is several times faster than maintaining them.
    pub indexes: &'static str,
    /// Which of its rows belong to an account, and how they go when the account is deleted.
    pub account: AccountRows,
    /// At the end of a rebuild, after the log is applied: builds what it skipped per event in bulk
    /// (the search index), before the indexes are built.
    pub finish_bulk: Option<FinishBulk>,
}

/// What a model folds from the log.
#[derive(Debug)]
pub(crate) enum Folds {
    /// Commits of these collections (a collection has one model). A version reaches `upsert` only
    /// after the pipeline's checks (account state, ordering, CID, lexicon); a delete reaches `remove`.
    Records { collections: &'static [&'static str], upsert: Upsert, remove: Remove },
    /// Log events of these kinds (not commits), in seq order.
    Events { kinds: &'static [EventKind], apply: ApplyEvent },
}

/// Writes a valid version (`bulk`: during a rebuild, so skip what `finish_bulk` builds). Returns the
/// CID of an audio blob the version needs a media job for. A decode error makes the version invalid:
/// decode before writing anything.
pub(crate) type Upsert =
    for<'r> fn(&Transaction<'_>, &Version<'_>, &'r Value, bool) -> Result<Option<&'r str>, ModelError>;

/// Removes a record of the account `did`: the `Option<i64>` is its current row's key (none when only a
/// tombstone is left, or an account deletion already removed it); `bool` is `bulk` as for [`Upsert`].
pub(crate) type Remove = fn(&Transaction<'_>, &str, Option<i64>, bool) -> Result<(), rusqlite::Error>;

/// Applies one event of a kind the model folds, filling in its audit entry.
pub(crate) type ApplyEvent =
    fn(&Transaction<'_>, &StoredEvent, &mut Entry<'_>) -> Result<Outcome, ProjectorError>;

/// See [`Model::finish_bulk`].
pub(crate) type FinishBulk = fn(&mut Connection) -> Result<(), rusqlite::Error>;

/// Which rows of a model belong to an account: all of them go when the account is deleted.
#[derive(Debug)]
pub(crate) enum AccountRows {
    /// Rows keyed by the seq of the version shown (so a new version is an append at the end of the
    /// table's B-tree, not an insert at a random URI position: see ../shared/LIMITS.md).
    /// `remove_all` deletes every row of an account (its DID as `?1`), statement by statement, through
    /// `apply_indexes`; a rebuild has no such indexes yet, so it calls `remove` for each row it noted.
    BySeq { remove_all: &'static [&'static str] },
    /// One row per account (a `self` record), keyed by DID: `remove_all` deletes by key, in a rebuild too.
    ByDid { remove_all: &'static [&'static str] },
    /// No account owns its rows (media jobs are per blob): an account's deletion leaves them.
    None,
}

/// Deletes a record's row by its key (`sql` takes the seq as `?1`), if it has one.
pub(crate) fn delete_row(tx: &Transaction<'_>, sql: &str, seq: Option<i64>) -> Result<(), rusqlite::Error> {
    if let Some(seq) = seq {
        tx.prepare_cached(sql)?.execute([seq])?;
    }
    Ok(())
}

/// A record (already valid against its lexicon) as the fields a model keeps. Decoding fails only on
/// values outside what the database can hold.
pub(crate) fn decode<'a, T: Deserialize<'a>>(record: &'a Value) -> Result<T, ModelError> {
    T::deserialize(record).map_err(|e| ModelError::Decode(e.to_string()))
}

/// A `com.atproto.repo.strongRef`.
#[derive(Deserialize)]
pub(crate) struct StrongRef<'a> {
    pub uri: &'a str,
    pub cid: &'a str,
}
