//! Accounts and identities: status (hiding and deleting an account's content), handles with their
//! history, first and last seen. Account and identity events apply in upstream-seq order per DID.

use foldhash::HashMap;

use reprise_events::StoredEvent;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::error::ProjectorError;
use crate::model::descriptor::{AccountRows, Remove};
use crate::model::{MODELS, RecordModel};
use crate::types::{Ignored, Outcome};

pub(crate) const TABLES: &str = "
CREATE TABLE IF NOT EXISTS actors (
    did            TEXT PRIMARY KEY,
    handle         TEXT,
    status         TEXT NOT NULL,
    active         INTEGER NOT NULL,
    account_seq    INTEGER,
    identity_seq   INTEGER,
    first_seen_us  INTEGER NOT NULL,
    last_seen_us   INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS handle_history (
    did           TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    handle        TEXT,
    upstream_seq  INTEGER,
    time          TEXT,
    PRIMARY KEY (did, seq)
) WITHOUT ROWID;";

/// Finds an account by handle (the API's `actor` parameters).
pub(crate) const INDEXES: &str = "CREATE INDEX IF NOT EXISTS actors_by_handle ON actors (handle);";

/// Whether an account's records are served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Visibility {
    Visible,
    /// Takendown, suspended or deactivated: kept and kept current, but not served until active again.
    Hidden(String),
    /// Deleted: the account's records are removed from every read model (the log keeps them).
    Deleted,
}

/// Statuses that hide an account's content.
pub const HIDING_STATUSES: [&str; 3] = ["takendown", "suspended", "deactivated"];

/// Every status whose content is not served, as an SQL list for `status IN ...`: the hiding ones and
/// `deleted` (its rows are removed, its `actors` row stays). The query API filters every read by it.
pub const NOT_SERVED_SQL: &str = "('takendown', 'suspended', 'deactivated', 'deleted')";

#[test]
fn the_not_served_sql_list_is_every_status_that_is_not_visible() {
    let listed: Vec<String> = HIDING_STATUSES.iter().chain(&["deleted"]).map(|s| format!("'{s}'")).collect();
    assert_eq!(NOT_SERVED_SQL, format!("({})", listed.join(", ")));
    for status in HIDING_STATUSES.iter().chain(&["deleted"]) {
        assert_ne!(visibility(status), Visibility::Visible, "{status}");
    }
    for status in ["active", "desynchronized", "throttled", ""] {
        assert_eq!(visibility(status), Visibility::Visible, "{status}");
    }
}

fn visibility(status: &str) -> Visibility {
    match status {
        "deleted" => Visibility::Deleted,
        s if HIDING_STATUSES.contains(&s) => Visibility::Hidden(s.to_owned()),
        _ => Visibility::Visible,
    }
}

/// During a bulk rebuild, each DID's status and latest sighting, kept in memory so that seeing a
/// DID again costs no write: the upsert in `touch` was a tenth of the rebuild's time. `last_seen_us`
/// is written out once at the end (`flush`). Incremental application keeps no cache, so a rolled
/// back batch cannot leave it stale.
#[derive(Debug, Default)]
pub(crate) struct SeenCache(Option<HashMap<String, (String, i64)>>);

impl SeenCache {
    pub fn bulk() -> Self {
        SeenCache(Some(HashMap::default()))
    }

    fn set_status(&mut self, did: &str, status: &str) {
        if let Some((s, _)) = self.0.as_mut().and_then(|m| m.get_mut(did)) {
            status.clone_into(s);
        }
    }

