//! `fm.reprise.getTracks` and `fm.reprise.getTrack`.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::{Map, Value, json};

use crate::params::{self, FeedCursor};
use crate::{ApiError, AppState};

const COLLECTION: &str = "fm.plyr.track";

const VIEW_COLUMNS: &str = "uri, cid, did, rkey, title, artist, album, duration, file_type, audio_url,
    audio_blob_cid, audio_blob_mime, audio_blob_size, image_url, description, features, labels, created_at,
    indexed_at_us, sort_at_us";

pub async fn get_tracks(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let limit = params::limit(q.get("limit").map(String::as_str))?;
    let cursor = FeedCursor::decode(q.get("cursor").map(String::as_str))?;
    let artist = q.get("artist").map(|a| params::did("artist", a)).transpose()?;
    state.pool.run(move |conn| newest(conn, limit, cursor, artist.as_deref())).await.map(Json)
}

pub async fn get_track(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let raw = q.get("uri").ok_or_else(|| ApiError::invalid("uri is required"))?;
    let uri = params::record_uri(raw, COLLECTION)?;
    state
        .pool
        .run(move |conn| {
            let sql = format!("SELECT {VIEW_COLUMNS} FROM tracks WHERE uri = ?1");
            let track = conn.prepare_cached(&sql)?.query_row([&uri], track_view).optional()?;
            let track = track.ok_or_else(|| ApiError::not_found(format!("no track {uri}")))?;
            Ok(json!({"track": track}))
        })
        .await
        .map(Json)
}

fn newest(
    conn: &Connection,
    limit: u32,
    cursor: Option<FeedCursor>,
    artist: Option<&str>,
) -> Result<Value, ApiError> {
    // One more row than asked tells whether another page exists, so the last page has no cursor.
    let fetch = i64::from(limit) + 1;
    let (at, uri) = cursor.map(|c| (c.at_us, c.uri)).unwrap_or((i64::MAX, String::new()));
    let after = "(sort_at_us < ?1 OR (sort_at_us = ?1 AND uri < ?2))";
    let mut rows = Vec::new();
    let mut push = |r: &Row<'_>| -> rusqlite::Result<()> {
        rows.push((track_view(r)?, r.get::<_, i64>(19)?, r.get::<_, String>(0)?));
        Ok(())
    };
    let uri_bound = if uri.is_empty() { "\u{10FFFF}".to_owned() } else { uri };
    match artist {
        Some(did) => {
            let sql = format!(
                "SELECT {VIEW_COLUMNS} FROM tracks WHERE did = ?3 AND {after}
                 ORDER BY sort_at_us DESC, uri DESC LIMIT ?4"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut q = stmt.query(params![at, uri_bound, did, fetch])?;
            while let Some(r) = q.next()? {
                push(r)?;
            }
        }
        None => {
            let sql = format!(
                "SELECT {VIEW_COLUMNS} FROM tracks WHERE {after} ORDER BY sort_at_us DESC, uri DESC LIMIT ?3"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut q = stmt.query(params![at, uri_bound, fetch])?;
            while let Some(r) = q.next()? {
                push(r)?;
            }
        }
    }
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let mut out = Map::new();
    if more && let Some((_, at_us, uri)) = rows.last() {
        out.insert("cursor".into(), json!(FeedCursor { at_us: *at_us, uri: uri.clone() }.encode()));
    }
    out.insert("tracks".into(), Value::Array(rows.into_iter().map(|(v, _, _)| v).collect()));
    Ok(Value::Object(out))
}

/// The trackView: camelCase, optional fields omitted when absent.
fn track_view(r: &Row<'_>) -> rusqlite::Result<Value> {
    let mut v = Map::new();
    let text = |key: &str, idx: usize, v: &mut Map<String, Value>| -> rusqlite::Result<()> {
        if let Some(s) = r.get::<_, Option<String>>(idx)? {
            v.insert(key.into(), Value::String(s));
        }
        Ok(())
    };
    for (key, idx) in
        [("uri", 0), ("cid", 1), ("did", 2), ("rkey", 3), ("title", 4), ("artist", 5), ("album", 6)]
    {
        text(key, idx, &mut v)?;
    }
    if let Some(d) = r.get::<_, Option<i64>>(7)? {
        v.insert("duration".into(), json!(d));
    }
    for (key, idx) in [("fileType", 8), ("audioUrl", 9)] {
        text(key, idx, &mut v)?;
    }
    if let Some(cid) = r.get::<_, Option<String>>(10)? {
        let mime: Option<String> = r.get(11)?;
        let size: Option<i64> = r.get(12)?;
        v.insert("audioBlob".into(), json!({"cid": cid, "mimeType": mime, "size": size}));
    }
    for (key, idx) in [("imageUrl", 13), ("description", 14)] {
        text(key, idx, &mut v)?;
    }
    let features: String = r.get(15)?;
    v.insert("features".into(), serde_json::from_str(&features).unwrap_or_else(|_| json!([])));
    if let Some(labels) = r.get::<_, Option<String>>(16)? {
        v.insert("labels".into(), serde_json::from_str(&labels).unwrap_or(Value::Null));
    }
    text("createdAt", 17, &mut v)?;
    v.insert("indexedAt".into(), json!(rfc3339(r.get(18)?)));
    Ok(Value::Object(v))
}

fn rfc3339(us: i64) -> String {
    jiff::Timestamp::from_microsecond(us).map(|t| t.to_string()).unwrap_or_default()
}
