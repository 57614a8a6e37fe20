//! Who liked and said what: `getLikes`, `getComments`, `getActivity`, `getArtist`.

use rusqlite::{OptionalExtension, ToSql};
use serde_json::{Value, json};

use crate::params::{Actor, Args, FeedCursor, Keyset};
use crate::views::{actor_ref, artist_view, hidden, json_col, resolve_actor};
use crate::{ApiError, AppState, page};

pub async fn get_likes(state: AppState, mut params: Args) -> Result<Value, ApiError> {
    let uri: String = params.need("uri")?;
    let limit = params.limit()?;
    let (at, key) = FeedCursor::position(params.cursor()?);
    state
        .pool
        .run(move |conn| {
            // One entry per liker: their earliest like record of this track.
            let sql = format!(
                "SELECT json_object('actor', json({actor}), 'uri', l.uri, 'createdAt', l.created_at), l.sort_at_us, l.uri
                 FROM likes l WHERE l.subject_uri = ?1 AND NOT {h}
                   AND l.uri = (SELECT l2.uri FROM likes l2 WHERE l2.did = l.did AND l2.subject_uri = l.subject_uri
                                ORDER BY l2.sort_at_us, l2.uri LIMIT 1)
                   AND (l.sort_at_us < ?2 OR (l.sort_at_us = ?2 AND l.uri < ?3))
                 ORDER BY l.sort_at_us DESC, l.uri DESC LIMIT ?4",
                actor = actor_ref("l.did"),
                h = hidden("l.did"),
            );
            let args: Vec<Box<dyn ToSql + Send>> = vec![Box::new(uri), Box::new(at), Box::new(key), Box::new(i64::from(limit) + 1)];
            let rows = page::rows(conn, &sql, &args, page::view_at_time_and_uri)?;
            Ok(page::finish("likes", rows, limit))
        })
        .await
}

pub async fn get_comments(state: AppState, mut params: Args) -> Result<Value, ApiError> {
    let uri: String = params.need("uri")?;
    let limit = params.limit()?;
    let (ts, at, key) = match params.cursor()? {
        Some(k) => (k.nums[0], k.nums[1], k.key),
        None => (i64::MIN, i64::MIN, String::new()),
    };
    state
        .pool
        .run(move |conn| {
            let sql = format!(
                "SELECT json_object('uri', c.uri, 'actor', json({actor}), 'text', c.text, 'timestampMs', c.timestamp_ms,
                                    'createdAt', c.created_at, 'updatedAt', c.updated_at),
                        c.timestamp_ms, c.sort_at_us, c.uri
                 FROM comments c WHERE c.subject_uri = ?1 AND NOT {h}
                   AND (c.timestamp_ms, c.sort_at_us, c.uri) > (?2, ?3, ?4)
                 ORDER BY c.timestamp_ms, c.sort_at_us, c.uri LIMIT ?5",
                actor = actor_ref("c.did"),
                h = hidden("c.did"),
            );
            let args: Vec<Box<dyn ToSql + Send>> =
                vec![Box::new(uri), Box::new(ts), Box::new(at), Box::new(key), Box::new(i64::from(limit) + 1)];
            let rows = page::rows(conn, &sql, &args, |r| {
                Ok((json_col(r, 0)?, Keyset::new(&[r.get(1)?, r.get(2)?], &r.get::<_, String>(3)?)))
            })?;
            Ok(page::finish("comments", rows, limit))
        })
        .await
}

pub async fn get_activity(state: AppState, mut params: Args) -> Result<Value, ApiError> {
    let limit = params.limit()?;
    let (at, key) = FeedCursor::position(params.cursor()?);
    state
        .pool
        .run(move |conn| {
            let after = "(sort_at_us < ?1 OR (sort_at_us = ?1 AND uri < ?2))";
            let sql = format!(
                "SELECT v, sort_at_us, uri FROM (
                    SELECT json_object('type', 'track', 'actor', json({at}), 'uri', t.uri, 'title', t.title, 'createdAt', t.created_at) AS v,
                           t.sort_at_us, t.uri FROM tracks t WHERE NOT {ht}
                    UNION ALL
                    SELECT json_object('type', 'like', 'actor', json({al}), 'uri', l.uri, 'subject', l.subject_uri, 'createdAt', l.created_at),
                           l.sort_at_us, l.uri FROM likes l WHERE NOT {hl}
                    UNION ALL
                    SELECT json_object('type', 'comment', 'actor', json({ac}), 'uri', c.uri, 'subject', c.subject_uri, 'text', c.text,
                           'createdAt', c.created_at), c.sort_at_us, c.uri FROM comments c WHERE NOT {hc}
                    UNION ALL
                    SELECT json_object('type', 'list', 'actor', json({als}), 'uri', s.uri, 'title', s.name, 'createdAt', COALESCE(s.updated_at, s.created_at)),
                           s.sort_at_us, s.uri FROM lists s WHERE NOT {hs})
                 WHERE {after} ORDER BY sort_at_us DESC, uri DESC LIMIT ?3",
                at = actor_ref("t.did"),
                al = actor_ref("l.did"),
                ac = actor_ref("c.did"),
                als = actor_ref("s.did"),
                ht = hidden("t.did"),
                hl = hidden("l.did"),
                hc = hidden("c.did"),
                hs = hidden("s.did"),
            );
            let args: Vec<Box<dyn ToSql + Send>> = vec![Box::new(at), Box::new(key), Box::new(i64::from(limit) + 1)];
            let rows = page::rows(conn, &sql, &args, page::view_at_time_and_uri)?;
            Ok(page::finish("events", rows, limit))
        })
        .await
}

pub async fn get_artist(state: AppState, mut params: Args) -> Result<Value, ApiError> {
    let actor: Actor = params.need("actor")?;
    state
        .pool
        .run(move |conn| {
            let did = resolve_actor(conn, &actor)?;
            let sql = format!("SELECT {} FROM actors d WHERE d.did = ?1", artist_view("d.did"));
            let artist = conn.prepare_cached(&sql)?.query_row([&did], |r| json_col(r, 0)).optional()?;
            let artist = artist.ok_or_else(|| ApiError::not_found(format!("no actor {did}")))?;
            Ok(json!({"artist": artist}))
        })
        .await
}
