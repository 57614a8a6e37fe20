//! Now playing, from teal.fm status records (`fm.teal.actor.status`, or the alpha collection, already
//! normalized): one per account (record key `self`), keyed by DID; deleting the record stops "now
//! playing", and a status is not playing once its expiry is past (the API compares `expiry_us`).

use rusqlite::{Transaction, params};
use serde::Deserialize;
use serde_json::Value;

use crate::model::descriptor::{AccountRows, Folds, Model, decode};
use crate::types::{ModelError, Version};

pub(crate) static MODEL: Model = Model {
    name: "now_playing",
    folds: Folds::Records {
        collections: &["fm.teal.actor.status", "fm.teal.alpha.actor.status"],
        upsert,
        remove,
    },
    tables: "
CREATE TABLE IF NOT EXISTS now_playing (
    did        TEXT PRIMARY KEY,
    uri        TEXT NOT NULL,
    time       TEXT,
    expiry     TEXT,
    expiry_us  INTEGER,
    item       TEXT,
    seq        INTEGER NOT NULL
) WITHOUT ROWID;",
    apply_indexes: "",
    indexes: "",
    account: AccountRows::ByDid { remove_all: &[DELETE] },
    finish_bulk: None,
};

const DELETE: &str = "DELETE FROM now_playing WHERE did = ?1";

#[derive(Deserialize)]
struct Status<'a> {
    time: Option<&'a str>,
    expiry: Option<&'a str>,
}

fn upsert<'r>(
    tx: &Transaction<'_>,
    v: &Version<'_>,
    record: &'r Value,
    _bulk: bool,
) -> Result<Option<&'r str>, ModelError> {
    if v.rkey != "self" {
        return Err(ModelError::Decode("a status record's key must be `self`".into()));
    }
    let r: Status<'_> = decode(record)?;
    let expiry_us = match r.expiry {
        Some(e) => Some(
            e.parse::<jiff::Timestamp>()
                .map_err(|err| ModelError::Decode(format!("expiry {e:?}: {err}")))?
                .as_microsecond(),
        ),
        None => None,
    };
    tx.prepare_cached(
        "INSERT OR REPLACE INTO now_playing (did, uri, time, expiry, expiry_us, item, seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        v.did,
        v.uri,
        r.time,
        r.expiry,
        expiry_us,
        record.get("item").map(Value::to_string),
        v.seq
    ])?;
    Ok(None)
}

fn remove(tx: &Transaction<'_>, did: &str, _seq: Option<i64>, _bulk: bool) -> Result<(), rusqlite::Error> {
    tx.prepare_cached(DELETE)?.execute([did]).map(drop)
}
