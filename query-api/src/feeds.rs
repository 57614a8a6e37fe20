//! Track feeds: `getTracks`, `getTrack`, `searchTracks`, `getActorLikes`.

use std::sync::LazyLock;

use rusqlite::{OptionalExtension, ToSql};
use serde_json::{Value, json};

use crate::params::{Actor, Args, FeedCursor, Keyset};
use crate::spec::{Period, Sort};
use crate::views::{hidden, json_col, resolve_actor, track_view};
use crate::{ApiError, AppState, page};

impl Period {
    /// How far back `sort=top` counts likes, in seconds.
    fn seconds(self) -> i64 {
        match self {
            Period::Day => 86_400,
            Period::Week => 7 * 86_400,
            Period::Month => 30 * 86_400,
            Period::All => i64::MAX / 2_000_000,
        }
    }
}

pub async fn get_tracks(state: AppState, mut params: Args) -> Result<Value, ApiError> {
    let limit = params.limit()?;
    let artist: Option<String> = params.get("artist")?;
    let album: Option<String> = params.get("album")?;
    let sort: Sort = params.choice("sort")?;
    let period: Period = params.choice("period")?;
    let cursor = params.cursor()?;
    state
        .pool
        .run(move |conn| {
            let mut filters = vec![format!("NOT {}", hidden("t.did"))];
            let mut args: Vec<Box<dyn ToSql + Send>> = Vec::new();
            if let Some(a) = artist {
                args.push(Box::new(a));
                filters.push(format!("t.did = ?{}", args.len()));
            }
            if let Some(a) = album {
                args.push(Box::new(a));
                filters.push(format!("t.album = ?{}", args.len()));
            }
            let fetch = i64::from(limit) + 1;
            let rows = if sort == Sort::Newest {
                if let Some(c) = cursor.map(FeedCursor::from) {
                    args.push(Box::new(c.at_us));
                    args.push(Box::new(c.uri));
                    let (a, b) = (args.len() - 1, args.len());
                    filters.push(format!("(t.sort_at_us < ?{a} OR (t.sort_at_us = ?{a} AND t.uri < ?{b}))"));
                }
                let sql = format!(
                    "SELECT {}, t.sort_at_us, t.uri FROM tracks t WHERE {} ORDER BY t.sort_at_us DESC, t.uri DESC LIMIT {fetch}",
                    track_view(),
                    filters.join(" AND ")
                );
                page::rows(conn, &sql, &args, page::view_at_time_and_uri)?
            } else {
                args.push(Box::new(crate::now_us() - period.seconds() * 1_000_000));
                let since_arg = args.len();
                let mut outer = String::new();
                if let Some(c) = cursor {
                    args.push(Box::new(c.nums[0]));
                    args.push(Box::new(c.key));
                    let (a, b) = (args.len() - 1, args.len());
                    outer = format!("WHERE (likes < ?{a} OR (likes = ?{a} AND uri < ?{b}))");
                }
                let sql = format!(
                    "SELECT v, likes, uri FROM (
                        SELECT {view} AS v, t.uri AS uri,
                          (SELECT COUNT(DISTINCT l.did) FROM likes l WHERE l.subject_uri = t.uri
                             AND l.sort_at_us >= ?{since_arg} AND NOT {hl}) AS likes
                        FROM tracks t WHERE {filters})
                     {outer} ORDER BY likes DESC, uri DESC LIMIT {fetch}",
                    view = track_view(),
                    hl = hidden("l.did"),
                    filters = filters.join(" AND "),
                );
                page::rows(conn, &sql, &args, page::view_at_time_and_uri)?
            };
            Ok(page::finish("tracks", rows, limit))
        })
        .await
}

