//! Record validation: shrike checks the data against the schema; this module adds the record key,
//! `$type`, the post-checks in [`crate::postcheck`], and turns everything into `$`-rooted paths.

use serde_json::Value;
use shrike::lexicon::{ValidationError as ShrikeError, ValidationErrorKind};
use shrike::syntax::Nsid;

use crate::catalog::Catalog;
use crate::error::{RecordError, ValidationError};
use crate::postcheck;
use crate::prepare::{KeyType, NULL_REF};

pub(crate) fn validate(
    catalog: &Catalog,
    collection: &str,
    rkey: Option<&str>,
    record: &Value,
) -> Result<(), RecordError> {
    let Some(entry) = catalog.records.get(collection) else {
        return Err(match catalog.has(collection) {
            true => RecordError::NotARecord(collection.to_owned()),
            false => RecordError::UnknownCollection(collection.to_owned()),
        });
    };
    let mut errors = Vec::new();
    if let Some(rkey) = rkey {
        check_rkey(&entry.key, rkey, &mut errors);
    }
    let Some(object) = record.as_object() else {
        let got = postcheck::type_name(record);
        errors.push(ValidationError::new("$", format!("expected object, got {got}")));
        return finish(errors);
    };
    check_type(collection, object.get("$type"), &mut errors);
    if let Err(e) = shrike::lexicon::validate_value(&catalog.inner, collection, &entry.root, record) {
        flatten(e, &mut errors);
    }
    if let Some(plan) = &entry.plan {
        postcheck::check_record(plan, record, &mut errors);
    }
    finish(errors)
}

fn finish(mut errors: Vec<ValidationError>) -> Result<(), RecordError> {
    if errors.is_empty() {
        return Ok(());
    }
    errors.sort_by(|a, b| path_key(&a.path).cmp(&path_key(&b.path)).then(a.cmp(b)));
    errors.dedup();
    Err(RecordError::Invalid(errors))
}

/// Whether `rkey` fits `key`; every key must also be valid record-key syntax.
pub(crate) fn rkey_fits(key: &KeyType, rkey: &str) -> bool {
    is_record_key(rkey)
        && match key {
            KeyType::Tid => is_tid(rkey),
            KeyType::Any => true,
            KeyType::Nsid => Nsid::try_from(rkey).is_ok(),
            KeyType::Literal(literal) => rkey == literal,
        }
}

/// Record-key syntax: 1 to 512 of `A-Za-z0-9._:~-`, and not `.` or `..`.
fn is_record_key(s: &str) -> bool {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"._:~-".contains(&b);
    (1..=512).contains(&s.len()) && s != "." && s != ".." && s.bytes().all(allowed)
}

/// TID syntax: 13 base32-sortable chars, the first with the top bit clear.
fn is_tid(s: &str) -> bool {
    const ALPHABET: &[u8] = b"234567abcdefghijklmnopqrstuvwxyz";
    let b = s.as_bytes();
    b.len() == 13 && ALPHABET[..16].contains(&b[0]) && b.iter().all(|c| ALPHABET.contains(c))
}

fn check_rkey(key: &KeyType, rkey: &str, errors: &mut Vec<ValidationError>) {
    if !rkey_fits(key, rkey) {
        let message = format!("record key {rkey:?} does not fit key type {key}");
        errors.push(ValidationError::new("rkey", message));
    }
}

fn check_type(collection: &str, found: Option<&Value>, errors: &mut Vec<ValidationError>) {
    let message = match found {
        None => "required field missing".to_owned(),
        Some(Value::String(t)) if t == collection => return,
        Some(Value::String(t)) => format!("expected {collection:?}, got {t:?}"),
        Some(other) => format!("expected string, got {}", postcheck::type_name(other)),
    };
    errors.push(ValidationError::new("$.$type", message));
}

/// Flatten shrike's error tree into `$`-rooted [`ValidationError`]s.
fn flatten(error: ShrikeError, out: &mut Vec<ValidationError>) {
    match error {
        ShrikeError::Field { path, kind } => {
            let path = match path.strip_prefix("value") {
                Some(rest) => format!("${rest}"),
                None => path,
            };
            out.push(ValidationError::new(path, message(kind)));
        }
        ShrikeError::Multiple(errors) => errors.into_iter().for_each(|e| flatten(e, out)),
        ShrikeError::UnknownCollection(nsid) => {
            out.push(ValidationError::new("$", format!("no lexicon for {nsid}")));
        }
        ShrikeError::Schema(msg) => out.push(ValidationError::new("$", msg)),
    }
}

fn message(kind: ValidationErrorKind) -> String {
    match kind {
        ValidationErrorKind::Required => "required field missing".to_owned(),
        ValidationErrorKind::TypeMismatch { expected, got } => {
            format!("expected {expected}, got {got}")
        }
        ValidationErrorKind::TooShort { min, got } => {
            format!("too short: {got} is below the minimum of {min}")
        }
        ValidationErrorKind::TooLong { max, got } => {
            format!("too long: {got} is above the maximum of {max}")
        }
        ValidationErrorKind::OutOfRange => "integer out of range".to_owned(),
        ValidationErrorKind::InvalidEnum { got } => format!("value {got} is not allowed"),
        ValidationErrorKind::Other(msg) if msg.contains(NULL_REF) => "expected null".to_owned(),
        ValidationErrorKind::Other(msg) if msg.starts_with("unresolved") => unresolved(&msg).unwrap_or(msg),
        // shrike reports a required null twice, once with each wording.
        ValidationErrorKind::Other(msg)
            if msg == "required field is null" || msg == "value is required (got null)" =>
        {
            "null is not allowed".to_owned()
        }
        ValidationErrorKind::Other(msg) => msg,
    }
}

/// shrike's "unresolved [union ]ref: schema X not found" or "...: def D not found in X", as
/// "unresolved reference X#D": the reference the record reached, in the form lexicons write it.
fn unresolved(msg: &str) -> Option<String> {
    let (_, what) = msg.split_once(": ")?;
    let target = match what.strip_prefix("def ") {
        Some(def) => {
            let (name, nsid) = def.split_once(" not found in ")?;
            format!("{nsid}#{name}")
        }
        None => what.strip_prefix("schema ")?.strip_suffix(" not found")?.to_owned(),
    };
    Some(format!("unresolved reference {target}"))
}

/// One step of a rendered path, so `[10]` sorts after `[9]`.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Step<'a> {
    Index(usize),
    Name(&'a str),
}

/// Split `$.a[10].b` into steps for sorting errors in document order within each array.
fn path_key(path: &str) -> Vec<Step<'_>> {
    path.split(['.', '['])
        .map(|part| match part.strip_suffix(']').map(str::parse) {
            Some(Ok(i)) => Step::Index(i),
            _ => Step::Name(part),
        })
        .collect()
}
