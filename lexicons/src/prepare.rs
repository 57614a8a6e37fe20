//! Checks one lexicon document before shrike parses it, and rewrites what shrike cannot express.
//!
//! shrike has no field type `null`; a property of type `null` becomes a nullable `ref` to
//! [`NULL_REF`], a definition that never exists, so any non-null value fails with a message the
//! validator turns into "expected null". The string formats the wrapper checks itself
//! ([`crate::formats`]) are renamed so shrike does not check them. shrike also accepts any `id`, any
//! (or no) record `key`, a record whose `record` is not an object schema, and named definitions of
//! type `ref`, `union` or `unknown`; all of these are checked here.

use serde_json::{Map, Value};
use shrike::syntax::{Nsid, RecordKey};

use crate::error::LexiconError;
use crate::formats::Format;

/// The NSID the rewritten `null` properties point at; no catalog ever holds it.
pub(crate) const NULL_REF: &str = "reprise.internal.nullType";

/// What a record's key may be, from the lexicon's `key` field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyType {
    /// A timestamp identifier (`tid`).
    Tid,
    /// Any valid record key (`any`).
    Any,
    /// A valid NSID (`nsid`).
    Nsid,
    /// Exactly this key (`literal:self` gives `Literal("self")`).
    Literal(String),
}

impl KeyType {
    fn parse(raw: &str) -> Option<KeyType> {
        match raw {
            "tid" => Some(KeyType::Tid),
            "any" => Some(KeyType::Any),
            "nsid" => Some(KeyType::Nsid),
            _ => {
                let literal = raw.strip_prefix("literal:")?;
                RecordKey::try_from(literal).ok()?;
                Some(KeyType::Literal(literal.to_owned()))
            }
        }
    }
}

impl std::fmt::Display for KeyType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyType::Tid => f.write_str("tid"),
            KeyType::Any => f.write_str("any"),
            KeyType::Nsid => f.write_str("nsid"),
            KeyType::Literal(l) => write!(f, "literal:{l}"),
        }
    }
}

/// A document that passed the pre-checks, re-serialized for shrike.
pub(crate) struct Prepared {
    pub id: String,
    pub bytes: Vec<u8>,
    /// The key type when `main` is a record.
    pub record_key: Option<KeyType>,
}

/// Check `text` (read from `file`) and rewrite it for shrike.
pub(crate) fn prepare(file: &str, text: &str) -> Result<Prepared, LexiconError> {
    let mut doc: Value =
        serde_json::from_str(text).map_err(|source| LexiconError::Json { file: file.to_owned(), source })?;
    let obj = doc.as_object_mut().ok_or_else(|| LexiconError::schema(file, "document is not an object"))?;
    if obj.get("lexicon").and_then(Value::as_u64) != Some(1) {
        return Err(LexiconError::schema(file, "\"lexicon\" must be 1"));
    }
    let id = match obj.get("id").and_then(Value::as_str) {
        Some(id) if Nsid::try_from(id).is_ok() => id.to_owned(),
        Some(id) => return Err(LexiconError::schema(file, format!("id {id:?} is not an nsid"))),
        None => return Err(LexiconError::schema(file, "missing string \"id\"")),
    };
    let defs = obj
        .get_mut("defs")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| LexiconError::schema(file, "missing object \"defs\""))?;
    let mut record_key = None;
    for (name, def) in defs.iter_mut() {
        let kind = def.get("type").and_then(Value::as_str).unwrap_or_default();
        if kind.is_empty() {
            return Err(LexiconError::schema(file, format!("def {name:?} has no type")));
        }
        if matches!(kind, "record" | "query" | "procedure" | "subscription") && name != "main" {
            return Err(LexiconError::schema(file, format!("a {kind} must be the main def, not {name:?}")));
        }
        // A named definition is a type others refer to; these only make sense inside one.
        if matches!(kind, "ref" | "union" | "unknown") {
            return Err(LexiconError::schema(file, format!("def {name:?} cannot be of type {kind}")));
        }
        if kind == "record" {
            record_key = Some(parse_key(file, def)?);
            if def.get("record").and_then(|r| r.get("type")).and_then(Value::as_str) != Some("object") {
                return Err(LexiconError::schema(file, "a record's \"record\" must be of type object"));
            }
        }
        rewrite(file, def)?;
    }
    let bytes =
        serde_json::to_vec(&doc).map_err(|source| LexiconError::Json { file: file.to_owned(), source })?;
    Ok(Prepared { id, bytes, record_key })
}

fn parse_key(file: &str, def: &Value) -> Result<KeyType, LexiconError> {
    match def.get("key").and_then(Value::as_str) {
        Some(raw) => KeyType::parse(raw).ok_or_else(|| {
            LexiconError::schema(
                file,
                format!("record key type {raw:?} is not tid, any, nsid or literal:<key>"),
            )
        }),
        None => Err(LexiconError::schema(file, "record def has no key type")),
    }
}

/// Rewrite every `{"type": "null"}` property and every owned string format (see the module docs);
/// refuse `null` array items.
fn rewrite(file: &str, node: &mut Value) -> Result<(), LexiconError> {
    match node {
        Value::Array(items) => items.iter_mut().try_for_each(|v| rewrite(file, v)),
        Value::Object(map) => {
            let kind = map.get("type").and_then(Value::as_str).map(str::to_owned);
            let kind = kind.as_deref();
            if kind == Some("array")
                && map.get("items").and_then(|i| i.get("type")).and_then(Value::as_str) == Some("null")
            {
                return Err(LexiconError::schema(file, "arrays of type null are not supported"));
            }
            if kind == Some("object") {
                rewrite_null_properties(map);
            }
            if kind == Some("string")
                && let Some(owned) = map.get("format").and_then(Value::as_str).and_then(Format::owned)
            {
                map.insert("format".to_owned(), Value::String(owned.renamed()));
            }
            map.values_mut().try_for_each(|v| rewrite(file, v))
        }
        _ => Ok(()),
    }
}

fn rewrite_null_properties(object: &mut Map<String, Value>) {
    let Some(Value::Object(props)) = object.get_mut("properties") else {
        return;
    };
    let mut nulls = Vec::new();
    for (name, prop) in props.iter_mut() {
        if prop.get("type").and_then(Value::as_str) == Some("null") {
            *prop = serde_json::json!({"type": "ref", "ref": NULL_REF});
            nulls.push(Value::String(name.clone()));
        }
    }
    if nulls.is_empty() {
        return;
    }
    match object.get_mut("nullable") {
        Some(Value::Array(list)) => list.extend(nulls),
        _ => {
            object.insert("nullable".to_owned(), Value::Array(nulls));
        }
    }
}
