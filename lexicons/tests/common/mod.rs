//! Shared test helpers: a one-field record lexicon built around a schema fragment, and the
//! `check(fragment, value, expected)` helper the table tests use.

#![allow(dead_code)]

use reprise_lexicons::{Catalog, RecordError};
use serde_json::{Value, json};

pub const NSID: &str = "com.example.test";
pub const RKEY: &str = "3mtjtghiqeo22";

/// What a check should find.
#[derive(Debug, Clone, Copy)]
pub enum Expect {
    /// The record is valid.
    Valid,
    /// Some error's `path: message` contains this text.
    Error(&'static str),
}
pub use Expect::{Error, Valid};

/// A catalog holding `com.example.test`, whose record is `object` and whose other defs are
/// `defs`.
pub fn catalog_with(object: Value, defs: Value) -> Catalog {
    let mut all = json!({"main": {"type": "record", "key": "tid", "record": object}});
    if let (Some(all), Some(defs)) = (all.as_object_mut(), defs.as_object()) {
        all.extend(defs.clone());
    }
    let doc = json!({"lexicon": 1, "id": NSID, "defs": all}).to_string();
    let strong_ref = include_str!("../../schemas/com/atproto/repo/strongRef.json");
    Catalog::from_documents([("test.json", doc.as_str()), ("strongRef.json", strong_ref)])
        .unwrap_or_else(|e| panic!("test lexicon should load: {e}"))
}

/// A catalog whose record has one required property `v` of schema `fragment`.
pub fn field_catalog(fragment: &Value, defs: Value) -> Catalog {
    catalog_with(json!({"type": "object", "required": ["v"], "properties": {"v": fragment}}), defs)
}

/// Validate `{"$type": NSID, "v": value}` and render the errors as `path: message`.
pub fn run(catalog: &Catalog, value: &Value) -> Vec<String> {
    let record = json!({"$type": NSID, "v": value});
    render(catalog.validate_record(NSID, RKEY, &record))
}

pub fn render(result: Result<(), RecordError>) -> Vec<String> {
    match result {
        Ok(()) => vec![],
        Err(RecordError::Invalid(errors)) => errors.iter().map(ToString::to_string).collect(),
        Err(other) => vec![format!("not run: {other}")],
    }
}

pub fn assert_expect(label: &str, errors: &[String], expected: Expect) {
    match expected {
        Valid => assert!(errors.is_empty(), "{label}: expected valid, got {errors:?}"),
        Error(text) => assert!(
            errors.iter().any(|e| e.contains(text)),
            "{label}: expected an error containing {text:?}, got {errors:?}"
        ),
    }
}

/// Validate `value` as property `v` of schema `fragment`.
pub fn check(fragment: Value, value: Value, expected: Expect) {
    check_with_defs(fragment, json!({}), value, expected);
}

/// Like [`check`], with extra defs in the lexicon for refs and unions.
pub fn check_with_defs(fragment: Value, defs: Value, value: Value, expected: Expect) {
    let catalog = field_catalog(&fragment, defs);
    let errors = run(&catalog, &value);
    assert_expect(&format!("{fragment} / {value}"), &errors, expected);
}
