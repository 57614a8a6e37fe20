//! Views: SQL that selects a view as one JSON object (SQLite's JSON functions), and the filter every
//! feed, count and search applies (the visibility rule itself is the projector's).

use std::sync::LazyLock;

use rusqlite::{Connection, OptionalExtension, Row};
use serde_json::Value;

use crate::ApiError;

/// `1` when `did_expr`'s account is hidden: its content is not served (the history endpoints still
/// show it).
pub fn hidden(did_expr: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM actors h WHERE h.did = {did_expr} AND h.status IN {})",
        reprise_projector::NOT_SERVED_SQL
    )
}

/// RFC 3339 (UTC, microseconds) from unix µs, as SQL.
pub fn time_sql(expr: &str) -> String {
    format!("strftime('%Y-%m-%dT%H:%M:%fZ', {expr} / 1000000.0, 'unixepoch')")
}

/// An actorRef for `did_expr`.
pub fn actor_ref(did_expr: &str) -> String {
    format!(
        "json_object('did', {did_expr}, 'handle', (SELECT a.handle FROM actors a WHERE a.did = {did_expr}))"
    )
}

/// The artistView of `did_expr` (counts only over visible content).
pub fn artist_view(d: &str) -> String {
    let hidden_likers = hidden("l.did");
    let hidden_players = hidden("p.did");
    format!(
        "json_object(
            'did', {d},
            'handle', (SELECT a.handle FROM actors a WHERE a.did = {d}),
            'displayName', (SELECT t.artist FROM tracks t WHERE t.did = {d} ORDER BY t.sort_at_us DESC, t.uri DESC LIMIT 1),
            'bio', (SELECT p.bio FROM profiles p WHERE p.did = {d}),
            'avatar', (SELECT p.avatar FROM profiles p WHERE p.did = {d}),
            'status', COALESCE((SELECT a.status FROM actors a WHERE a.did = {d}), 'active'),
            'trackCount', (SELECT COUNT(*) FROM tracks t WHERE t.did = {d} AND NOT {hidden_t}),
            'likeCount', (SELECT COUNT(*) FROM (SELECT DISTINCT l.did, l.subject_uri FROM tracks t JOIN likes l ON l.subject_uri = t.uri
                          WHERE t.did = {d} AND NOT {hidden_t} AND NOT {hidden_likers})),
            'playCount', (SELECT COUNT(*) FROM plays p WHERE NOT {hidden_players} AND EXISTS (SELECT 1 FROM tracks t WHERE t.did = {d}
                          AND NOT {hidden_t} AND (p.match_uri = t.uri OR p.match_rkey = t.rkey OR p.match_name = t.name_key))),
            'firstSeen', (SELECT {first} FROM actors a WHERE a.did = {d}),
            'lastSeen', (SELECT {last} FROM actors a WHERE a.did = {d}))",
        hidden_t = hidden("t.did"),
        first = time_sql("a.first_seen_us"),
        last = time_sql("a.last_seen_us"),
    )
}

/// The trackView of the row aliased `t` (built once: every track query embeds it).
pub fn track_view() -> &'static str {
    static VIEW: LazyLock<String> = LazyLock::new(track_view_sql);
    &VIEW
}

fn track_view_sql() -> String {
    format!(
        "json_object(
            'uri', t.uri, 'cid', t.cid, 'did', t.did, 'rkey', t.rkey, 'title', t.title,
            'artist', json({artist}), 'artistName', t.artist, 'album', t.album, 'duration', t.duration,
            'fileType', t.file_type, 'audioUrl', t.audio_url,
            'audioBlob', CASE WHEN t.audio_blob_cid IS NULL THEN NULL ELSE
                json_object('cid', t.audio_blob_cid, 'mimeType', t.audio_blob_mime, 'size', t.audio_blob_size) END,
            'imageUrl', t.image_url, 'description', t.description,
            'features', json(t.features), 'labels', json(t.labels),
            'createdAt', t.created_at, 'indexedAt', {indexed},
            'likeCount', (SELECT COUNT(DISTINCT l.did) FROM likes l WHERE l.subject_uri = t.uri AND NOT {hl}),
            'commentCount', (SELECT COUNT(*) FROM comments c WHERE c.subject_uri = t.uri AND NOT {hc}),
            'playCount', (SELECT COUNT(*) FROM plays p WHERE (p.match_uri = t.uri OR p.match_rkey = t.rkey
                          OR p.match_name = t.name_key) AND NOT {hp}),
            'renditions', {renditions},
            'waveform', (SELECT json(r.waveform) FROM renditions r WHERE r.cid = t.audio_blob_cid))",
        artist = artist_ref_light("t.did"),
        indexed = time_sql("t.indexed_at_us"),
        hl = hidden("l.did"),
        hc = hidden("c.did"),
        hp = hidden("p.did"),
        renditions = renditions("t.audio_blob_cid"),
    )
}

