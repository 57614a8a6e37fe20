//! Checks the wrapper adds after shrike, for values shrike accepts but Lexicon v1 (or the atproto
//! data model) does not: see `lexicons/GAPS.md`. The walk follows the same schema shrike used
//! (pruned to a [`Plan`]) and only reports what shrike let through, so no problem is reported twice;
//! strings in the formats shrike no longer sees ([`crate::formats`]) are checked here in full.

use serde_json::{Map, Number, Value};
use shrike::syntax::DatetimeRef;

use crate::error::ValidationError;
use crate::plan::Plan;

/// Where a value sits, rendered as `$.a[1].b` only when there is something to report.
#[derive(Clone, Copy)]
enum Path<'a> {
    Root,
    Field(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl Path<'_> {
    fn render(&self, out: &mut String) {
        match *self {
            Path::Root => out.push('$'),
            Path::Field(parent, name) => {
                parent.render(out);
                out.push('.');
                out.push_str(name);
            }
            Path::Index(parent, i) => {
                parent.render(out);
                out.push_str(&format!("[{i}]"));
            }
        }
    }

    fn error(&self, message: String, out: &mut Vec<ValidationError>) {
        let mut path = String::new();
        self.render(&mut path);
        out.push(ValidationError::new(path, message));
    }
}

pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Run the post-checks `plan` asks for over a record.
pub(crate) fn check_record(plan: &Plan, record: &Value, out: &mut Vec<ValidationError>) {
    run(plan, &Path::Root, record, out);
}

fn run(plan: &Plan, path: &Path<'_>, value: &Value, out: &mut Vec<ValidationError>) {
    match (plan, value) {
        (Plan::Datetime, Value::String(s)) => {
            if let Some(msg) = datetime_gap(s) {
                path.error(msg, out);
            }
        }
        (Plan::Format(format), Value::String(s)) => {
            if let Some(msg) = format.check(s) {
                path.error(msg, out);
            }
        }
        (Plan::Integer, Value::Number(n)) => {
            if let Some(msg) = integer_gap(n) {
                path.error(msg, out);
            }
        }
        (Plan::Blob(accept), Value::Object(map)) => blob_gaps(path, accept.as_deref(), map, out),
        (Plan::Array(items), Value::Array(values)) => {
            for (i, v) in values.iter().enumerate() {
                run(items, &Path::Index(path, i), v, out);
            }
        }
        (Plan::Object(props), Value::Object(map)) => {
            for (name, plan) in props {
                if let Some(v) = map.get(name.as_str()) {
                    run(plan, &Path::Field(path, name), v, out);
                }
            }
        }
        (Plan::Union(members), Value::Object(map)) => {
            let Some(t) = map.get("$type").and_then(Value::as_str) else {
                return;
            };
            let t = t.strip_suffix("#main").unwrap_or(t);
            if let Some((_, plan)) = members.iter().find(|(name, _)| name == t) {
                run(plan, path, value, out);
            }
        }
        _ => {}
    }
}

/// What shrike's datetime check lets through: second 60, days that do not exist in their month, and
/// a time that its offset moves before year 0000.
pub(crate) fn datetime_gap(s: &str) -> Option<String> {
    DatetimeRef::try_from(s).ok()?;
    let b = s.as_bytes();
    let num =
        |range: std::ops::Range<usize>| b[range].iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
    let (year, month, day, second) = (num(0..4), num(5..7), num(8..10), num(17..19));
    // `+hh:mm` is subtracted to reach UTC: on 0000-01-01 it can go below the first representable instant.
    let minute_of_day = num(11..13) * 60 + num(14..16);
    let n = b.len();
    let offset = if b[n - 6] == b'+' { num(n - 5..n - 3) * 60 + num(n - 2..n) } else { 0 };
    if (year, month, day) == (0, 1, 1) && minute_of_day < offset {
        return Some(format!("invalid datetime format: {s:?}: before 0000-01-01T00:00:00Z in UTC"));
    }
    if second > 59 {
        return Some(format!("invalid datetime format: {s:?}: second 60 is not allowed"));
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    (day > days).then(|| format!("invalid datetime format: {s:?}: day {day} does not exist in month {month}"))
}

/// Numbers shrike takes for integers but the data model does not: floats with a zero fraction
/// (`214.0`, `1e3`) and 2^63, which shrike saturates to `i64::MAX`.
fn integer_gap(n: &Number) -> Option<String> {
    if n.as_i64().is_some() {
        return None;
    }
    let f = n.as_f64()?;
    // i64::MAX as f64 rounds up to 2^63, so this is the range shrike lets through.
    let shrike_accepts = f.fract() == 0.0 && f >= i64::MIN as f64 && f <= i64::MAX as f64;
    match (shrike_accepts, n.is_f64()) {
        (false, _) => None,
        (true, true) => Some(format!("expected integer, got float {n}")),
        (true, false) => Some(format!("integer {n} is outside the signed 64-bit range")),
    }
}

/// Blob fields shrike lets through: a negative or fractional `size`, and a `mimeType` that is
/// not `type/subtype` (shrike matches `audio/` against `audio/*`).
fn blob_gaps(
    path: &Path<'_>,
    accept: Option<&[String]>,
    map: &Map<String, Value>,
    out: &mut Vec<ValidationError>,
) {
    if let Some(Value::Number(size)) = map.get("size")
        && size.as_u64().is_none()
    {
        path.error(format!("blob size {size} is not a non-negative integer"), out);
    }
    let Some(Value::String(mime)) = map.get("mimeType") else { return };
    let shrike_accepts = !mime.is_empty() && accept.is_none_or(|a| mime_matches(a, mime));
    if shrike_accepts && !mime_is_valid(mime) {
        path.error(format!("blob mimeType {mime:?} is not type/subtype"), out);
    }
}

/// shrike's accept matching: `*/*`, `type/*` or an exact match.
fn mime_matches(accept: &[String], mime: &str) -> bool {
    accept.iter().any(|pattern| match pattern.strip_suffix("/*") {
        Some("*") => true,
        Some(prefix) => mime.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/')),
        None => pattern == mime,
    })
}

/// `type/subtype`, both RFC 6838 restricted names, optionally followed by `;` parameters.
fn mime_is_valid(mime: &str) -> bool {
    let essence = mime.split(';').next().unwrap_or_default();
    let name = |s: &str| {
        !s.is_empty()
            && s.len() <= 127
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    essence.split_once('/').is_some_and(|(t, sub)| name(t) && name(sub))
}
