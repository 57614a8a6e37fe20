//! The tracks read model, from `fm.plyr.track` records.

use reprise_lexicons::{Catalog, RecordError};
use rusqlite::{Transaction, params};
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::ProjectorError;

pub const COLLECTION: &str = "fm.plyr.track";

/// The fields of an `fm.plyr.track` record the read model keeps. Decoded only after the record has
/// passed its lexicon, so the types here hold.
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

/// A decoded version of a track, ready to upsert.
#[derive(Debug)]
pub(crate) struct Track<'a> {
    record: TrackRecord<'a>,
    /// JSON text, kept as the record has them.
    features: Option<String>,
    labels: Option<String>,
    created_at_us: i64,
}

/// Parses a record into the value the lexicon check and the decoder share.
pub(crate) fn parse(record: &RawValue) -> Result<Value, String> {
    serde_json::from_str(record.get()).map_err(|e| format!("record is not valid JSON: {e}"))
}

/// Checks a record against its lexicon and decodes it, or says (every problem, with its path) why it
/// cannot be served.
pub(crate) fn decode<'a>(catalog: &Catalog, rkey: &str, record: &'a Value) -> Result<Track<'a>, String> {
    if let Err(e) = catalog.validate_record(COLLECTION, rkey, record) {
        return Err(match e {
            RecordError::Invalid(errors) => {
                errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
            }
            other => other.to_string(),
        });
    }
    let record_value = record;
    let record = TrackRecord::deserialize(record).map_err(|e| e.to_string())?;
    // The lexicon's datetime format is stricter than RFC 3339 parsing, so this only fails on
    // instants outside jiff's range.
    let created_at_us = record
        .created_at
        .parse::<jiff::Timestamp>()
        .map_err(|e| format!("$.createdAt: {e}"))?
        .as_microsecond();
    let json = |key: &str| record_value.get(key).map(Value::to_string);
    Ok(Track { features: json("features"), labels: json("labels"), record, created_at_us })
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
        blob.map(|b| b.link.link),
        blob.map(|b| b.mime_type),
        blob.map(|b| b.size),
        r.image_url,
        r.description,
        t.features.as_deref().unwrap_or("[]"),
        t.labels,
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
