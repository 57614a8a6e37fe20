//! Table tests pinning down what Lexicon v1 requires of each field type and constraint, run
//! through the public API (shrike plus the wrapper's fixes).

mod common;

use common::{Error, Expect, Valid, check, check_with_defs};
use serde_json::{Value, json};

const CID: &str = "bafkreibaqc5oue74u2d2h6tzjvbqomtzl7yb3leboxpheizzwqnxsmqlkq";

fn table(cases: Vec<(Value, Value, Expect)>) {
    for (fragment, value, expected) in cases {
        check(fragment, value, expected);
    }
}

#[test]
fn null() {
    let n = json!({"type": "null"});
    table(vec![
        (n.clone(), json!(null), Valid),
        (n.clone(), json!(0), Error("$.v: expected null")),
        (n.clone(), json!(""), Error("$.v: expected null")),
        (n.clone(), json!({}), Error("$.v: expected null")),
        (n, json!(false), Error("$.v: expected null")),
    ]);
}

#[test]
fn boolean() {
    let b = json!({"type": "boolean"});
    table(vec![
        (b.clone(), json!(true), Valid),
        (b.clone(), json!(false), Valid),
        (b.clone(), json!("true"), Error("$.v: expected boolean, got string")),
        (b.clone(), json!(1), Error("expected boolean, got number")),
        (b, json!(null), Error("$.v: null is not allowed")),
        (json!({"type": "boolean", "const": true}), json!(true), Valid),
        (json!({"type": "boolean", "const": true}), json!(false), Error("$.v: value false is not allowed")),
    ]);
}

#[test]
fn integer() {
    let i = json!({"type": "integer"});
    table(vec![
        (i.clone(), json!(5), Valid),
        (i.clone(), json!(-5), Valid),
        (i.clone(), json!(i64::MAX), Valid),
        (i.clone(), json!(i64::MIN), Valid),
        (i.clone(), json!(5.5), Error("not a valid integer")),
        (i.clone(), json!("5"), Error("expected integer, got string")),
        (i.clone(), json!(true), Error("expected integer, got boolean")),
        (i.clone(), json!(1e30), Error("out of i64 range")),
        // Gaps fixed by the wrapper (GAPS.md): shrike accepts these.
        (i.clone(), json!(5.0), Error("$.v: expected integer, got float 5.0")),
        (i.clone(), json!(1e3), Error("expected integer, got float")),
        (i.clone(), json!(9_223_372_036_854_775_808u64), Error("outside the signed 64-bit range")),
        (i, json!(u64::MAX), Error("out of i64 range")),
        (json!({"type": "integer", "minimum": 0}), json!(0), Valid),
        (json!({"type": "integer", "minimum": 0}), json!(-1), Error("$.v: integer out of range")),
        (json!({"type": "integer", "maximum": 10}), json!(10), Valid),
        (json!({"type": "integer", "maximum": 10}), json!(11), Error("integer out of range")),
        (json!({"type": "integer", "enum": [1, 2]}), json!(2), Valid),
        (json!({"type": "integer", "enum": [1, 2]}), json!(3), Error("value 3 is not allowed")),
        (json!({"type": "integer", "const": 7}), json!(7), Valid),
        (json!({"type": "integer", "const": 7}), json!(8), Error("value 8 is not allowed")),
    ]);
}

#[test]
fn string_lengths_count_utf8_bytes() {
    let max = |n: u64| json!({"type": "string", "maxLength": n});
    let min = |n: u64| json!({"type": "string", "minLength": n});
    table(vec![
        (json!({"type": "string"}), json!(""), Valid),
        (json!({"type": "string"}), json!(1), Error("expected string, got number")),
        (max(3), json!("abc"), Valid),
        (max(3), json!("abcd"), Error("$.v: too long: 4 is above the maximum of 3")),
        // "é" is 2 bytes, "日" 3, "🎵" 4: limits count UTF-8 bytes, not chars.
        (max(1), json!("é"), Error("too long: 2")),
        (max(2), json!("é"), Valid),
        (max(3), json!("日"), Valid),
        (max(3), json!("🎵"), Error("too long: 4")),
        (min(2), json!("é"), Valid),
        (min(2), json!("e"), Error("too short: 1 is below the minimum of 2")),
        (min(1), json!(""), Error("too short: 0")),
    ]);
}