pub async fn get_track(state: AppState, mut params: Args) -> Result<Value, ApiError> {
    let uri: String = params.need("uri")?;
    state
        .pool
        .run(move |conn| {
            static SQL: LazyLock<String> = LazyLock::new(|| {
                format!("SELECT {} FROM tracks t WHERE t.uri = ?1 AND NOT {}", track_view(), hidden("t.did"))
            });
            let track = conn.prepare_cached(&SQL)?.query_row([&uri], |r| json_col(r, 0)).optional()?;
            let track = track.ok_or_else(|| ApiError::not_found(format!("no track {uri}")))?;
            Ok(json!({"track": track}))
        })
        .await
}

/// Quotes every word so user input is never FTS5 syntax.
fn fts_query(q: &str) -> Option<String> {
    let words: Vec<String> = q
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(16)
        .map(|w| format!("\"{w}\""))
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

pub async fn search_tracks(state: AppState, mut params: Args) -> Result<Value, ApiError> {
    let text: String = params.need("q")?;
    let limit = params.limit()?;
    // Ranks are not stable keys (they move as the corpus changes), so search pages by offset.
    let offset = params.cursor()?.map(|k| k.nums[0].max(0)).unwrap_or(0);
    let Some(fts) = fts_query(&text) else {
        return Ok(json!({"tracks": []}));
    };
    state
        .pool
        .run(move |conn| {
            let sql = format!(
                "SELECT {view} FROM tracks_fts f JOIN tracks t ON t.uri = f.uri
                 WHERE tracks_fts MATCH ?1 AND NOT {h}
                 ORDER BY bm25(tracks_fts, 0.0, 10.0, 5.0, 3.0, 1.0), t.uri LIMIT ?2 OFFSET ?3",
                view = track_view(),
                h = hidden("t.did"),
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(rusqlite::params![fts, i64::from(limit) + 1, offset])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(json_col(r, 0)?);
            }
            let more = out.len() > limit as usize;
            out.truncate(limit as usize);
            let mut body = json!({"tracks": out});
            if more {
                body["cursor"] = json!(Keyset::new(&[offset + i64::from(limit)], "").encode());
            }
            Ok(body)
        })
        .await
}

pub async fn get_actor_likes(state: AppState, mut params: Args) -> Result<Value, ApiError> {
    let actor: Actor = params.need("actor")?;
    let limit = params.limit()?;
    let (at, key) = FeedCursor::position(params.cursor()?);
    state
        .pool
        .run(move |conn| {
            let did = resolve_actor(conn, &actor)?;
            // One entry per liked track: the actor's earliest like record of it.
            let sql = format!(
                "SELECT {view}, l.sort_at_us, l.uri FROM likes l JOIN tracks t ON t.uri = l.subject_uri
                 WHERE l.did = ?1 AND NOT {h} AND NOT {hl}
                   AND l.uri = (SELECT l2.uri FROM likes l2 WHERE l2.did = l.did AND l2.subject_uri = l.subject_uri
                                ORDER BY l2.sort_at_us, l2.uri LIMIT 1)
                   AND (l.sort_at_us < ?2 OR (l.sort_at_us = ?2 AND l.uri < ?3))
                 ORDER BY l.sort_at_us DESC, l.uri DESC LIMIT ?4",
                view = track_view(),
                h = hidden("t.did"),
                hl = hidden("l.did"),
            );
            let args: Vec<Box<dyn ToSql + Send>> =
                vec![Box::new(did), Box::new(at), Box::new(key), Box::new(i64::from(limit) + 1)];
            let rows = page::rows(conn, &sql, &args, page::view_at_time_and_uri)?;
            Ok(page::finish("tracks", rows, limit))
        })
        .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn search_input_never_becomes_fts_syntax() {
        assert_eq!(super::fts_query("late bloom").as_deref(), Some("\"late\" \"bloom\""));
        assert_eq!(super::fts_query("\" OR title:* NEAR(").as_deref(), Some("\"OR\" \"title\" \"NEAR\""));
        assert_eq!(super::fts_query("*** ---"), None);
    }
}
