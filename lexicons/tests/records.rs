//! The example records from `tests/data/examples/` against the built-in catalog: all valid, and
//! hostile variants rejected with the expected paths.

use reprise_lexicons::{Catalog, RecordError};
use serde_json::{Value, json};

const TID: &str = "3mtjtghiqeo22";

/// (example file, collection, record key)
const EXAMPLES: &[(&str, &str, &str)] = &[
    ("fm.plyr.actor.profile", "fm.plyr.actor.profile", "self"),
    ("fm.plyr.comment", "fm.plyr.comment", TID),
    ("fm.plyr.like", "fm.plyr.like", TID),
    ("fm.plyr.list.album", "fm.plyr.list", TID),
    ("fm.plyr.list", "fm.plyr.list", TID),
    ("fm.plyr.list.liked", "fm.plyr.list", TID),
    ("fm.plyr.track", "fm.plyr.track", TID),
    ("fm.plyr.track.lossless-interim", "fm.plyr.track", TID),
    ("fm.plyr.track.minimal-blob-only", "fm.plyr.track", TID),
    ("fm.plyr.track.supporter-gated", "fm.plyr.track", TID),
    ("fm.teal.actor.status", "fm.teal.actor.status", "self"),
    ("fm.teal.alpha.actor.status", "fm.teal.alpha.actor.status", "self"),
    ("fm.teal.alpha.feed.play", "fm.teal.alpha.feed.play", TID),
    ("fm.teal.feed.play", "fm.teal.feed.play", TID),
];

