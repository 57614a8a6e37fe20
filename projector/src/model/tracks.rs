//! Tracks, from `fm.plyr.track` records, with their full-text search index (`tracks_fts`, rowid = the
//! track row's seq). A valid version whose `audioBlob` has no media job yet asks for one.

use rusqlite::{Transaction, params};
use serde::Deserialize;
use serde_json::Value;

use crate::model::descriptor::{AccountRows, Folds, Model, decode, delete_row};
use crate::model::plays::name_key;
use crate::types::{ModelError, Version, sort_at};

pub(crate) static MODEL: Model = Model {
    name: "tracks",
    folds: Folds::Records { collections: &["fm.plyr.track"], upsert, remove },
    tables: "
CREATE TABLE IF NOT EXISTS tracks (
    uri              TEXT NOT NULL,
    did              TEXT NOT NULL,
    rkey             TEXT NOT NULL,
    cid              TEXT NOT NULL,
    rev              TEXT NOT NULL,
    title            TEXT NOT NULL,
    artist           TEXT NOT NULL,
    album            TEXT,
    duration         INTEGER,
    file_type        TEXT NOT NULL,
    audio_url        TEXT,
    audio_blob_cid   TEXT,
    audio_blob_mime  TEXT,
    audio_blob_size  INTEGER,
    image_url        TEXT,
    description      TEXT,
    features         TEXT NOT NULL,
    labels           TEXT,
    created_at       TEXT NOT NULL,
    sort_at_us       INTEGER NOT NULL,
    indexed_at_us    INTEGER NOT NULL,
    name_key         TEXT NOT NULL,
    seq              INTEGER PRIMARY KEY
);

-- Full-text search over tracks; the rowid is the track's row key (tracks.seq).
CREATE VIRTUAL TABLE IF NOT EXISTS tracks_fts USING fts5(
    uri UNINDEXED, title, artist, album, description, tokenize = 'unicode61 remove_diacritics 2'
);",
    apply_indexes: "
CREATE INDEX IF NOT EXISTS tracks_by_artist ON tracks (did, sort_at_us DESC, uri DESC);",
    indexes: "
CREATE UNIQUE INDEX IF NOT EXISTS tracks_by_uri ON tracks (uri);
CREATE INDEX IF NOT EXISTS tracks_feed ON tracks (sort_at_us DESC, uri DESC);
CREATE INDEX IF NOT EXISTS tracks_by_album ON tracks (album, sort_at_us DESC, uri DESC);",
    account: AccountRows::BySeq {
        remove_all: &[
            "DELETE FROM tracks_fts WHERE rowid IN (SELECT seq FROM tracks WHERE did = ?1)",
            "DELETE FROM tracks WHERE did = ?1",
        ],
    },
    finish_bulk: Some(build_search_index),
};

/// The fields of an `fm.plyr.track` record the read model keeps.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TrackRecord<'a> {
    title: &'a str,
    artist: &'a str,
    file_type: &'a str,
    created_at: &'a str,
    album: Option<&'a str>,
    duration: Option<i64>,
    audio_url: Option<&'a str>,
    #[serde(borrow)]
    audio_blob: Option<BlobRef<'a>>,
    image_url: Option<&'a str>,
    description: Option<&'a str>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BlobRef<'a> {
    #[serde(rename = "ref", borrow)]
    link: Link<'a>,
    mime_type: &'a str,
    size: i64,
}

#[derive(Debug, Deserialize)]
struct Link<'a> {
    #[serde(rename = "$link")]
    link: &'a str,
}

/// Returns the CID of the audio blob the version plays, which needs a media job.
fn upsert<'r>(
    tx: &Transaction<'_>,
    v: &Version<'_>,
    record: &'r Value,
    bulk: bool,
) -> Result<Option<&'r str>, ModelError> {
    let r: TrackRecord<'_> = decode(record)?;
    let blob = r.audio_blob.as_ref();
    let json = |key: &str| record.get(key).map(Value::to_string);
    let sort_at_us = sort_at(r.created_at, v.received_at_us)?;
    delete_row(tx, "DELETE FROM tracks WHERE seq = ?1", v.replaces)?;
    tx.prepare_cached(
        "INSERT INTO tracks (uri, did, rkey, cid, rev, title, artist, album, duration, file_type,
            audio_url, audio_blob_cid, audio_blob_mime, audio_blob_size, image_url, description, features,
            labels, created_at, sort_at_us, indexed_at_us, name_key, seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20,
            ?21, ?22, ?23)",
    )?
    .execute(params![
        v.uri,
        v.did,
        v.rkey,
        v.cid,
        v.rev,
        r.title,
        r.artist,
        r.album,
        r.duration,
        r.file_type,
        r.audio_url,
        blob.map(|b| b.link.link),
        blob.map(|b| b.mime_type),
        blob.map(|b| b.size),
        r.image_url,
        r.description,
        json("features").unwrap_or_else(|| "[]".to_owned()),
        json("labels"),
        r.created_at,
        sort_at_us,
        v.received_at_us,
        name_key(r.title, r.artist),
        v.seq,
    ])?;
    if !bulk {
        if let Some(old) = v.replaces {
            tx.prepare_cached("DELETE FROM tracks_fts WHERE rowid = ?1")?.execute([old])?;
        }
        tx.prepare_cached(
            "INSERT INTO tracks_fts (rowid, uri, title, artist, album, description) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![v.seq, v.uri, r.title, r.artist, r.album, r.description])?;
    }
    Ok(blob.map(|b| b.link.link))
}

fn remove(tx: &Transaction<'_>, _did: &str, seq: Option<i64>, bulk: bool) -> Result<(), rusqlite::Error> {
    delete_row(tx, "DELETE FROM tracks WHERE seq = ?1", seq)?;
    if !bulk {
        delete_row(tx, "DELETE FROM tracks_fts WHERE rowid = ?1", seq)?;
    }
    Ok(())
}

/// After a bulk rebuild (which skips `tracks_fts` per event): the search index of every track, built in
/// one pass. The in-memory term buffer is raised for the pass so the index is written in a few large
/// segments instead of many small ones that then need merging.
fn build_search_index(conn: &mut rusqlite::Connection) -> Result<(), rusqlite::Error> {
    let tx = conn.transaction()?;
    tx.execute_batch(
        "INSERT INTO tracks_fts (tracks_fts, rank) VALUES ('hashsize', 268435456);
         INSERT INTO tracks_fts (rowid, uri, title, artist, album, description)
            SELECT seq, uri, title, artist, album, description FROM tracks;
         INSERT INTO tracks_fts (tracks_fts, rank) VALUES ('hashsize', 1048576);",
    )?;
    tx.commit()
}
