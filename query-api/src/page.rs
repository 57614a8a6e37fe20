//! Keyset pages: run a query that fetches one row more than the limit, and build `{items, cursor}`
//! with `cursor` only when another page exists.

use rusqlite::{Connection, Row, ToSql};
use serde_json::{Map, Value};

use crate::ApiError;
use crate::params::Keyset;

/// The usual row shape: the view as JSON, then the time and URI it is ordered by.
pub fn view_at_time_and_uri(r: &Row<'_>) -> rusqlite::Result<(Value, Keyset)> {
    Ok((crate::views::json_col(r, 0)?, Keyset::new(&[r.get(1)?], &r.get::<_, String>(2)?)))
}

/// Runs `sql` with `args`, mapping each row to a view and its position.
pub fn rows(
    conn: &Connection,
    sql: &str,
    args: &[Box<dyn ToSql + Send>],
    f: impl Fn(&Row<'_>) -> rusqlite::Result<(Value, Keyset)>,
) -> Result<Vec<(Value, Keyset)>, ApiError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let refs: Vec<&dyn ToSql> = args.iter().map(|a| a.as_ref() as &dyn ToSql).collect();
    let mut q = stmt.query(refs.as_slice())?;
    let mut out = Vec::new();
    while let Some(r) = q.next()? {
        out.push(f(r)?);
    }
    Ok(out)
}

/// `{key: [views], cursor?}` from rows fetched with `limit + 1`.
pub fn finish(key: &str, mut rows: Vec<(Value, Keyset)>, limit: u32) -> Value {
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let mut out = Map::new();
    if more && let Some((_, pos)) = rows.last() {
        out.insert("cursor".into(), Value::String(pos.encode()));
    }
    out.insert(key.into(), Value::Array(rows.into_iter().map(|(v, _)| v).collect()));
    Value::Object(out)
}
