//! The tracks read model, from `fm.plyr.track` records.

use rusqlite::{Transaction, params};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::ProjectorError;

pub const COLLECTION: &str = "fm.plyr.track";

/// The fields of an `fm.plyr.track` record the read model keeps. Until the lexicon check lands
/// (issue 4) this is also the validity check: required fields present and well typed.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TrackRecord<'a> {
    #[serde(rename = "$type")]
    type_: Option<&'a str>,
    title: String,
    artist: String,
    file_type: String,
    created_at: String,
    album: Option<String>,
    duration: Option<i64>,
    audio_url: Option<String>,
    audio_blob: Option<BlobRef>,
    image_url: Option<String>,
    description: Option<String>,
    #[serde(default, borrow)]
    features: Option<&'a RawValue>,
    #[serde(borrow)]
    labels: Option<&'a RawValue>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BlobRef {
    #[serde(rename = "ref")]
    link: Link,
    mime_type: String,
    size: i64,
}

#[derive(Debug, Deserialize)]
struct Link {
    #[serde(rename = "$link")]
    link: String,
}

/// A decoded version of a track, ready to upsert.
#[derive(Debug)]
pub(crate) struct Track<'a> {
    record: TrackRecord<'a>,
    created_at_us: i64,
}

/// Decodes a record, or says why it cannot be served.
pub(crate) fn decode(record: &RawValue) -> Result<Track<'_>, String> {
    let record: TrackRecord<'_> = serde_json::from_str(record.get()).map_err(|e| e.to_string())?;
    if record.type_ != Some(COLLECTION) {
        return Err(format!("$type is {:?}, expected {COLLECTION:?}", record.type_.unwrap_or("")));
    }
    for (name, value) in
        [("title", &record.title), ("artist", &record.artist), ("fileType", &record.file_type)]
    {
        if value.is_empty() {
            return Err(format!("{name} is empty"));
        }
    }
    let created_at_us = record
        .created_at
        .parse::<jiff::Timestamp>()
        .map_err(|e| format!("createdAt {:?} is not a datetime: {e}", record.created_at))?
        .as_microsecond();
    if record.features.is_some_and(|f| !f.get().starts_with('[')) {
        return Err("features is not an array".into());
    }
    if record.labels.is_some_and(|l| !l.get().starts_with('{')) {
        return Err("labels is not an object".into());
    }
    if record.duration.is_some_and(|d| d < 0) {
        return Err("duration is negative".into());
    }
    Ok(Track { record, created_at_us })
}

pub(crate) struct Version<'e> {
    pub uri: &'e str,
    pub did: &'e str,
    pub rkey: &'e str,
    pub cid: &'e str,
    pub rev: &'e str,
    pub seq: i64,
    pub received_at_us: i64,
}

pub(crate) fn upsert(tx: &Transaction<'_>, v: &Version<'_>, t: &Track<'_>) -> Result<(), ProjectorError> {
    let r = &t.record;
    let blob = r.audio_blob.as_ref();
    // A feed sorted by a claimed createdAt lets any record pin itself to the top with a future date;
    // like Bluesky's sortAt, never sort a record later than the moment it was received.
    let sort_at_us = t.created_at_us.min(v.received_at_us);
    tx.prepare_cached(
        "INSERT OR REPLACE INTO tracks (uri, did, rkey, cid, rev, title, artist, album, duration, file_type,
            audio_url, audio_blob_cid, audio_blob_mime, audio_blob_size, image_url, description, features,
            labels, created_at, sort_at_us, indexed_at_us, seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20,
            ?21, ?22)",
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
        blob.map(|b| &b.link.link),
        blob.map(|b| &b.mime_type),
        blob.map(|b| b.size),
        r.image_url,
        r.description,
        r.features.map(|f| f.get()).unwrap_or("[]"),
        r.labels.map(|l| l.get()),
        r.created_at,
        sort_at_us,
        v.received_at_us,
        v.seq,
    ])?;
    Ok(())
}

pub(crate) fn remove(tx: &Transaction<'_>, uri: &str) -> Result<(), ProjectorError> {
    tx.prepare_cached("DELETE FROM tracks WHERE uri = ?1")?.execute([uri])?;
    Ok(())
}
