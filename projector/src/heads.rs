//! Each record's head (the newest version applied, or its tombstone, and the seq that set it): the
//! ordering state every read model shares, kept in `record_heads`, or in memory during a rebuild.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::error::ProjectorError;
use crate::ordering::Head;

pub(crate) const TABLES: &str = "
CREATE TABLE IF NOT EXISTS record_heads (
    uri      TEXT PRIMARY KEY,
    rev      TEXT NOT NULL,
    cid      TEXT,
    deleted  INTEGER NOT NULL,
    seq      INTEGER NOT NULL
) WITHOUT ROWID;";

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
    pub(crate) fn load(
        &self,
        tx: &Transaction<'_>,
        uri: &str,
    ) -> Result<Option<(Head, i64)>, ProjectorError> {
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

    pub(crate) fn store(
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