#[test]
fn string_graphemes_count_extended_clusters() {
    let max = |n: u64| json!({"type": "string", "maxGraphemes": n});
    let min = |n: u64| json!({"type": "string", "minGraphemes": n});
    table(vec![
        (max(1), json!("e\u{301}"), Valid),               // e + combining acute
        (max(1), json!("e\u{301}\u{327}\u{308}"), Valid), // several combining marks
        (max(1), json!("👨\u{200d}👩\u{200d}👧\u{200d}👦"), Valid), // ZWJ family
        (max(1), json!("🏳\u{fe0f}\u{200d}🌈"), Valid),    // ZWJ flag sequence
        (max(1), json!("👍🏽"), Valid),                     // skin tone modifier
        (max(1), json!("1\u{fe0f}\u{20e3}"), Valid),      // keycap
        (max(1), json!("🇫🇷"), Valid),                     // regional indicator pair
        (max(1), json!("🇫🇷🇩🇪"), Error("too long: 2 is above the maximum of 1")),
        (max(1), json!("🇫🇷🇩"), Error("too long: 2")), // odd indicator stands alone
        (max(1), json!("\u{1100}\u{1161}\u{11a8}"), Valid), // Hangul jamo syllable
        (max(1), json!("\r\n"), Valid),
        (max(1), json!("日本"), Error("too long: 2")),
        (max(2), json!("日本"), Valid),
        (min(2), json!("日本"), Valid),
        (min(2), json!("日"), Error("too short: 1 is below the minimum of 2")),
        (min(2), json!("e\u{301}"), Error("too short: 1")),
        (min(1), json!(""), Error("too short: 0")),
        // Both limits apply: one flag is 1 grapheme but 8 bytes.
        (json!({"type": "string", "maxLength": 4, "maxGraphemes": 10}), json!("🇫🇷"), Error("too long: 8")),
    ]);
}

#[test]
fn string_enum_const_and_known_values() {
    table(vec![
        (json!({"type": "string", "enum": ["a", "b"]}), json!("b"), Valid),
        (json!({"type": "string", "enum": ["a", "b"]}), json!("c"), Error("$.v: value c is not allowed")),
        (json!({"type": "string", "const": "x"}), json!("x"), Valid),
        (json!({"type": "string", "const": "x"}), json!("y"), Error("expected const \"x\"")),
        // knownValues are advisory only.
        (json!({"type": "string", "knownValues": ["album", "playlist"]}), json!("mixtape"), Valid),
        (json!({"type": "string", "knownValues": ["album"]}), json!(3), Error("expected string")),
    ]);
}

#[test]
fn bytes() {
    let b = json!({"type": "bytes"});
    table(vec![
        (b.clone(), json!({"$bytes": "aGVsbG8"}), Valid),
        // Padding is tolerated on read, as the reference implementation does.
        (b.clone(), json!({"$bytes": "aGVsbG8="}), Valid),
        (b.clone(), json!("aGVsbG8"), Error("expected bytes, got string")),
        (b.clone(), json!({}), Error("bytes object missing $bytes key")),
        (b.clone(), json!({"bytes": "aGVsbG8"}), Error("missing $bytes")),
        (b, json!({"$bytes": "!!!"}), Error("not valid base64")),
        (json!({"type": "bytes", "minLength": 6}), json!({"$bytes": "aGVsbG8"}), Error("too short: 5")),
        (json!({"type": "bytes", "maxLength": 4}), json!({"$bytes": "aGVsbG8"}), Error("too long: 5")),
        (json!({"type": "bytes", "maxLength": 5}), json!({"$bytes": "aGVsbG8"}), Valid),
    ]);
}

