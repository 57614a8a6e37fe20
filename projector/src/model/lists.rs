//! Lists (playlists, albums, liked lists), from `fm.plyr.list` records. A list keeps its items in
//! record order; resolving an item to a track happens when read, so an item whose track arrives later
//! resolves then.

use rusqlite::{Transaction, params};
use serde::Deserialize;
use serde_json::Value;

use crate::model::descriptor::{AccountRows, Folds, Model, StrongRef, decode, delete_row};
use crate::types::{ModelError, Version, sort_at};

pub(crate) static MODEL: Model = Model {
    name: "lists",
    folds: Folds::Records { collections: &["fm.plyr.list"], upsert, remove },
    tables: "
CREATE TABLE IF NOT EXISTS lists (
    uri            TEXT NOT NULL,
    did            TEXT NOT NULL,
    cid            TEXT NOT NULL,
    name           TEXT,
    list_type      TEXT NOT NULL,
    item_count     INTEGER NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT,
    sort_at_us     INTEGER NOT NULL,
    indexed_at_us  INTEGER NOT NULL,
    seq            INTEGER PRIMARY KEY
);

CREATE TABLE IF NOT EXISTS list_items (
    list_seq     INTEGER NOT NULL,
    position     INTEGER NOT NULL,
    list_uri     TEXT NOT NULL,
    subject_uri  TEXT NOT NULL,
    subject_cid  TEXT NOT NULL,
    PRIMARY KEY (list_seq, position)
) WITHOUT ROWID;",
    apply_indexes: "
CREATE INDEX IF NOT EXISTS lists_by_actor ON lists (did, list_type, sort_at_us DESC, uri DESC);",
    indexes: "
CREATE UNIQUE INDEX IF NOT EXISTS lists_by_uri ON lists (uri);
CREATE INDEX IF NOT EXISTS list_items_by_list ON list_items (list_uri, position);
CREATE INDEX IF NOT EXISTS list_items_by_subject ON list_items (subject_uri);",
    account: AccountRows::BySeq {
        remove_all: &[
            "DELETE FROM list_items WHERE list_seq IN (SELECT seq FROM lists WHERE did = ?1)",
            "DELETE FROM lists WHERE did = ?1",
        ],
    },
    finish_bulk: None,
};

#[derive(Deserialize)]
struct Item<'a> {
    #[serde(borrow)]
    subject: StrongRef<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct List<'a> {
    name: Option<&'a str>,
    list_type: &'a str,
    #[serde(borrow, default)]
    items: Vec<Item<'a>>,
    created_at: &'a str,
    updated_at: Option<&'a str>,
}

fn upsert<'r>(
    tx: &Transaction<'_>,
    v: &Version<'_>,
    record: &'r Value,
    _bulk: bool,
) -> Result<Option<&'r str>, ModelError> {
    let r: List<'_> = decode(record)?;
    let sort_at_us = sort_at(r.created_at, v.received_at_us)?;
    delete_list(tx, v.replaces)?;
    tx.prepare_cached(
        "INSERT INTO lists (uri, did, cid, name, list_type, item_count, created_at, updated_at,
            sort_at_us, indexed_at_us, seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        v.uri,
        v.did,
        v.cid,
        r.name,
        r.list_type,
        r.items.len() as i64,
        r.created_at,
        r.updated_at,
        sort_at_us,
        v.received_at_us,
        v.seq
    ])?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO list_items (list_seq, position, list_uri, subject_uri, subject_cid) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (i, item) in r.items.iter().enumerate() {
        insert.execute(params![v.seq, i as i64, v.uri, item.subject.uri, item.subject.cid])?;
    }
    Ok(None)
}

fn remove(tx: &Transaction<'_>, _did: &str, seq: Option<i64>, _bulk: bool) -> Result<(), rusqlite::Error> {
    delete_list(tx, seq)
}

fn delete_list(tx: &Transaction<'_>, seq: Option<i64>) -> Result<(), rusqlite::Error> {
    delete_row(tx, "DELETE FROM list_items WHERE list_seq = ?1", seq)?;
    delete_row(tx, "DELETE FROM lists WHERE seq = ?1", seq)
}
