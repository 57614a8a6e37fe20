//! Normalizing `fm.teal.alpha.*` records to the stable `fm.teal.*` shape.
//!
//! The alpha lexicons differ from the stable ones only in two play fields: `originUrl` became
//! `originUri` and `musicServiceBaseDomain` became `musicServiceUri`, both now `format: uri`.
//! They live at the top of `fm.teal.alpha.feed.play` and inside `item` (a `playView`) of
//! `fm.teal.alpha.actor.status`.

use serde_json::{Map, Value};

/// Map an alpha record to its stable collection and shape; other collections pass unchanged.
///
/// - `fm.teal.alpha.feed.play` -> `fm.teal.feed.play`; `fm.teal.alpha.actor.status` ->
///   `fm.teal.actor.status` (the play fields are renamed inside its `item`).
/// - Every `$type` value starting `fm.teal.alpha.` loses the `alpha.` segment.
/// - `originUrl` -> `originUri`; `musicServiceBaseDomain` -> `musicServiceUri`, where a bare
///   domain such as `plyr.fm` becomes `https://plyr.fm`. A value that still is not a URI (the
///   alpha default `local`, or junk) is dropped: both fields are optional and the raw record
///   keeps it. If the stable field is already present it wins and the alpha field is dropped.
///
/// Validate a record against its alpha lexicon before normalizing; the result of a valid alpha
/// record validates against the stable lexicon.
pub fn normalize_teal_alpha(collection: &str, mut record: Value) -> (&str, Value) {
    let stable = match collection {
        "fm.teal.alpha.feed.play" => {
            if let Some(map) = record.as_object_mut() {
                rename_play_fields(map);
            }
            "fm.teal.feed.play"
        }
        "fm.teal.alpha.actor.status" => {
            if let Some(Value::Object(item)) = record.get_mut("item") {
                rename_play_fields(item);
            }
            "fm.teal.actor.status"
        }
        _ => return (collection, record),
    };
    fix_types(&mut record);
    (stable, record)
}

fn rename_play_fields(map: &mut Map<String, Value>) {
    rename(map, "originUrl", "originUri", |v| v);
    rename(map, "musicServiceBaseDomain", "musicServiceUri", domain_to_uri);
}

fn rename(map: &mut Map<String, Value>, from: &str, to: &str, convert: fn(String) -> String) {
    let Some(old) = map.remove(from) else { return };
    if map.contains_key(to) {
        return;
    }
    if let Value::String(s) = old {
        let s = convert(s);
        if is_uri(&s) {
            map.insert(to.to_owned(), Value::String(s));
        }
    }
}

fn domain_to_uri(s: String) -> String {
    if !is_uri(&s) && shrike::syntax::Handle::try_from(s.as_str()).is_ok() {
        format!("https://{s}")
    } else {
        s
    }
}

/// The Lexicon `uri` format as the reference checks it: `^\w+:(?://)?[^\s/][^\s]*$`.
fn is_uri(s: &str) -> bool {
    let space = |c: char| c.is_whitespace() || c == '\u{feff}';
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    let scheme_ok = !scheme.is_empty() && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let mut chars = rest.chars();
    scheme_ok && matches!(chars.next(), Some(c) if c != '/' && !space(c)) && !chars.any(space)
}

fn fix_types(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(t)) = map.get_mut("$type")
                && let Some(rest) = t.strip_prefix("fm.teal.alpha.")
            {
                *t = format!("fm.teal.{rest}");
            }
            map.values_mut().for_each(fix_types);
        }
        Value::Array(items) => items.iter_mut().for_each(fix_types),
        _ => {}
    }
}