#[test]
fn cid_link() {
    let c = json!({"type": "cid-link"});
    table(vec![
        (c.clone(), json!({"$link": CID}), Valid),
        (c.clone(), json!(CID), Error("expected cid-link object, got string")),
        (c.clone(), json!({"$link": "bafynotacid"}), Error("not a valid CID")),
        (c.clone(), json!({"$link": CID, "x": 1}), Error("not a valid CID")),
        (c, json!({}), Error("missing $link")),
    ]);
}

fn blob(mime: &str, size: Value) -> Value {
    json!({"$type": "blob", "ref": {"$link": CID}, "mimeType": mime, "size": size})
}

#[test]
fn blob_shape_size_and_accept() {
    let any = json!({"type": "blob"});
    let audio = json!({"type": "blob", "accept": ["audio/*"], "maxSize": 1000});
    table(vec![
        (any.clone(), blob("image/png", json!(10)), Valid),
        (any.clone(), json!("blob"), Error("expected blob object, got string")),
        (any.clone(), json!({"ref": {"$link": CID}, "mimeType": "a/b", "size": 1}), Error("wrong $type")),
        (any.clone(), json!({"$type": "blob", "mimeType": "a/b", "size": 1}), Error("blob missing ref")),
        (
            any.clone(),
            json!({"$type": "blob", "ref": {"$link": "x"}, "mimeType": "a/b", "size": 1}),
            Error("not a valid CID"),
        ),
        (any.clone(), json!({"$type": "blob", "ref": {"$link": CID}, "size": 1}), Error("missing mimeType")),
        (
            any.clone(),
            json!({"$type": "blob", "ref": {"$link": CID}, "mimeType": "a/b"}),
            Error("missing size"),
        ),
        // Legacy blob refs are not accepted in new records.
        (any.clone(), json!({"cid": CID, "mimeType": "image/png"}), Error("wrong $type")),
        // Gaps fixed by the wrapper (GAPS.md).
        (any.clone(), blob("image/png", json!(-1)), Error("$.v: blob size -1 is not a non-negative integer")),
        (any.clone(), blob("image/png", json!(1.5)), Error("blob size 1.5")),
        (any.clone(), blob("image png", json!(1)), Error("is not type/subtype")),
        (audio.clone(), blob("audio/mpeg", json!(1000)), Valid),
        (audio.clone(), blob("audio/flac", json!(1)), Valid),
        (
            audio.clone(),
            blob("audio/mpeg", json!(1001)),
            Error("too long: 1001 is above the maximum of 1000"),
        ),
        (audio.clone(), blob("image/png", json!(1)), Error("not accepted")),
        (audio.clone(), blob("audiox/mpeg", json!(1)), Error("not accepted")),
        (audio.clone(), blob("audio", json!(1)), Error("not accepted")),
        (audio, blob("audio/", json!(1)), Error("\"audio/\" is not type/subtype")),
        (json!({"type": "blob", "accept": ["image/png"]}), blob("image/png", json!(1)), Valid),
        (
            json!({"type": "blob", "accept": ["image/png"]}),
            blob("image/jpeg", json!(1)),
            Error("not accepted"),
        ),
        (json!({"type": "blob", "accept": ["*/*"]}), blob("video/mp4", json!(1)), Valid),
    ]);
}

#[test]
fn array() {
    let a = json!({"type": "array", "items": {"type": "integer"}, "minLength": 1, "maxLength": 2});
    table(vec![
        (a.clone(), json!([1]), Valid),
        (a.clone(), json!([]), Error("$.v: too short: 0 is below the minimum of 1")),
        (a.clone(), json!([1, 2, 3]), Error("$.v: too long: 3 is above the maximum of 2")),
        (a.clone(), json!([1, "x"]), Error("$.v[1]: expected integer, got string")),
        (a.clone(), json!([1, null]), Error("$.v[1]: null is not allowed")),
        (a, json!({"0": 1}), Error("expected array, got object")),
    ]);
}

