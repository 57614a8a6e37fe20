//! Lists and plays: `getLists`, `getList`, `getPlays`, `getNowPlaying`.

use rusqlite::{OptionalExtension, ToSql};
use serde_json::{Value, json};

use crate::params::{Actor, Args, FeedCursor};
use crate::spec::{Choice, ListType};
use crate::views::{actor_ref, hidden, json_col, resolve_actor, track_view};
use crate::{ApiError, AppState, page};

fn list_view() -> String {
    format!(
        "json_object('uri', s.uri, 'cid', s.cid, 'actor', json({}), 'name', s.name, 'listType', s.list_type,
                     'itemCount', s.item_count, 'createdAt', s.created_at, 'updatedAt', s.updated_at)",
        actor_ref("s.did")
    )
}

pub async fn get_lists(state: AppState, mut params: Args) -> Result<Value, ApiError> {
    let actor: Actor = params.need("actor")?;
    let list_type: ListType = params.choice("listType")?;
    let limit = params.limit()?;
    let (at, key) = FeedCursor::position(params.cursor()?);
    state
        .pool
        .run(move |conn| {
            let did = resolve_actor(conn, &actor)?;
            let sql = format!(
                "SELECT {view}, s.sort_at_us, s.uri FROM lists s
                 WHERE s.did = ?1 AND (?2 = 'any' OR s.list_type = ?2) AND NOT {h}
                   AND (s.sort_at_us < ?3 OR (s.sort_at_us = ?3 AND s.uri < ?4))
                 ORDER BY s.sort_at_us DESC, s.uri DESC LIMIT ?5",
                view = list_view(),
                h = hidden("s.did"),
            );
            let args: Vec<Box<dyn ToSql + Send>> = vec![
                Box::new(did),
                Box::new(list_type.value()),
                Box::new(at),
                Box::new(key),
                Box::new(i64::from(limit) + 1),
            ];
            let rows = page::rows(conn, &sql, &args, page::view_at_time_and_uri)?;
            Ok(page::finish("lists", rows, limit))
        })
        .await
}

pub async fn get_list(state: AppState, mut params: Args) -> Result<Value, ApiError> {
    let uri: String = params.need("uri")?;
    state
        .pool
        .run(move |conn| {
            let sql =
                format!("SELECT {} FROM lists s WHERE s.uri = ?1 AND NOT {}", list_view(), hidden("s.did"));
            let list = conn.prepare_cached(&sql)?.query_row([&uri], |r| json_col(r, 0)).optional()?;
            let list = list.ok_or_else(|| ApiError::not_found(format!("no list {uri}")))?;
            let sql = format!(
                "SELECT json_object('subject', json_object('uri', i.subject_uri, 'cid', i.subject_cid),
                        'track', (SELECT {view} FROM tracks t WHERE t.uri = i.subject_uri AND NOT {h}))
                 FROM list_items i WHERE i.list_uri = ?1 ORDER BY i.position",
                view = track_view(),
                h = hidden("t.did"),
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query([&uri])?;
            let mut items = Vec::new();
            while let Some(r) = rows.next()? {
                let mut item = json_col(r, 0)?;
                // The nested trackView arrives as JSON text inside the object.
                if let Some(Value::String(t)) = item.get("track").cloned() {
                    item["track"] = serde_json::from_str(&t).unwrap_or(Value::Null);
                }
                let missing = item.get("track").is_none_or(Value::is_null);
                if missing && let Some(o) = item.as_object_mut() {
                    o.remove("track");
                }
                item["missing"] = json!(missing);
                items.push(item);
            }
            Ok(json!({"list": list, "items": items}))
        })
        .await
}

pub async fn get_plays(state: AppState, mut params: Args) -> Result<Value, ApiError> {
    // The row's rule has made sure exactly one of the two is given.
    let actor: Option<Actor> = params.get("actor")?;
    let track: Option<String> = params.get("track")?;
    let limit = params.limit()?;
    let (at, key) = FeedCursor::position(params.cursor()?);
    state
        .pool
        .run(move |conn| {
            let (filter, subject): (String, String) = match (&actor, track) {
                (Some(a), _) => ("p.did = ?1".into(), resolve_actor(conn, a)?),
                (None, Some(t)) => (
                    "EXISTS (SELECT 1 FROM tracks t WHERE t.uri = ?1 AND (p.match_uri = t.uri OR p.match_rkey = t.rkey
                        OR p.match_name = t.name_key))"
                        .into(),
                    t,
                ),
                (None, None) => return Err(ApiError::internal("getPlays without actor or track")),
            };
            let sql = format!(
                "SELECT json_object('uri', p.uri, 'actor', json({actor}), 'trackName', p.track_name, 'artists', json(p.artists),
                        'releaseName', p.release_name, 'duration', p.duration, 'playedTime', p.played_time,
                        'originUri', p.origin_uri, 'musicServiceUri', p.music_service_uri), p.sort_at_us, p.uri
                 FROM plays p WHERE {filter} AND NOT {h}
                   AND (p.sort_at_us < ?2 OR (p.sort_at_us = ?2 AND p.uri < ?3))
                 ORDER BY p.sort_at_us DESC, p.uri DESC LIMIT ?4",
                actor = actor_ref("p.did"),
                h = hidden("p.did"),
            );
            let args: Vec<Box<dyn ToSql + Send>> = vec![Box::new(subject), Box::new(at), Box::new(key), Box::new(i64::from(limit) + 1)];
            let rows = page::rows(conn, &sql, &args, page::view_at_time_and_uri)?;
            Ok(page::finish("plays", rows, limit))
        })
        .await
}

pub async fn get_now_playing(state: AppState, mut params: Args) -> Result<Value, ApiError> {
    let actor: Actor = params.need("actor")?;
    state
        .pool
        .run(move |conn| {
            let did = resolve_actor(conn, &actor)?;
            let sql = format!(
                "SELECT json_object('uri', n.uri, 'time', n.time, 'expiry', n.expiry, 'item', json(n.item))
                 FROM now_playing n WHERE n.did = ?1 AND NOT {} AND (n.expiry_us IS NULL OR n.expiry_us > ?2)",
                hidden("n.did")
            );
            let status = conn.prepare_cached(&sql)?.query_row(rusqlite::params![did, crate::now_us()], |r| json_col(r, 0)).optional()?;
            Ok(match status {
                Some(s) => json!({"status": s}),
                None => json!({}),
            })
        })
        .await
}
