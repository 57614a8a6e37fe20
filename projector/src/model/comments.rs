//! Comments, from `fm.plyr.comment` records: text at a playback position of a track; an edit is a new
//! version that replaces the text.

use rusqlite::{Transaction, params};
use serde::Deserialize;
use serde_json::Value;

use crate::model::descriptor::{AccountRows, Folds, Model, StrongRef, decode, delete_row};
use crate::types::{ModelError, Version, sort_at};

pub(crate) static MODEL: Model = Model {
    name: "comments",
    folds: Folds::Records { collections: &["fm.plyr.comment"], upsert, remove },
    tables: "
CREATE TABLE IF NOT EXISTS comments (
    uri            TEXT NOT NULL,
    did            TEXT NOT NULL,
    subject_uri    TEXT NOT NULL,
    subject_cid    TEXT NOT NULL,
    text           TEXT NOT NULL,
    timestamp_ms   INTEGER NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT,
    sort_at_us     INTEGER NOT NULL,
    indexed_at_us  INTEGER NOT NULL,
    seq            INTEGER PRIMARY KEY
);",
    apply_indexes: "CREATE INDEX IF NOT EXISTS comments_by_actor ON comments (did);",
    indexes: "
CREATE INDEX IF NOT EXISTS comments_by_subject ON comments (subject_uri, timestamp_ms, sort_at_us, uri);",
    account: AccountRows::BySeq { remove_all: &["DELETE FROM comments WHERE did = ?1"] },
    finish_bulk: None,
};

const DELETE: &str = "DELETE FROM comments WHERE seq = ?1";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Comment<'a> {
    #[serde(borrow)]
    subject: StrongRef<'a>,
    text: &'a str,
    timestamp_ms: i64,
    created_at: &'a str,
    updated_at: Option<&'a str>,
}

fn upsert<'r>(
    tx: &Transaction<'_>,
    v: &Version<'_>,
    record: &'r Value,
    _bulk: bool,
) -> Result<Option<&'r str>, ModelError> {
    let r: Comment<'_> = decode(record)?;
    let sort_at_us = sort_at(r.created_at, v.received_at_us)?;
    delete_row(tx, DELETE, v.replaces)?;
    tx.prepare_cached(
        "INSERT INTO comments (uri, did, subject_uri, subject_cid, text, timestamp_ms, created_at,
            updated_at, sort_at_us, indexed_at_us, seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        v.uri,
        v.did,
        r.subject.uri,
        r.subject.cid,
        r.text,
        r.timestamp_ms,
        r.created_at,
        r.updated_at,
        sort_at_us,
        v.received_at_us,
        v.seq
    ])?;
    Ok(None)
}

fn remove(tx: &Transaction<'_>, _did: &str, seq: Option<i64>, _bulk: bool) -> Result<(), rusqlite::Error> {
    delete_row(tx, DELETE, seq)
}