#[test]
fn object_required_and_nullable() {
    let o = json!({
        "type": "object",
        "required": ["a", "n"],
        "nullable": ["n", "m"],
        "properties": {
            "a": {"type": "string"},
            "n": {"type": "string"},
            "m": {"type": "string"},
            "o": {"type": "string"},
        }
    });
    table(vec![
        (o.clone(), json!({"a": "x", "n": null}), Valid),
        (o.clone(), json!({"a": "x", "n": "y", "m": null, "extra": 1}), Valid),
        (o.clone(), json!({"n": null}), Error("$.v.a: required field missing")),
        (o.clone(), json!({"a": "x"}), Error("$.v.n: required field missing")),
        (o.clone(), json!({"a": null, "n": null}), Error("$.v.a: null is not allowed")),
        (o.clone(), json!({"a": "x", "n": null, "o": null}), Error("$.v.o: null is not allowed")),
        (o, json!("x"), Error("$.v: expected object, got string")),
    ]);
}

#[test]
fn refs_local_and_external() {
    let defs = json!({"thing": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "maxLength": 3}}}});
    let cases = [
        (json!({"type": "ref", "ref": "#thing"}), json!({"name": "abc"}), Valid),
        (json!({"type": "ref", "ref": "#thing"}), json!({"name": "abcd"}), Error("$.v.name: too long")),
        (json!({"type": "ref", "ref": "#thing"}), json!({}), Error("$.v.name: required field missing")),
        (json!({"type": "ref", "ref": "#thing"}), json!(1), Error("$.v: expected object, got number")),
        (json!({"type": "ref", "ref": "com.example.test#thing"}), json!({"name": "a"}), Valid),
        (
            json!({"type": "ref", "ref": "com.atproto.repo.strongRef"}),
            json!({"uri": "at://did:plc:abc/fm.plyr.track/3mtjtghiqeo22", "cid": CID}),
            Valid,
        ),
        (
            json!({"type": "ref", "ref": "com.atproto.repo.strongRef"}),
            json!({"uri": "https://x.y/z"}),
            Error("$.v.uri: invalid at-uri format"),
        ),
    ];
    for (fragment, value, expected) in cases {
        check_with_defs(fragment, defs.clone(), value, expected);
    }
}

#[test]
fn unions_open_and_closed() {
    let defs = json!({
        "a": {"type": "object", "required": ["x"], "properties": {"x": {"type": "integer"}}},
        "b": {"type": "object", "properties": {"y": {"type": "string"}}},
    });
    let open = json!({"type": "union", "refs": ["#a", "#b"]});
    let closed = json!({"type": "union", "refs": ["#a", "#b"], "closed": true});
    let cases = [
        (open.clone(), json!({"$type": "com.example.test#a", "x": 1}), Valid),
        (open.clone(), json!({"$type": "com.example.test#a", "x": "1"}), Error("$.v.x: expected integer")),
        (open.clone(), json!({"$type": "com.example.test#b"}), Valid),
        (open.clone(), json!({"$type": "com.example.other#c", "anything": true}), Valid),
        (open.clone(), json!({"x": 1}), Error("$.v: union missing $type")),
        (open.clone(), json!({"$type": 5}), Error("$type is not a string")),
        (open.clone(), json!("com.example.test#a"), Error("expected union object, got string")),
        (closed.clone(), json!({"$type": "com.example.test#b", "y": "z"}), Valid),
        (closed, json!({"$type": "com.example.other#c"}), Error("not in closed union")),
    ];
    for (fragment, value, expected) in cases {
        check_with_defs(fragment, defs.clone(), value, expected);
    }
}

