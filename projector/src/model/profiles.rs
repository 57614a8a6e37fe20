//! Profiles, from `fm.plyr.actor.profile` records: one per account (record key `self`), keyed by DID.

use rusqlite::{Transaction, params};
use serde::Deserialize;
use serde_json::Value;

use crate::model::descriptor::{AccountRows, Folds, Model, decode};
use crate::types::{ModelError, Version};

pub(crate) static MODEL: Model = Model {
    name: "profiles",
    folds: Folds::Records { collections: &["fm.plyr.actor.profile"], upsert, remove },
    tables: "
CREATE TABLE IF NOT EXISTS profiles (
    did         TEXT PRIMARY KEY,
    uri         TEXT NOT NULL,
    cid         TEXT NOT NULL,
    bio         TEXT,
    avatar      TEXT,
    created_at  TEXT,
    updated_at  TEXT,
    seq         INTEGER NOT NULL
) WITHOUT ROWID;",
    apply_indexes: "",
    indexes: "",
    account: AccountRows::ByDid { remove_all: &[DELETE] },
    finish_bulk: None,
};

const DELETE: &str = "DELETE FROM profiles WHERE did = ?1";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile<'a> {
    bio: Option<&'a str>,
    avatar: Option<&'a str>,
    created_at: Option<&'a str>,
    updated_at: Option<&'a str>,
}

fn upsert<'r>(
    tx: &Transaction<'_>,
    v: &Version<'_>,
    record: &'r Value,
    _bulk: bool,
) -> Result<Option<&'r str>, ModelError> {
    if v.rkey != "self" {
        return Err(ModelError::Decode("a profile's record key must be `self`".into()));
    }
    let r: Profile<'_> = decode(record)?;
    tx.prepare_cached(
        "INSERT OR REPLACE INTO profiles (did, uri, cid, bio, avatar, created_at, updated_at, seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![v.did, v.uri, v.cid, r.bio, r.avatar, r.created_at, r.updated_at, v.seq])?;
    Ok(None)
}

fn remove(tx: &Transaction<'_>, did: &str, _seq: Option<i64>, _bulk: bool) -> Result<(), rusqlite::Error> {
    tx.prepare_cached(DELETE)?.execute([did]).map(drop)
}