/// The playable renditions of the blob `cid_expr` (none until its media job has stored one). Lexicons
/// have no floats: duration is whole milliseconds, loudness a decimal string.
fn renditions(cid_expr: &str) -> String {
    format!(
        "json(COALESCE((SELECT json_group_array(json_object(
            'format', r.format, 'contentType', r.content_type, 'bitrateKbps', r.bitrate_kbps,
            'durationMs', CAST(ROUND(r.duration_secs * 1000) AS INTEGER),
            'loudnessLufs', CASE WHEN r.loudness_lufs IS NULL THEN NULL ELSE printf('%.1f', r.loudness_lufs) END,
            'url', '/audio/' || r.cid))
          FROM renditions r WHERE r.cid = {cid_expr}), '[]'))"
    )
}

/// The artistView inside a trackView: identity and profile, without the counts (a feed page would
/// otherwise count every artist's catalogue once per track).
fn artist_ref_light(d: &str) -> String {
    format!(
        "json_object('did', {d}, 'handle', (SELECT a.handle FROM actors a WHERE a.did = {d}),
            'displayName', (SELECT t2.artist FROM tracks t2 WHERE t2.did = {d} ORDER BY t2.sort_at_us DESC, t2.uri DESC LIMIT 1),
            'avatar', (SELECT p.avatar FROM profiles p WHERE p.did = {d}),
            'status', COALESCE((SELECT a.status FROM actors a WHERE a.did = {d}), 'active'))"
    )
}

/// Parses a JSON text column and drops null members: optional fields are omitted, as XRPC views do.
pub fn json_col(r: &Row<'_>, idx: usize) -> rusqlite::Result<Value> {
    let text: String = r.get(idx)?;
    let mut v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    strip_nulls(&mut v);
    Ok(v)
}

fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(strip_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// The DID for `actor` (a DID, or a handle known to the index).
pub fn resolve_actor(conn: &Connection, actor: &crate::params::Actor) -> Result<String, ApiError> {
    match actor {
        crate::params::Actor::Did(d) => Ok(d.clone()),
        crate::params::Actor::Handle(h) => conn
            .prepare_cached("SELECT did FROM actors WHERE handle = ?1")?
            .query_row([h], |r| r.get(0))
            .optional()?
            .ok_or_else(|| ApiError::not_found(format!("no actor with handle {h}"))),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    /// The query plan of a trackView: every subquery is an index search, and the like count (the
    /// largest one: a popular track has thousands of likes) reads the index alone, never the table.
    #[test]
    fn a_track_view_searches_indexes_only() {
        let dir = tempfile::tempdir().unwrap();
        drop(reprise_events::EventLog::open(dir.path()).unwrap());
        drop(
            reprise_projector::Projector::open(
                dir.path(),
                1,
                Arc::new(reprise_projector::Catalog::builtin()),
            )
            .unwrap(),
        );
        let conn = reprise_projector::schema::open_read_only(&dir.path().join(reprise_projector::VIEWS_FILE))
            .unwrap();
        let sql = format!("EXPLAIN QUERY PLAN SELECT {} FROM tracks t WHERE t.uri = ?1", super::track_view());
        let mut stmt = conn.prepare(&sql).unwrap();
        let plan: Vec<String> =
            stmt.query_map(["at://x"], |r| r.get::<_, String>(3)).unwrap().map(Result::unwrap).collect();
        let plan = plan.join("\n");
        assert!(!plan.contains("SCAN"), "a full scan in the trackView:\n{plan}");
        assert!(
            plan.contains("SEARCH l USING COVERING INDEX likes_by_subject_with_liker (subject_uri=?)"),
            "the like count reads the table:\n{plan}"
        );
    }
}
