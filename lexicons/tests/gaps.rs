//! One test per entry in `lexicons/GAPS.md`: shrike alone accepts the value (the gap), the
//! wrapper rejects it (the fix). If shrike fixes a gap, the first assertion fails and the entry
//! can go.

mod common;

use serde_json::{Value, json};

const CID: &str = "bafkreibaqc5oue74u2d2h6tzjvbqomtzl7yb3leboxpheizzwqnxsmqlkq";

/// Does shrike, on its own, accept `value` for a field of schema `fragment`?
fn shrike_accepts(fragment: &Value, value: &Value) -> bool {
    let doc = json!({"lexicon": 1, "id": "com.example.gap", "defs": {"main": {
        "type": "record", "key": "tid",
        "record": {"type": "object", "required": ["v"], "properties": {"v": fragment}}
    }}});
    let mut catalog = shrike::lexicon::Catalog::new();
    catalog.add_schema(doc.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let record = json!({"$type": "com.example.gap", "v": value});
    shrike::lexicon::validate_record(&catalog, "com.example.gap", &record).is_ok()
}

fn gap(fragment: Value, value: Value, wrapper_error: &'static str) {
    assert!(shrike_accepts(&fragment, &value), "shrike now rejects {value}: drop the gap entry");
    common::check(fragment, value, common::Error(wrapper_error));
}

#[test]
fn datetime_years_before_0010() {
    gap(json!({"type": "string", "format": "datetime"}), json!("0009-06-01T00:00:00Z"), "years before 0010");
}

#[test]
fn datetime_second_60() {
    gap(json!({"type": "string", "format": "datetime"}), json!("1985-04-12T23:59:60Z"), "second 60");
}

#[test]
fn datetime_day_not_in_month() {
    gap(
        json!({"type": "string", "format": "datetime"}),
        json!("2023-02-29T12:00:00Z"),
        "day 29 does not exist",
    );
}

#[test]
fn integer_given_as_float() {
    gap(json!({"type": "integer"}), json!(214.0), "expected integer, got float");
}

#[test]
fn integer_two_to_the_63() {
    gap(
        json!({"type": "integer", "minimum": 0}),
        json!(9_223_372_036_854_775_808u64),
        "outside the signed 64-bit range",
    );
}

#[test]
fn blob_negative_or_fractional_size() {
    let blob =
        |size: Value| json!({"$type": "blob", "ref": {"$link": CID}, "mimeType": "audio/mpeg", "size": size});
    gap(json!({"type": "blob", "maxSize": 100}), blob(json!(-5)), "not a non-negative integer");
    gap(json!({"type": "blob"}), blob(json!(2.5)), "not a non-negative integer");
}

#[test]
fn blob_mime_type_without_subtype() {
    let blob = json!({"$type": "blob", "ref": {"$link": CID}, "mimeType": "audio/", "size": 1});
    gap(json!({"type": "blob", "accept": ["audio/*"]}), blob, "is not type/subtype");
}

#[test]
fn null_field_type() {
    // shrike cannot even load a lexicon with a `null` property.
    let doc = json!({"lexicon": 1, "id": "com.example.gap", "defs": {"main": {
        "type": "record", "key": "tid",
        "record": {"type": "object", "properties": {"v": {"type": "null"}}}
    }}});
    let mut catalog = shrike::lexicon::Catalog::new();
    assert!(catalog.add_schema(doc.to_string().as_bytes()).is_err());
    common::check(json!({"type": "null"}), json!(null), common::Valid);
    common::check(json!({"type": "null"}), json!(1), common::Error("expected null"));
}

#[test]
fn record_type_missing() {
    // shrike checks `$type` only when present; the wrapper requires it.
    let mut catalog = shrike::lexicon::Catalog::new();
    let doc = include_str!("../schemas/fm/plyr/like.json");
    catalog.add_schema(doc.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    catalog
        .add_schema(include_str!("../schemas/com/atproto/repo/strongRef.json").as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let like = json!({"subject": {"uri": "at://did:plc:abc/fm.plyr.track/3mtjtghiqeo22", "cid": CID}, "createdAt": "2026-08-21T09:12:03Z"});
    assert!(shrike::lexicon::validate_record(&catalog, "fm.plyr.like", &like).is_ok());
    let ours = reprise_lexicons::Catalog::builtin();
    let err = ours.validate_record("fm.plyr.like", "3mtjtghiqeo22", &like).unwrap_err();
    assert_eq!(err.errors()[0].to_string(), "$.$type: required field missing");
}

#[test]
fn lexicon_id_and_key_type_unchecked() {
    for (id, key) in
        [("not an nsid", "tid"), ("com.example.gap", "sometimes"), ("com.example.gap", "literal:a/b")]
    {
        let doc = json!({"lexicon": 1, "id": id, "defs": {"main": {
            "type": "record", "key": key, "record": {"type": "object", "properties": {}}
        }}})
        .to_string();
        assert!(shrike::lexicon::Catalog::new().add_schema(doc.as_bytes()).is_ok());
        let err = reprise_lexicons::Catalog::from_documents([("gap.json", doc.as_str())]).unwrap_err();
        assert!(err.to_string().starts_with("gap.json: invalid lexicon:"), "{err}");
    }
}

#[test]
fn unresolved_refs_load() {
    let doc = json!({"lexicon": 1, "id": "com.example.gap", "defs": {"main": {
        "type": "record", "key": "tid",
        "record": {"type": "object", "properties": {"v": {"type": "ref", "ref": "#missing"}}}
    }}})
    .to_string();
    assert!(shrike::lexicon::Catalog::new().add_schema(doc.as_bytes()).is_ok());
    let err = reprise_lexicons::Catalog::from_documents([("gap.json", doc.as_str())]).unwrap_err();
    assert_eq!(err.to_string(), "gap.json: unresolved reference #missing");
}
