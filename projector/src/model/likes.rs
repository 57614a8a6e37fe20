//! Likes, from `fm.plyr.like` records. Every like record is kept; "one like per (liker, track)" is
//! how the API reads them (distinct likers), so deleting one of two like records for the same track
//! leaves the like in place, and a like of a track not (yet) indexed is kept.

use rusqlite::{Transaction, params};
use serde::Deserialize;
use serde_json::Value;

use crate::model::descriptor::{AccountRows, Folds, Model, StrongRef, decode, delete_row};
use crate::types::{ModelError, Version, sort_at};

pub(crate) static MODEL: Model = Model {
    name: "likes",
    folds: Folds::Records { collections: &["fm.plyr.like"], upsert, remove },
    tables: "
CREATE TABLE IF NOT EXISTS likes (
    uri            TEXT NOT NULL,
    did            TEXT NOT NULL,
    subject_uri    TEXT NOT NULL,
    subject_cid    TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    sort_at_us     INTEGER NOT NULL,
    indexed_at_us  INTEGER NOT NULL,
    seq            INTEGER PRIMARY KEY
);",
    apply_indexes: "CREATE INDEX IF NOT EXISTS likes_by_actor ON likes (did, sort_at_us DESC, uri DESC);",
    // `likes_by_subject_with_liker` carries the liker so a track's like count reads the index alone (a
    // table row per like, scattered over the file, was most of a trackView's cost); it replaces
    // `likes_by_subject`, which older files drop when the projector next opens them.
    indexes: "
DROP INDEX IF EXISTS likes_by_subject;
CREATE INDEX IF NOT EXISTS likes_by_subject_with_liker ON likes (subject_uri, sort_at_us DESC, uri DESC, did);",
    account: AccountRows::BySeq { remove_all: &["DELETE FROM likes WHERE did = ?1"] },
    finish_bulk: None,
};

const DELETE: &str = "DELETE FROM likes WHERE seq = ?1";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Like<'a> {
    #[serde(borrow)]
    subject: StrongRef<'a>,
    created_at: &'a str,
}

fn upsert<'r>(
    tx: &Transaction<'_>,
    v: &Version<'_>,
    record: &'r Value,
    _bulk: bool,
) -> Result<Option<&'r str>, ModelError> {
    let r: Like<'_> = decode(record)?;
    let sort_at_us = sort_at(r.created_at, v.received_at_us)?;
    delete_row(tx, DELETE, v.replaces)?;
    tx.prepare_cached(
        "INSERT INTO likes (uri, did, subject_uri, subject_cid, created_at, sort_at_us, indexed_at_us, seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        v.uri,
        v.did,
        r.subject.uri,
        r.subject.cid,
        r.created_at,
        sort_at_us,
        v.received_at_us,
        v.seq
    ])?;
    Ok(None)
}

fn remove(tx: &Transaction<'_>, _did: &str, seq: Option<i64>, _bulk: bool) -> Result<(), rusqlite::Error> {
    delete_row(tx, DELETE, seq)
}