fn example(name: &str) -> Value {
    let path = format!("{}/tests/data/examples/{name}.example.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn errors(catalog: &Catalog, collection: &str, rkey: &str, record: &Value) -> Vec<String> {
    match catalog.validate_record(collection, rkey, record) {
        Ok(()) => vec![],
        Err(e) => e.errors().iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn every_example_is_valid() {
    let catalog = Catalog::builtin();
    let dir = format!("{}/tests/data/examples", env!("CARGO_MANIFEST_DIR"));
    let files = std::fs::read_dir(&dir).map(Iterator::count).unwrap_or(0);
    assert_eq!(files, EXAMPLES.len(), "every example file is listed");
    for &(name, collection, rkey) in EXAMPLES {
        let record = example(name);
        assert_eq!(errors(&catalog, collection, rkey, &record), Vec::<String>::new(), "{name}");
    }
}

/// Apply `edit` to an example and expect exactly `expected` (sorted `path: message` lines).
fn hostile(name: &str, collection: &str, rkey: &str, edit: impl FnOnce(&mut Value), expected: &[&str]) {
    let mut record = example(name);
    edit(&mut record);
    let found = errors(&Catalog::builtin(), collection, rkey, &record);
    assert_eq!(found, expected, "{name}: {record}");
}

/// Replace the value at a JSON pointer, or add it to the parent object.
fn set(record: &mut Value, pointer: &str, value: Value) {
    if let Some(slot) = record.pointer_mut(pointer) {
        *slot = value;
        return;
    }
    let (parent, key) = pointer.rsplit_once('/').unwrap_or_else(|| panic!("bad pointer {pointer}"));
    match record.pointer_mut(parent).and_then(Value::as_object_mut) {
        Some(map) => map.insert(key.to_owned(), value),
        None => panic!("no object at {parent:?}"),
    };
}

#[test]
fn hostile_tracks() {
    let track = |edit: fn(&mut Value), expected: &[&str]| {
        hostile("fm.plyr.track", "fm.plyr.track", TID, edit, expected)
    };
    track(|r| set(r, "/title", json!("")), &["$.title: too short: 0 is below the minimum of 1"]);
    track(
        |r| set(r, "/title", json!("x".repeat(1 << 20))),
        &["$.title: too long: 1048576 is above the maximum of 256"],
    );
    track(|r| set(r, "/duration", json!(-1)), &["$.duration: integer out of range"]);
    track(|r| set(r, "/duration", json!("214")), &["$.duration: expected integer, got string"]);
    track(|r| set(r, "/duration", json!(214.0)), &["$.duration: expected integer, got float 214.0"]);
    track(
        |r| set(r, "/createdAt", json!("2026-08-20T18:04:11")),
        &["$.createdAt: invalid datetime format: \"2026-08-20T18:04:11\""],
    );
    track(
        |r| set(r, "/audioUrl", json!("audio.plyr.fm/x.mp3")),
        &["$.audioUrl: invalid uri format: \"audio.plyr.fm/x.mp3\""],
    );
    track(
        |r| set(r, "/audioBlob/mimeType", json!("image/png")),
        &["$.audioBlob: blob mimeType \"image/png\" not accepted"],
    );
    track(
        |r| set(r, "/audioBlob/size", json!(104_857_601)),
        &["$.audioBlob: too long: 104857601 is above the maximum of 104857600"],
    );
    track(
        |r| set(r, "/audioBlob/ref", json!("bafkrei")),
        &["$.audioBlob: blob ref expected object, got string"],
    );
    track(
        |r| {
            set(
                r,
                "/features",
                json!([{"did": "did:plc:a"}, {"did": "did:plc:b"}, {"did": "plc:c", "handle": "no_underscores.example"}]),
            )
        },
        &[
            "$.features[2].did: invalid did format: \"plc:c\"",
            "$.features[2].handle: invalid handle format: \"no_underscores.example\"",
        ],
    );
    track(
        |r| set(r, "/features", json!(vec![json!({"did": "did:plc:a"}); 11])),
        &["$.features: too long: 11 is above the maximum of 10"],
    );
    track(
        |r| set(r, "/features/0", json!({"handle": "a.b"})),
        &["$.features[0].did: required field missing"],
    );
    track(|r| set(r, "/supportGate", json!({})), &["$.supportGate.type: required field missing"]);
    track(|r| set(r, "/labels", json!({"values": [{"val": "nudity"}]})), &["$.labels: union missing $type"]);
    track(
        |r| {
            set(
                r,
                "/labels",
                json!({"$type": "com.atproto.label.defs#selfLabels", "values": [{"val": "x".repeat(129)}, {}]}),
            )
        },
        &[
            "$.labels.values[0].val: too long: 129 is above the maximum of 128",
            "$.labels.values[1].val: required field missing",
        ],
    );
    track(
        |r| set(r, "/$type", json!("fm.plyr.like")),
        &["$.$type: expected \"fm.plyr.track\", got \"fm.plyr.like\""],
    );
    track(
        |r| {
            set(r, "/title", json!(null));
            set(r, "/artist", json!(7));
            r.as_object_mut().map(|m| m.remove("fileType"));
        },
        &[
            "$.artist: expected string, got number",
            "$.fileType: required field missing",
            "$.title: null is not allowed",
        ],
    );
    // Unknown extra fields are allowed, however deep.
    track(|r| set(r, "/extra", json!({"a": [1, {"b": null}], "$type": "x"})), &[]);
}

#[test]
fn hostile_record_shapes_and_keys() {
    let catalog = Catalog::builtin();
    let track = example("fm.plyr.track");
    assert_eq!(
        errors(&catalog, "fm.plyr.track", "self", &track),
        ["rkey: record key \"self\" does not fit key type tid"]
    );
    assert_eq!(
        errors(&catalog, "fm.plyr.track", "3mtjtghiqeo2", &track),
        ["rkey: record key \"3mtjtghiqeo2\" does not fit key type tid"]
    );
    let profile = example("fm.plyr.actor.profile");
    assert_eq!(
        errors(&catalog, "fm.plyr.actor.profile", TID, &profile),
        ["rkey: record key \"3mtjtghiqeo22\" does not fit key type literal:self"]
    );
    assert_eq!(errors(&catalog, "fm.plyr.track", TID, &json!([track])), ["$: expected object, got array"]);
    assert_eq!(
        catalog.validate_record("fm.plyr.stg.track", TID, &track),
        Err(RecordError::UnknownCollection("fm.plyr.stg.track".to_owned()))
    );
    for not_record in ["fm.teal.feed.defs", "fm.plyr.authFullApp", "com.atproto.repo.strongRef"] {
        assert_eq!(
            catalog.validate_record(not_record, TID, &track),
            Err(RecordError::NotARecord(not_record.to_owned()))
        );
    }
}

#[test]
fn hostile_social_records() {
    let tid = |name, collection| {
        move |edit: fn(&mut Value), expected: &[&str]| hostile(name, collection, TID, edit, expected)
    };
    let comment = tid("fm.plyr.comment", "fm.plyr.comment");
    comment(|r| set(r, "/text", json!("")), &["$.text: too short: 0 is below the minimum of 1"]);
    comment(
        |r| set(r, "/text", json!("é".repeat(501))),
        &["$.text: too long: 1002 is above the maximum of 1000"],
    );
    comment(|r| set(r, "/timestampMs", json!(-5)), &["$.timestampMs: integer out of range"]);
    let like = tid("fm.plyr.like", "fm.plyr.like");
    like(
        |r| set(r, "/subject/uri", json!("https://plyr.fm/track/1")),
        &["$.subject.uri: invalid at-uri format: \"https://plyr.fm/track/1\""],
    );
    like(|r| set(r, "/subject/cid", json!("nope")), &["$.subject.cid: invalid cid format: \"nope\""]);
    like(|r| set(r, "/subject", json!("at://x")), &["$.subject: expected object, got string"]);
    let list = tid("fm.plyr.list", "fm.plyr.list");
    list(|r| set(r, "/items/1", json!({})), &["$.items[1].subject: required field missing"]);
    list(
        |r| {
            let item = r.pointer("/items/0").cloned().unwrap_or_default();
            set(r, "/items", json!(vec![item; 501]));
        },
        &["$.items: too long: 501 is above the maximum of 500"],
    );
    list(|r| set(r, "/listType", json!("mixtape")), &[]); // knownValues are advisory
    list(|r| set(r, "/name", json!("日".repeat(65))), &["$.name: too long: 65 is above the maximum of 64"]);
    hostile(
        "fm.plyr.actor.profile",
        "fm.plyr.actor.profile",
        "self",
        |r| set(r, "/bio", json!("🎵".repeat(257))),
        &["$.bio: too long: 257 is above the maximum of 256"],
    );
}

#[test]
fn hostile_teal_records() {
    hostile(
        "fm.teal.feed.play",
        "fm.teal.feed.play",
        TID,
        |r| set(r, "/artists/0", json!({"artistName": ""})),
        &["$.artists[0].artistName: too short: 0 is below the minimum of 1"],
    );
    hostile(
        "fm.teal.feed.play",
        "fm.teal.feed.play",
        TID,
        |r| set(r, "/musicServiceUri", json!("plyr.fm")),
        &["$.musicServiceUri: invalid uri format: \"plyr.fm\""],
    );
    hostile(
        "fm.teal.actor.status",
        "fm.teal.actor.status",
        "self",
        |r| set(r, "/item", json!({"trackName": "x"})),
        &["$.item.artists: required field missing"],
    );
    hostile(
        "fm.teal.actor.status",
        "fm.teal.actor.status",
        "self",
        |r| set(r, "/expiry", json!("2026-08-21T11:40:15.482913-00:00")),
        &["$.expiry: invalid datetime format: \"2026-08-21T11:40:15.482913-00:00\""],
    );
    // Alpha fields have no uri format, so alpha values that are bare domains are valid there.
    hostile(
        "fm.teal.alpha.feed.play",
        "fm.teal.alpha.feed.play",
        TID,
        |r| set(r, "/musicServiceBaseDomain", json!("local")),
        &[],
    );
}