    /// Writes the latest sighting of every DID seen; the cache is empty afterwards.
    pub fn flush(&mut self, conn: &mut Connection) -> Result<(), ProjectorError> {
        let Some(m) = self.0.take() else { return Ok(()) };
        let tx = conn.transaction()?;
        {
            let mut update =
                tx.prepare_cached("UPDATE actors SET last_seen_us = MAX(last_seen_us, ?2) WHERE did = ?1")?;
            for (did, (_, last_seen)) in m {
                update.execute(params![did, last_seen])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

/// During a bulk rebuild, the rows each DID has in the seq-keyed record tables (with the function that
/// removes each), so that deleting an account finds them without the by-DID indexes: those are built
/// once at the end of a rebuild instead of maintained on every insert, where their random-position
/// inserts cost ~15% of it. Entries of rows removed since are harmless (deleting a missing seq does
/// nothing), and a seq belongs to one event, so it never names another DID's row. Incremental
/// application keeps none.
#[derive(Debug, Default)]
pub(crate) struct RowsByDid(Option<HashMap<String, Vec<(Remove, i64)>>>);

impl RowsByDid {
    pub fn bulk() -> Self {
        RowsByDid(Some(HashMap::default()))
    }

    /// A version of `model` was written for `did` under the row key `seq`.
    pub fn note(&mut self, did: &str, model: RecordModel, seq: i64) {
        let Some(m) = self.0.as_mut() else { return };
        if let AccountRows::BySeq { .. } = model.model.account {
            match m.get_mut(did) {
                Some(rows) => rows.push((model.remove, seq)),
                None => {
                    m.insert(did.to_owned(), vec![(model.remove, seq)]);
                }
            }
        }
    }
}

/// Notes that `did` was seen now; returns whether its content is served.
pub(crate) fn touch(
    tx: &Transaction<'_>,
    seen: &mut SeenCache,
    did: &str,
    now_us: i64,
) -> Result<Visibility, ProjectorError> {
    if let Some((status, last)) = seen.0.as_mut().and_then(|m| m.get_mut(did)) {
        *last = (*last).max(now_us);
        return Ok(visibility(status));
    }
    let status: String = tx
        .prepare_cached(
            "INSERT INTO actors (did, status, active, first_seen_us, last_seen_us) VALUES (?1, 'active', 1, ?2, ?2)
             ON CONFLICT(did) DO UPDATE SET last_seen_us = MAX(last_seen_us, excluded.last_seen_us)
             RETURNING status",
        )?
        .query_row(params![did, now_us], |r| r.get(0))?;
    let v = visibility(&status);
    if let Some(m) = seen.0.as_mut() {
        m.insert(did.to_owned(), (status, now_us));
    }
    Ok(v)
}

pub(crate) fn apply_account(
    tx: &Transaction<'_>,
    event: &StoredEvent,
    seen: &mut SeenCache,
    rows: &mut RowsByDid,
) -> Result<Outcome, ProjectorError> {
    let (Some(did), Some(useq)) = (event.envelope.did.as_deref(), event.envelope.upstream_seq) else {
        return Ok(Outcome::Ignored(Ignored::Rejected("account event without did or seq".into())));
    };
    let body = match reprise_ingest::account_body(&event.frame) {
        Ok(b) => b,
        Err(reason) => return Ok(Outcome::Ignored(Ignored::Rejected(reason))),
    };
    touch(tx, seen, did, event.received_at_us)?;
    if seen_seq(tx, "account_seq", did)?.is_some_and(|cur| useq <= cur) {
        return Ok(Outcome::Ignored(Ignored::OlderSeq));
    }
    let status = match (body.active, body.status) {
        (_, Some(status)) => status,
        (true, None) => "active".to_owned(),
        (false, None) => "deactivated".to_owned(),
    };
    tx.prepare_cached("UPDATE actors SET status = ?2, active = ?3, account_seq = ?4 WHERE did = ?1")?
        .execute(params![did, status, body.active, useq])?;
    seen.set_status(did, &status);
    if visibility(&status) == Visibility::Deleted {
        remove_content(tx, did, rows)?;
    }
    Ok(Outcome::Applied)
}

pub(crate) fn apply_identity(
    tx: &Transaction<'_>,
    event: &StoredEvent,
    seen: &mut SeenCache,
) -> Result<Outcome, ProjectorError> {
    let useq = event.envelope.upstream_seq;
    // Only a backfill may leave out the upstream seq: it carries what the DID document claimed.
    let Some(did) =
        event.envelope.did.as_deref().filter(|_| useq.is_some() || event.source.starts_with("backfill:"))
    else {
        return Ok(Outcome::Ignored(Ignored::Rejected("identity event without did or seq".into())));
    };
    let body = match reprise_ingest::identity_body(&event.frame) {
        Ok(b) => b,
        Err(reason) => return Ok(Outcome::Ignored(Ignored::Rejected(reason))),
    };
    touch(tx, seen, did, event.received_at_us)?;
    // A sequenced identity event outranks an older one and every DID-document claim; a claim only fills
    // in the handle of an account no stream has told us about.
    if seen_seq(tx, "identity_seq", did)?.is_some_and(|cur| useq.is_none_or(|useq| useq <= cur)) {
        return Ok(Outcome::Ignored(Ignored::OlderSeq));
    }
    // An identity event without a handle means the handle no longer verifies: forget it.
    let handle = body.handle.map(|h| h.to_ascii_lowercase());
    tx.prepare_cached("UPDATE actors SET handle = ?2, identity_seq = ?3 WHERE did = ?1")?
        .execute(params![did, handle, useq])?;
    tx.prepare_cached(
        "INSERT OR REPLACE INTO handle_history (did, seq, handle, upstream_seq, time) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![did, event.seq, handle, useq, body.time])?;
    Ok(Outcome::Applied)
}

fn seen_seq(tx: &Transaction<'_>, column: &str, did: &str) -> Result<Option<i64>, ProjectorError> {
    let sql = format!("SELECT {column} FROM actors WHERE did = ?1");
    Ok(tx.prepare_cached(&sql)?.query_row([did], |r| r.get::<_, Option<i64>>(0)).optional()?.flatten())
}

/// Removes every record of `did` from every read model that keeps an account's rows; heads stay, so
/// replays keep their order.
fn remove_content(tx: &Transaction<'_>, did: &str, rows: &mut RowsByDid) -> Result<(), ProjectorError> {
    let noted = rows.0.as_mut().map(|m| m.remove(did).unwrap_or_default());
    if let Some(noted) = &noted {
        // A bulk rebuild: no by-DID indexes yet (and no search index), so delete row by row.
        for (remove, seq) in noted {
            remove(tx, did, Some(*seq), true)?;
        }
    }
    for model in MODELS {
        let statements = match model.account {
            AccountRows::BySeq { remove_all } if noted.is_none() => remove_all,
            AccountRows::ByDid { remove_all } => remove_all,
            AccountRows::BySeq { .. } | AccountRows::None => &[],
        };
        for sql in statements {
            tx.prepare_cached(sql)?.execute([did])?;
        }
    }
    Ok(())
}