#[test]
fn unknown_takes_any_object() {
    let u = json!({"type": "unknown"});
    table(vec![
        (u.clone(), json!({}), Valid),
        (u.clone(), json!({"$type": "com.example.other", "deep": [1, {"a": null}]}), Valid),
        (u.clone(), json!("text"), Error("expected object, got string")),
        (u.clone(), json!(1), Error("expected object, got number")),
        (u, json!([]), Error("expected object, got array")),
    ]);
}

#[test]
fn tokens_are_definitions_not_field_types() {
    // A token is a named value other fields list in knownValues (advisory).
    let defs = json!({"favorite": {"type": "token", "description": "a token"}});
    let known = json!({"type": "string", "knownValues": ["com.example.test#favorite"]});
    check_with_defs(known.clone(), defs.clone(), json!("com.example.test#favorite"), Valid);
    check_with_defs(known, defs, json!("anything else"), Valid);
    // `token` is not a field type: such a lexicon does not load.
    let doc = json!({"lexicon": 1, "id": "com.example.bad", "defs": {"main": {
        "type": "record", "key": "tid",
        "record": {"type": "object", "properties": {"t": {"type": "token"}}}
    }}})
    .to_string();
    let err = reprise_lexicons::Catalog::from_documents([("bad.json", doc.as_str())]).unwrap_err();
    assert!(err.to_string().starts_with("bad.json: invalid lexicon:"), "{err}");
}

#[test]
fn every_error_is_reported() {
    let catalog = common::catalog_with(
        json!({"type": "object", "required": ["a", "b"], "properties": {
            "a": {"type": "string", "maxLength": 1},
            "b": {"type": "integer"},
            "c": {"type": "array", "items": {"type": "string", "format": "did"}},
            "d": {"type": "string", "format": "datetime"},
        }}),
        json!({}),
    );
    let record = json!({"$type": "com.example.wrong", "a": "xx", "c": ["did:plc:ok", "nope", 3], "d": "1985-02-30T00:00:00Z"});
    let errors = common::render(catalog.validate_record(common::NSID, "self", &record));
    assert_eq!(
        errors,
        [
            "$.$type: expected \"com.example.test\", got \"com.example.wrong\"",
            "$.a: too long: 2 is above the maximum of 1",
            "$.b: required field missing",
            "$.c[1]: invalid did format: \"nope\"",
            "$.c[2]: expected string, got number",
            "$.d: invalid datetime format: \"1985-02-30T00:00:00Z\": day 30 does not exist in month 2",
            "rkey: record key \"self\" does not fit key type tid",
        ]
    );
}

#[test]
fn wrapper_checks_follow_refs_unions_and_arrays() {
    let defs = json!({
        "stamp": {"type": "object", "properties": {"at": {"type": "string", "format": "datetime"}}},
        "node": {"type": "object", "properties": {
            "n": {"type": "integer"},
            "children": {"type": "array", "items": {"type": "ref", "ref": "#node"}},
        }},
    });
    let union = json!({"type": "array", "items": {"type": "union", "refs": ["#stamp", "#node"]}});
    let bad_day = json!([{"$type": "com.example.test#stamp", "at": "2023-02-29T00:00:00Z"}]);
    check_with_defs(union.clone(), defs.clone(), bad_day, Error("$.v[0].at: invalid datetime format"));
    let main_suffix = json!([{"$type": "com.example.test#stamp", "at": "2023-02-28T00:00:00Z"}]);
    check_with_defs(union.clone(), defs.clone(), main_suffix, Valid);
    // A recursive lexicon loads and validates; shrike still checks every level.
    let tree = json!([{"$type": "com.example.test#node", "n": 1, "children": [{"children": [{"n": "x"}]}]}]);
    check_with_defs(union, defs, tree, Error("$.v[0].children[0].children[0].n: expected integer"));
}
