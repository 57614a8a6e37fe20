//! The tracks read model, from `fm.plyr.track` records.

use rusqlite::{Transaction, params};
use serde::Deserialize;
use serde_json::Value;

use crate::apply::{ModelError, Version, sort_at};
use crate::models::decode;
use crate::plays::name_key;

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

pub(crate) fn upsert(
    tx: &Transaction<'_>,
    v: &Version<'_>,
    record: &Value,
    bulk: bool,
) -> Result<(), ModelError> {
    let r: TrackRecord<'_> = decode(record)?;
    let blob = r.audio_blob.as_ref();
    let json = |key: &str| record.get(key).map(Value::to_string);
    tx.prepare_cached(
        "INSERT OR REPLACE INTO tracks (uri, did, rkey, cid, rev, title, artist, album, duration, file_type,
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
        sort_at(r.created_at, v.received_at_us)?,
        v.received_at_us,
        name_key(r.title, r.artist),
        v.seq,
    ])?;
    if !bulk {
        index_for_search(tx, v.uri, r.title, r.artist, r.album, r.description)?;
    }
    if let Some(b) = blob {
        crate::media::track_audio(tx, v.did, v.uri, b.link.link, v.seq)?;
    }
    Ok(())
}

fn index_for_search(
    tx: &Transaction<'_>,
    uri: &str,
    title: &str,
    artist: &str,
    album: Option<&str>,
    description: Option<&str>,
) -> Result<(), rusqlite::Error> {
    let rowid = fts_rowid(uri);
    tx.prepare_cached("DELETE FROM tracks_fts WHERE rowid = ?1")?.execute([rowid])?;
    tx.prepare_cached(
        "INSERT INTO tracks_fts (rowid, uri, title, artist, album, description) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![rowid, uri, title, artist, album, description])?;
    Ok(())
}

pub(crate) fn remove(tx: &Transaction<'_>, uri: &str, bulk: bool) -> Result<(), rusqlite::Error> {
    tx.prepare_cached("DELETE FROM tracks WHERE uri = ?1")?.execute([uri])?;
    if !bulk {
        tx.prepare_cached("DELETE FROM tracks_fts WHERE rowid = ?1")?.execute([fts_rowid(uri)])?;
    }
    Ok(())
}

/// After a bulk rebuild: the search index of every track, built in one pass.
pub(crate) fn build_search_index(conn: &mut rusqlite::Connection) -> Result<(), rusqlite::Error> {
    let tx = conn.transaction()?;
    {
        let mut select = tx.prepare("SELECT uri, title, artist, album, description FROM tracks")?;
        let mut rows = select.query([])?;
        while let Some(r) = rows.next()? {
            let (uri, title, artist): (String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
            let (album, description): (Option<String>, Option<String>) = (r.get(3)?, r.get(4)?);
            index_for_search(&tx, &uri, &title, &artist, album.as_deref(), description.as_deref())?;
        }
    }
    tx.commit()
}

/// The search index's rowid for a track: FNV-1a of its URI. Stable across builds and rebuilds; a
/// collision (odds ~2^-64 per pair) would only drop one of the two tracks from search results.
pub(crate) fn fts_rowid(uri: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in uri.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h as i64
}
