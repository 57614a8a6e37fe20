//! Which read model a collection feeds, and the small models: likes, comments, lists, profiles.
//! Each model's `upsert` receives a version that already passed its lexicon (alpha teal records
//! already normalized to the stable shape), so decoding here only fails on values outside what the
//! database can hold.

use rusqlite::{Transaction, params};
use serde::Deserialize;
use serde_json::Value;

use crate::types::{ModelError, Version, sort_at};
use crate::{plays, tracks};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Model {
    Track,
    Like,
    Comment,
    List,
    Profile,
    Play,
    Status,
}

impl Model {
    pub fn of(collection: &str) -> Option<Model> {
        Some(match collection {
            "fm.plyr.track" => Model::Track,
            "fm.plyr.like" => Model::Like,
            "fm.plyr.comment" => Model::Comment,
            "fm.plyr.list" => Model::List,
            "fm.plyr.actor.profile" => Model::Profile,
            "fm.teal.feed.play" | "fm.teal.alpha.feed.play" => Model::Play,
            "fm.teal.actor.status" | "fm.teal.alpha.actor.status" => Model::Status,
            _ => return None,
        })
    }

    /// Profiles and statuses are one row per DID (key `self`), keyed by it; every other model's
    /// rows are keyed by the seq of the version shown.
    pub fn keyed_by_did(self) -> bool {
        matches!(self, Model::Profile | Model::Status)
    }

    /// Writes the version; returns the CID of an audio blob it needs a media job for (tracks only).
    pub fn upsert<'r>(
        self,
        tx: &Transaction<'_>,
        v: &Version<'_>,
        record: &'r Value,
        bulk: bool,
    ) -> Result<Option<&'r str>, ModelError> {
        match self {
            Model::Track => return tracks::upsert(tx, v, record, bulk),
            Model::Like => like(tx, v, record),
            Model::Comment => comment(tx, v, record),
            Model::List => list(tx, v, record),
            Model::Profile => profile(tx, v, record),
            Model::Play => plays::play(tx, v, record),
            Model::Status => plays::status(tx, v, record),
        }?;
        Ok(None)
    }

    /// Removes the record: `replaces` is its current row (none when only a tombstone is left, or an
    /// account deletion already removed it).
    pub fn remove(
        self,
        tx: &Transaction<'_>,
        did: &str,
        replaces: Option<i64>,
        bulk: bool,
    ) -> Result<(), rusqlite::Error> {
        match self {
            Model::Track => tracks::remove(tx, replaces, bulk),
            Model::Like => delete_row(tx, "DELETE FROM likes WHERE seq = ?1", replaces),
            Model::Comment => delete_row(tx, "DELETE FROM comments WHERE seq = ?1", replaces),
            Model::List => delete_list(tx, replaces),
            Model::Profile => {
                tx.prepare_cached("DELETE FROM profiles WHERE did = ?1")?.execute([did]).map(drop)
            }
            Model::Play => delete_row(tx, "DELETE FROM plays WHERE seq = ?1", replaces),
            // The status record is keyed `self`; deleting it stops "now playing".
            Model::Status => {
                tx.prepare_cached("DELETE FROM now_playing WHERE did = ?1")?.execute([did]).map(drop)
            }
        }
    }
}

/// Deletes a record's row by its key (`sql` takes the seq as `?1`). Record tables are keyed by the
/// seq of the version shown, so a new version is an append at the end of the table's B-tree
/// instead of an insert at a random URI position (see ../shared/LIMITS.md).
pub(crate) fn delete_row(tx: &Transaction<'_>, sql: &str, seq: Option<i64>) -> Result<(), rusqlite::Error> {
    if let Some(seq) = seq {
        tx.prepare_cached(sql)?.execute([seq])?;
    }
    Ok(())
}

fn delete_list(tx: &Transaction<'_>, seq: Option<i64>) -> Result<(), rusqlite::Error> {
    delete_row(tx, "DELETE FROM list_items WHERE list_seq = ?1", seq)?;
    delete_row(tx, "DELETE FROM lists WHERE seq = ?1", seq)
}

pub(crate) fn decode<'a, T: Deserialize<'a>>(record: &'a Value) -> Result<T, ModelError> {
    T::deserialize(record).map_err(|e| ModelError::Decode(e.to_string()))
}

#[derive(Deserialize)]
pub(crate) struct StrongRef<'a> {
    pub uri: &'a str,
    pub cid: &'a str,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Like<'a> {
    #[serde(borrow)]
    subject: StrongRef<'a>,
    created_at: &'a str,
}

/// Every like record is kept; "one like per (liker, track)" is how the API reads them (distinct
/// likers), so deleting one of two like records for the same track leaves the like in place.
fn like(tx: &Transaction<'_>, v: &Version<'_>, record: &Value) -> Result<(), ModelError> {
    let r: Like<'_> = decode(record)?;
    let sort_at_us = sort_at(r.created_at, v.received_at_us)?;
    delete_row(tx, "DELETE FROM likes WHERE seq = ?1", v.replaces)?;
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
    Ok(())
}

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

fn comment(tx: &Transaction<'_>, v: &Version<'_>, record: &Value) -> Result<(), ModelError> {
    let r: Comment<'_> = decode(record)?;
    let sort_at_us = sort_at(r.created_at, v.received_at_us)?;
    delete_row(tx, "DELETE FROM comments WHERE seq = ?1", v.replaces)?;
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
    Ok(())
}

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

/// Lists keep their items in record order; resolving each item to a track happens when read, so an
/// item whose track arrives later resolves then.
fn list(tx: &Transaction<'_>, v: &Version<'_>, record: &Value) -> Result<(), ModelError> {
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
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile<'a> {
    bio: Option<&'a str>,
    avatar: Option<&'a str>,
    created_at: Option<&'a str>,
    updated_at: Option<&'a str>,
}

fn profile(tx: &Transaction<'_>, v: &Version<'_>, record: &Value) -> Result<(), ModelError> {
    if v.rkey != "self" {
        return Err(ModelError::Decode("a profile's record key must be `self`".into()));
    }
    let r: Profile<'_> = decode(record)?;
    tx.prepare_cached(
        "INSERT OR REPLACE INTO profiles (did, uri, cid, bio, avatar, created_at, updated_at, seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![v.did, v.uri, v.cid, r.bio, r.avatar, r.created_at, r.updated_at, v.seq])?;
    Ok(())
}
