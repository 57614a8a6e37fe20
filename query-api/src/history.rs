//! The moderators' view: `getRecordHistory`, `getActorHistory` (every event, hidden and deleted
//! accounts included, oldest first), and `getStats`.

use rusqlite::{Connection, ToSql};
use serde_json::{Value, json};

use crate::params::{Actor, Args, Keyset};
use crate::views::{hidden, resolve_actor};
use crate::{ApiError, AppState, page};

pub async fn get_record_history(state: AppState, mut params: Args) -> Result<Value, ApiError> {
    let uri: String = params.need("uri")?;
    let limit = params.limit()?;
    let after = params.cursor()?.map(|k| k.nums[0]);
    state.pool.run(move |conn| entries(conn, "a.uri", &uri, after, limit)).await
}

pub async fn get_actor_history(state: AppState, mut params: Args) -> Result<Value, ApiError> {
    let actor: Actor = params.need("actor")?;
    let limit = params.limit()?;
    let after = params.cursor()?.map(|k| k.nums[0]);
    state
        .pool
        .run(move |conn| {
            let did = resolve_actor(conn, &actor)?;
            entries(conn, "a.did", &did, after, limit)
        })
        .await
}

fn entries(
    conn: &Connection,
    column: &str,
    key: &str,
    after: Option<i64>,
    limit: u32,
) -> Result<Value, ApiError> {
    let sql = format!(
        "SELECT a.seq, e.received_at_us, e.source, a.kind, a.uri, a.did, a.operation, a.rev, a.cid, a.cid_check,
                a.validation, a.errors, a.outcome, a.reason, e.frame
         FROM audit a JOIN log.events e ON e.seq = a.seq
         WHERE {column} = ?1 AND a.seq > ?2 ORDER BY a.seq LIMIT ?3"
    );
    let args: Vec<Box<dyn ToSql + Send>> =
        vec![Box::new(key.to_owned()), Box::new(after.unwrap_or(0)), Box::new(i64::from(limit) + 1)];
    let rows = page::rows(conn, &sql, &args, |r| {
        let seq: i64 = r.get(0)?;
        let kind: String = r.get(3)?;
        let frame: Vec<u8> = r.get(14)?;
        let mut v = json!({
            "seq": seq,
            "time": jiff::Timestamp::from_microsecond(r.get(1)?).map(|t| t.to_string()).unwrap_or_default(),
            "source": r.get::<_, String>(2)?,
            "kind": kind,
            "validation": r.get::<_, String>(10)?,
            "outcome": r.get::<_, String>(12)?,
        });
        for (name, idx) in [
            ("uri", 4),
            ("did", 5),
            ("operation", 6),
            ("rev", 7),
            ("cid", 8),
            ("cidCheck", 9),
            ("reason", 13),
        ] {
            if let Some(s) = r.get::<_, Option<String>>(idx)? {
                v[name] = json!(s);
            }
        }
        if let Some(errors) = r.get::<_, Option<String>>(11)? {
            v["errors"] = json!(errors.lines().collect::<Vec<_>>());
        }
        // The record (or body) as this event carried it; only ingest knows how to read the frame.
        match kind.as_str() {
            "commit" => {
                if let Ok(raw) = reprise_ingest::commit_record(&frame) {
                    v["record"] = serde_json::from_str(raw.get()).unwrap_or(Value::Null);
                }
            }
            "account" => {
                if let Ok(b) = reprise_ingest::account_body(&frame) {
                    v["body"] = json!({"active": b.active, "status": b.status, "time": b.time});
                }
            }
            "identity" => {
                if let Ok(b) = reprise_ingest::identity_body(&frame) {
                    v["body"] = json!({"handle": b.handle, "time": b.time});
                }
            }
            _ => {}
        }
        Ok((v, Keyset::new(&[seq], "")))
    })?;
    if rows.is_empty() && after.is_none() {
        return Err(ApiError::not_found(format!("no events for {key}")));
    }
    Ok(page::finish("entries", rows, limit))
}

pub async fn get_stats(state: AppState, _params: Args) -> Result<Value, ApiError> {
    state
        .pool
        .run(|conn| {
            let (ht, hl, hc, hp) = (hidden("t.did"), hidden("l.did"), hidden("c.did"), hidden("p.did"));
            let sql = format!(
                "SELECT
                   (SELECT COUNT(*) FROM tracks t WHERE NOT {ht}),
                   (SELECT COUNT(DISTINCT t.did) FROM tracks t WHERE NOT {ht}),
                   (SELECT COUNT(*) FROM (SELECT DISTINCT l.did, l.subject_uri FROM likes l WHERE NOT {hl})),
                   (SELECT COUNT(*) FROM comments c WHERE NOT {hc}),
                   (SELECT COUNT(*) FROM plays p WHERE NOT {hp}),
                   (SELECT COALESCE(SUM(t.duration), 0) FROM tracks t WHERE NOT {ht}),
                   (SELECT COALESCE(MAX(seq), 0) FROM log.events),
                   (SELECT seq FROM checkpoint),
                   (SELECT MAX(event_time_us) FROM (SELECT event_time_us FROM log.events ORDER BY seq DESC LIMIT 1000))"
            );
            let row = conn.prepare_cached(&sql)?.query_row([], |r| {
                let lag = r.get::<_, Option<i64>>(8)?.map(|t| ((crate::now_us() - t) / 1_000_000).max(0));
                Ok(json!({
                    "tracks": r.get::<_, i64>(0)?, "artists": r.get::<_, i64>(1)?, "likes": r.get::<_, i64>(2)?,
                    "comments": r.get::<_, i64>(3)?, "plays": r.get::<_, i64>(4)?,
                    "totalDurationSeconds": r.get::<_, i64>(5)?, "events": r.get::<_, i64>(6)?,
                    "projectedSeq": r.get::<_, i64>(7)?, "ingestLagSeconds": lag.unwrap_or(0),
                }))
            })?;
            Ok(row)
        })
        .await
}
