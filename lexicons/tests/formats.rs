//! String formats: the atproto interop syntax vectors (copied into `tests/data/syntax/`), the
//! length limits, and datetime edge cases from the Lexicon datetime rules.

mod common;

use common::{Error, Expect, Valid, assert_expect, field_catalog, run};
use serde_json::json;

fn format_table(format: &str, cases: &[(&str, Expect)]) {
    let catalog = field_catalog(&json!({"type": "string", "format": format}), json!({}));
    for &(value, expected) in cases {
        let errors = run(&catalog, &json!(value));
        assert_expect(&format!("{format} {value:?}"), &errors, expected);
    }
}

/// Non-empty, non-comment lines of a vector file.
fn vectors(file: &str) -> Vec<String> {
    let path = format!("{}/tests/data/interop/syntax/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let lines = text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#'));
    lines.map(str::to_owned).collect()
}

/// Every vector in `valid` passes and every one in `invalid` fails as a string of `format`; prints the
/// count per file (the conformance figure) and names every vector that disagrees.
fn interop(format: &str, valid: &[&str], invalid: &[&str]) {
    let catalog = field_catalog(&json!({"type": "string", "format": format}), json!({}));
    let mut wrong = Vec::new();
    for (files, want_valid) in [(valid, true), (invalid, false)] {
        for file in files {
            let all = vectors(file);
            assert!(!all.is_empty(), "{file}");
            let bad: Vec<String> = all
                .into_iter()
                .filter(|v| {
                    let errors = run(&catalog, &json!(v));
                    // An invalid vector must fail for its format, not for something else.
                    let ok = if want_valid {
                        errors.is_empty()
                    } else {
                        errors.iter().any(|e| e.contains("format"))
                    };
                    !ok
                })
                .collect();
            let total = vectors(file).len();
            eprintln!("interop {file} as {format}: {}/{total} pass", total - bad.len());
            wrong.extend(bad.into_iter().map(|v| format!("{file}: {v:?}")));
        }
    }
    assert!(wrong.is_empty(), "{format}: {wrong:#?}");
}

#[test]
fn interop_vectors() {
    interop("did", &["did_syntax_valid.txt"], &["did_syntax_invalid.txt"]);
    interop("handle", &["handle_syntax_valid.txt"], &["handle_syntax_invalid.txt"]);
    interop("nsid", &["nsid_syntax_valid.txt"], &["nsid_syntax_invalid.txt"]);
    interop("at-uri", &["aturi_syntax_valid.txt"], &["aturi_syntax_invalid.txt"]);
    interop("at-identifier", &["atidentifier_syntax_valid.txt"], &["atidentifier_syntax_invalid.txt"]);
    interop("tid", &["tid_syntax_valid.txt"], &["tid_syntax_invalid.txt"]);
    interop("record-key", &["recordkey_syntax_valid.txt"], &["recordkey_syntax_invalid.txt"]);
    interop("language", &["language_syntax_valid.txt"], &["language_syntax_invalid.txt"]);
    interop("cid", &["cid_syntax_valid.txt"], &["cid_syntax_invalid.txt"]);
    interop("uri", &["uri_syntax_valid.txt"], &["uri_syntax_invalid.txt"]);
    interop(
        "datetime",
        &["datetime_syntax_valid.txt"],
        &["datetime_syntax_invalid.txt", "datetime_parse_invalid.txt"],
    );
}

#[test]
fn datetime() {
    format_table(
        "datetime",
        &[
            ("1985-04-12T23:20:50Z", Valid),
            ("1985-04-12T23:20:50.123Z", Valid),
            ("1985-04-12T23:20:50.123456789012Z", Valid),
            ("1985-04-12T23:20:50+00:00", Valid),
            ("1985-04-12T23:20:50.1-07:00", Valid),
            ("1985-04-12T23:20:50.123+05:45", Valid),
            ("2024-02-29T00:00:00Z", Valid),
            ("2000-02-29T00:00:00Z", Valid),
            ("0010-01-01T00:00:00Z", Valid),
            ("1985-04-12T23:20:50", Error("invalid datetime format")),
            ("1985-04-12T23:20:50.123", Error("invalid datetime format")),
            ("1985-04-12t23:20:50Z", Error("invalid datetime format")),
            ("1985-04-12T23:20:50z", Error("invalid datetime format")),
            ("1985-04-12 23:20:50Z", Error("invalid datetime format")),
            ("1985-04-12T23:20:50-00:00", Error("invalid datetime format")),
            ("1985-04-12T23:20:50+0000", Error("invalid datetime format")),
            ("1985-04-12T23:20:50+00", Error("invalid datetime format")),
            ("1985-04-12T23:20Z", Error("invalid datetime format")),
            ("1985-04-12", Error("invalid datetime format")),
            ("+001985-04-12T23:20:50Z", Error("invalid datetime format")),
            ("1985-13-12T23:20:50Z", Error("invalid datetime format")),
            ("1985-04-12T24:00:00Z", Error("invalid datetime format")),
            // The interop vectors allow the earliest years (GAPS.md 1), but not before year 0000.
            ("0009-12-31T23:59:59Z", Valid),
            ("0000-01-01T00:00:00Z", Valid),
            ("0000-01-01T00:30:00-01:00", Valid),
            ("0000-01-01T00:59:59+01:00", Error("before 0000-01-01T00:00:00Z")),
            ("0000-01-01T01:00:00+01:00", Valid),
            // Gaps fixed by the wrapper (GAPS.md): shrike accepts these.
            ("1985-04-12T23:59:60Z", Error("second 60")),
            ("1985-02-29T00:00:00Z", Error("day 29 does not exist in month 2")),
            ("1900-02-29T00:00:00Z", Error("day 29 does not exist")),
            ("1985-04-31T00:00:00Z", Error("day 31 does not exist in month 4")),
            ("1985-02-30T00:00:00Z", Error("day 30 does not exist")),
        ],
    );
}

#[test]
fn identifiers_at_their_length_limits() {
    let did_max = format!("did:plc:{}", "a".repeat(2040));
    let did_over = format!("did:plc:{}", "a".repeat(2041));
    let label = "a".repeat(63);
    // 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253
    let handle_max = format!("{label}.{label}.{label}.{}", "b".repeat(61));
    let handle_over = format!("{label}.{label}.{label}.{}", "b".repeat(62));
    let handle_long_label = format!("{}.com", "a".repeat(64));
    // 253-char authority + "." + 63-char name = 317
    let nsid_max = format!("{handle_max}.{}", "N".repeat(63));
    let nsid_over = format!("{handle_max}.{}", "N".repeat(64));
    let nsid_long_segment = format!("com.{}.name", "a".repeat(64));
    let rkey_max = "k".repeat(512);
    let rkey_over = "k".repeat(513);
    format_table("did", &[(&did_max, Valid), (&did_over, Error("invalid did format"))]);
    format_table(
        "did",
        &[
            ("did:web:localhost%3A1234", Valid),
            ("did:method:%ab%CD", Valid),
            ("did:method:val%3", Error("invalid did format")),
            ("did:method:val%zz", Error("invalid did format")),
            ("did:Method:val", Error("invalid did format")),
            ("did:method:", Error("invalid did format")),
            ("did::val", Error("invalid did format")),
            ("did:method:val:", Error("invalid did format")),
        ],
    );
    format_table(
        "handle",
        &[
            (&handle_max, Valid),
            (&handle_over, Error("invalid handle format")),
            (&handle_long_label, Error("invalid handle format")),
        ],
    );
    format_table(
        "nsid",
        &[
            (&nsid_max, Valid),
            (&nsid_over, Error("invalid nsid format")),
            (&nsid_long_segment, Error("invalid nsid format")),
        ],
    );
    format_table(
        "record-key",
        &[
            (&rkey_max, Valid),
            (&rkey_over, Error("invalid record-key format")),
            (".", Error("invalid record-key format")),
            ("..", Error("invalid record-key format")),
            ("a/b", Error("invalid record-key format")),
            ("self", Valid),
            ("a:b~c_d-e.f", Valid),
        ],
    );
}

#[test]
fn other_formats() {
    format_table(
        "at-identifier",
        &[
            ("did:plc:abc123", Valid),
            ("plyr.fm", Valid),
            ("@plyr.fm", Error("invalid at-identifier format")),
            ("not an id", Error("invalid at-identifier format")),
        ],
    );
    format_table(
        "at-uri",
        &[
            ("at://did:plc:abc/fm.plyr.track/3mtjtghiqeo22", Valid),
            ("at://plyr.fm", Valid),
            ("https://plyr.fm", Error("invalid at-uri format")),
        ],
    );
    format_table(
        "cid",
        &[
            ("bafkreibaqc5oue74u2d2h6tzjvbqomtzl7yb3leboxpheizzwqnxsmqlkq", Valid),
            // CIDv0 is not a data model CID (GAPS.md 13).
            ("QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG", Error("invalid cid format")),
            ("zdj7WWeQ43G6JJvLWQWZpyHuAMq6uYWRjkBXFad11vE2LHhQ7", Valid),
            ("z0j7WWeQ43G6JJvLWQ", Error("invalid cid format")), // 0 is not base58
            ("f01701220", Valid),
            ("f0170122g", Error("invalid cid format")),
            ("bafyreinotacid", Error("invalid cid format")),
            (&"f".repeat(257), Error("invalid cid format")),
            ("bafkrei", Error("invalid cid format")),
            ("", Error("invalid cid format")),
        ],
    );
    format_table(
        "tid",
        &[
            ("3mtjtghiqeo22", Valid),
            ("3mtjtghiqeo2", Error("invalid tid format")),
            ("zzzzzzzzzzzzz", Error("invalid tid format")), // high bit set
            ("3MTJTGHIQEO22", Error("invalid tid format")),
        ],
    );
    format_table(
        "uri",
        &[
            ("https://plyr.fm/track/1", Valid),
            ("mbid:3f1d2a4c-0000-4000-8000-000000000000", Valid),
            ("plyr.fm", Error("invalid uri format")),
            ("https://plyr .fm", Error("invalid uri format")),
            ("", Error("invalid uri format")),
            ("content-type:text/plain", Valid),
            ("1http://plyr.fm", Error("invalid uri format")),
            ("https:///plyr.fm", Error("invalid uri format")),
            ("https://plyr.fm/\u{feff}", Error("invalid uri format")),
            (&format!("https://plyr.fm/{}", "x".repeat(8192 - 16)), Valid),
            (&format!("https://plyr.fm/{}", "x".repeat(8192 - 15)), Error("invalid uri format")),
        ],
    );
    format_table(
        "language",
        &[
            ("en", Valid),
            ("pt-BR", Valid),
            ("zh-Hant-TW", Valid),
            ("i-default", Valid),
            ("english", Error("invalid language format")),
            ("", Error("invalid language format")),
        ],
    );
    // Unknown formats are accepted for forward compatibility.
    format_table("some-future-format", &[("anything", Valid)]);
}

/// Is `key` accepted as the record key of a record lexicon with key type `key_type`?
fn rkey_ok(key_type: &str, key: &str) -> bool {
    let doc = json!({"lexicon": 1, "id": "com.example.k", "defs": {"main": {
        "type": "record", "key": key_type, "record": {"type": "object"}
    }}})
    .to_string();
    let catalog = reprise_lexicons::Catalog::from_documents([("k.json", doc.as_str())])
        .unwrap_or_else(|e| panic!("{e}"));
    let record = json!({"$type": "com.example.k"});
    catalog.validate_record("com.example.k", key, &record).is_ok()
}

#[test]
fn record_keys_fit_their_key_type() {
    // The wrapper checks record keys without allocating; it must agree with shrike's parsers.
    let files = [
        "recordkey_syntax_valid.txt",
        "recordkey_syntax_invalid.txt",
        "tid_syntax_valid.txt",
        "tid_syntax_invalid.txt",
    ];
    for key in files.iter().flat_map(|f| vectors(f)) {
        let any = shrike::syntax::RecordKey::try_from(key.as_str()).is_ok();
        let tid = any && shrike::syntax::Tid::try_from(key.as_str()).is_ok();
        assert_eq!(rkey_ok("any", &key), any, "any {key:?}");
        assert_eq!(rkey_ok("tid", &key), tid, "tid {key:?}");
    }
    assert!(rkey_ok("nsid", "fm.plyr.track"));
    assert!(!rkey_ok("nsid", "3mtjtghiqeo22"));
    assert!(rkey_ok("literal:self", "self"));
    assert!(!rkey_ok("literal:self", "Self"));
    assert!(!rkey_ok("any", &"k".repeat(513)));
}
