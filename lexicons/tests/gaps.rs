//! One test per entry in `lexicons/GAPS.md`: shrike alone accepts the value (the gap), the
//! wrapper rejects it (the fix), or, for the formats the wrapper owns, shrike rejects a value the
//! interop vectors call valid and the wrapper accepts it. If shrike fixes a gap, the first assertion
//! fails and the entry can go.

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

/// A value the interop vectors call valid that shrike refuses and the wrapper accepts.
fn inverse_gap(fragment: Value, value: Value) {
    assert!(!shrike_accepts(&fragment, &value), "shrike now accepts {value}: drop the gap entry");
    common::check(fragment, value, common::Valid);
}

#[test]
fn datetime_before_year_zero_in_utc() {
    let datetime = json!({"type": "string", "format": "datetime"});
    // The vectors allow the earliest years, as shrike does; only a time before year 0000 in UTC is out.
    assert!(shrike_accepts(&datetime, &json!("0000-01-01T00:00:00.000Z")));
    common::check(datetime.clone(), json!("0000-01-01T00:00:00.000Z"), common::Valid);
    gap(datetime, json!("0000-01-01T00:00:00+01:00"), "before 0000-01-01T00:00:00Z");
}

#[test]
fn did_percent_escapes() {
    let did = json!({"type": "string", "format": "did"});
    inverse_gap(did.clone(), json!("did:web:localhost%3A1234"));
    inverse_gap(did.clone(), json!("did:method:-:_:.:%ab"));
    common::check(did, json!("did:method:val%"), common::Error("invalid did format"));
}

#[test]
fn cid_multibase_forms_and_cidv0() {
    let cid = json!({"type": "string", "format": "cid"});
    // Base64, base8, base16, and base58 whose multihash does not decode: valid multibase CID text.
    let forms = [
        "mBcDxtdWx0aWhhc2g+",
        "7134036155352661643226414134664076",
        "f017012202c5f688262e0ece8569aa6f94d60aad55ca8d9d83734e4a7430d0cff6588ec2b",
        "z7x3CtScH765HvShXT",
    ];
    for form in forms {
        inverse_gap(cid.clone(), json!(form));
    }
    gap(cid, json!("QmbWqxBEKC3P8tqsKc98xmWNzrzDtRLMiMPL8wBuTGsMnR"), "invalid cid format");
}

#[test]
fn generic_uris() {
    let uri = json!({"type": "string", "format": "uri"});
    inverse_gap(uri.clone(), json!("content-type:text/plan"));
    inverse_gap(uri.clone(), json!("microsoft.windows.camera:thing"));
    gap(uri, json!(format!("https://example.com/{}", "x".repeat(8200))), "invalid uri format");
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
fn lexicon_documents_shrike_loads() {
    let docs = [
        ("defined unknown", json!({"demo": {"type": "unknown"}}), "cannot be of type unknown"),
        (
            "defined ref",
            json!({"demo": {"type": "ref", "ref": "com.atproto.repo.strongRef"}}),
            "cannot be of type ref",
        ),
        (
            "record missing type object",
            json!({"main": {"type": "record", "key": "any", "record": {"properties": {"b": {"type": "boolean"}}}}}),
            "must be of type object",
        ),
    ];
    for (name, defs, expected) in docs {
        let doc = json!({"lexicon": 1, "id": "example.lexicon.other", "defs": defs}).to_string();
        assert!(shrike::lexicon::Catalog::new().add_schema(doc.as_bytes()).is_ok(), "{name}");
        let err = reprise_lexicons::Catalog::from_documents([("gap.json", doc.as_str())]).unwrap_err();
        assert!(err.to_string().contains(expected), "{name}: {err}");
    }
}

#[test]
fn unresolved_refs_load_and_fail_only_the_records_that_reach_them() {
    let doc = json!({"lexicon": 1, "id": "com.example.gap", "defs": {"main": {
        "type": "record", "key": "tid",
        "record": {"type": "object", "properties": {"v": {"type": "ref", "ref": "#missing"}}}
    }}})
    .to_string();
    assert!(shrike::lexicon::Catalog::new().add_schema(doc.as_bytes()).is_ok());
    let catalog = reprise_lexicons::Catalog::from_documents([("gap.json", doc.as_str())])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        catalog.warnings(),
        [reprise_lexicons::LexiconWarning::UnresolvedRef {
            file: "gap.json".to_owned(),
            reference: "#missing".to_owned()
        }]
    );
    let rkey = common::RKEY;
    let without = json!({"$type": "com.example.gap"});
    assert_eq!(catalog.validate_record("com.example.gap", rkey, &without), Ok(()));
    let with = json!({"$type": "com.example.gap", "v": {"a": 1}});
    let err = catalog.validate_record("com.example.gap", rkey, &with).unwrap_err();
    assert_eq!(err.errors()[0].to_string(), "$.v: unresolved reference com.example.gap#missing");
}
