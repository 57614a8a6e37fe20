//! The tracks read model, from `fm.plyr.track` records.

use rusqlite::{Transaction, params};
use serde::Deserialize;
use serde_json::Value;

use crate::models::{decode, delete_row};
use crate::plays::name_key;
use crate::types::{ModelError, Version, sort_at};

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
pub(crate) fn upsert<'r>(
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

pub(crate) fn remove(tx: &Transaction<'_>, seq: Option<i64>, bulk: bool) -> Result<(), rusqlite::Error> {
    delete_row(tx, "DELETE FROM tracks WHERE seq = ?1", seq)?;
    if !bulk {
        delete_row(tx, "DELETE FROM tracks_fts WHERE rowid = ?1", seq)?;
    }
    Ok(())
}

/// After a bulk rebuild: the search index of every track, built in one pass. The in-memory term
/// buffer is raised for the pass so the index is written in a few large segments instead of many
/// small ones that then need merging.
pub(crate) fn build_search_index(conn: &mut rusqlite::Connection) -> Result<(), rusqlite::Error> {
    let tx = conn.transaction()?;
    tx.execute_batch(
        "INSERT INTO tracks_fts (tracks_fts, rank) VALUES ('hashsize', 268435456);
         INSERT INTO tracks_fts (rowid, uri, title, artist, album, description)
            SELECT seq, uri, title, artist, album, description FROM tracks;
         INSERT INTO tracks_fts (tracks_fts, rank) VALUES ('hashsize', 1048576);",
    )?;
    tx.commit()
}
