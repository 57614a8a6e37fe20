//! Loading lexicons: the built-in set, directories (atproto and flat layouts), malformed files
//! named in clear errors, `check_dir`, and the `validate_file` outcomes the CLI maps to exit codes.

use std::path::{Path, PathBuf};

use reprise_lexicons::{Catalog, FileOutcome, KeyType, LexiconError, check_dir, validate_file};

const BUILTIN: &[&str] = &[
    "com.atproto.label.defs",
    "com.atproto.repo.strongRef",
    "fm.plyr.actor.profile",
    "fm.plyr.authFullApp",
    "fm.plyr.comment",
    "fm.plyr.like",
    "fm.plyr.list",
    "fm.plyr.privateMedia",
    "fm.plyr.privateMediaAccess",
    "fm.plyr.track",
    "fm.reprise.defs",
    "fm.reprise.getActivity",
    "fm.reprise.getActorHistory",
    "fm.reprise.getActorLikes",
    "fm.reprise.getArtist",
    "fm.reprise.getComments",
    "fm.reprise.getLikes",
    "fm.reprise.getList",
    "fm.reprise.getLists",
    "fm.reprise.getNowPlaying",
    "fm.reprise.getPlays",
    "fm.reprise.getRecordHistory",
    "fm.reprise.getStats",
    "fm.reprise.getTrack",
    "fm.reprise.getTracks",
    "fm.reprise.searchTracks",
    "fm.teal.actor.status",
    "fm.teal.alpha.actor.status",
    "fm.teal.alpha.feed.defs",
    "fm.teal.alpha.feed.play",
    "fm.teal.feed.defs",
    "fm.teal.feed.play",
];

fn manifest(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// A scratch directory for one test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("reprise-lexicons-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        Scratch(dir)
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.0.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
        }
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn builtin_holds_every_schema_file() {
    let catalog = Catalog::builtin();
    assert_eq!(catalog.nsids(), BUILTIN);
    // The embedded list and the files on disk agree.
    let report = check_dir(manifest("schemas")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.nsids, BUILTIN);
    assert_eq!(report.warnings, [], "the built-in set is laid out by id and closed");
    assert_eq!(catalog.warnings(), []);
    assert!(catalog.has("fm.teal.feed.defs"));
    assert!(!catalog.has("fm.plyr.stg.track"));
    assert_eq!(catalog.record_key_type("fm.plyr.track"), Some(&KeyType::Tid));
    assert_eq!(catalog.record_key_type("fm.teal.actor.status"), Some(&KeyType::Literal("self".to_owned())));
    assert_eq!(catalog.record_key_type("fm.teal.feed.defs"), None);
}

#[test]
fn load_dir_reads_flat_and_nested_layouts() {
    let scratch = Scratch::new("layouts");
    let strong_ref = include_str!("../schemas/com/atproto/repo/strongRef.json");
    scratch.write("com.atproto.repo.strongRef.json", strong_ref);
    scratch.write("fm/plyr/like.json", include_str!("../schemas/fm/plyr/like.json"));
    scratch.write("notes.txt", "not a lexicon");
    let catalog = Catalog::load_dir(&scratch.0).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(catalog.nsids(), ["com.atproto.repo.strongRef", "fm.plyr.like"]);
}

/// Load a directory holding `files` and return the error text.
fn load_error(name: &str, files: &[(&str, &str)]) -> String {
    let scratch = Scratch::new(name);
    for (rel, text) in files {
        scratch.write(rel, text);
    }
    match Catalog::load_dir(&scratch.0) {
        Ok(c) => panic!("{name}: expected an error, loaded {c:?}"),
        Err(e) => e.to_string(),
    }
}

const MINIMAL: &str = r#"{"lexicon": 1, "id": "com.example.a", "defs": {"main": {"type": "token"}}}"#;

/// (scratch directory name, files to write, text the load error must contain)
type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);

#[test]
fn malformed_schemas_are_errors_naming_the_file() {
    let cases: &[Case] = &[
        ("notjson", &[("com/example/a.json", "{nope")], "com/example/a.json: not valid json:"),
        (
            "array",
            &[("com/example/a.json", "[]")],
            "com/example/a.json: invalid lexicon: document is not an object",
        ),
        (
            "version",
            &[("com/example/a.json", r#"{"lexicon": 2, "id": "com.example.a", "defs": {}}"#)],
            "invalid lexicon: \"lexicon\" must be 1",
        ),
        (
            "nodefs",
            &[("com/example/a.json", r#"{"lexicon": 1, "id": "com.example.a"}"#)],
            "missing object \"defs\"",
        ),
        (
            "dup",
            &[("com/example/a.json", MINIMAL), ("com.example.a.json", MINIMAL)],
            "duplicate lexicon id com.example.a",
        ),
        (
            "fieldtype",
            &[(
                "com/example/a.json",
                r#"{"lexicon": 1, "id": "com.example.a", "defs": {"o": {"type": "object", "properties": {"x": {"type": "float"}}}}}"#,
            )],
            "com/example/a.json: invalid lexicon:",
        ),
        (
            "required",
            &[(
                "com/example/a.json",
                r#"{"lexicon": 1, "id": "com.example.a", "defs": {"o": {"type": "object", "required": ["x"], "properties": {}}}}"#,
            )],
            "Required field \"x\" not defined",
        ),
        (
            "record-not-main",
            &[(
                "com/example/a.json",
                r#"{"lexicon": 1, "id": "com.example.a", "defs": {"r": {"type": "record", "key": "tid", "record": {"type": "object"}}}}"#,
            )],
            "a record must be the main def, not \"r\"",
        ),
        (
            "nullarray",
            &[(
                "com/example/a.json",
                r#"{"lexicon": 1, "id": "com.example.a", "defs": {"a": {"type": "array", "items": {"type": "null"}}}}"#,
            )],
            "arrays of type null are not supported",
        ),
        (
            "namedref",
            &[(
                "com/example/a.json",
                r##"{"lexicon": 1, "id": "com.example.a", "defs": {"u": {"type": "union", "refs": ["#o"]}, "o": {"type": "object"}}}"##,
            )],
            "com/example/a.json: invalid lexicon: def \"u\" cannot be of type union",
        ),
        (
            "recordschema",
            &[(
                "com/example/a.json",
                r#"{"lexicon": 1, "id": "com.example.a", "defs": {"main": {"type": "record", "key": "tid", "record": {"type": "string"}}}}"#,
            )],
            "a record's \"record\" must be of type object",
        ),
    ];
    for (name, files, expected) in cases {
        let error = load_error(name, files);
        assert!(error.contains(expected), "{name}: {error:?} should contain {expected:?}");
    }
}

#[test]
fn any_layout_loads_and_loose_ends_are_warnings() {
    let scratch = Scratch::new("loose");
    scratch.write("com/example/b.json", MINIMAL);
    let union = r#"{"lexicon": 1, "id": "com.example.u", "defs": {"main": {"type": "record", "key": "tid", "record": {"type": "object", "properties": {"x": {"type": "union", "refs": ["com.example.gone#x"]}}}}}}"#;
    scratch.write("anywhere/u.json", union);
    let report = check_dir(&scratch.0).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.nsids, ["com.example.a", "com.example.u"]);
    let warnings: Vec<String> = report.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            "anywhere/u.json: id com.example.u does not match the file path",
            "com/example/b.json: id com.example.a does not match the file path",
            "anywhere/u.json: unresolved reference com.example.gone#x",
        ]
    );
    // The open union's unresolved member fails only a record that names it.
    let catalog = Catalog::load_dir(&scratch.0).unwrap_or_else(|e| panic!("{e}"));
    let fine = serde_json::json!({"$type": "com.example.u", "x": {"$type": "com.example.other"}});
    assert_eq!(catalog.validate_record("com.example.u", "3mtjtghiqeo22", &fine), Ok(()));
    let reaching = serde_json::json!({"$type": "com.example.u", "x": {"$type": "com.example.gone#x"}});
    let err = catalog.validate_record("com.example.u", "3mtjtghiqeo22", &reaching).unwrap_err();
    assert_eq!(err.to_string(), "invalid record: $.x: unresolved reference com.example.gone");
}

#[test]
fn missing_and_empty_directories() {
    let missing = Catalog::load_dir("/nonexistent/reprise-lexicons").map(|_| ());
    assert!(matches!(missing, Err(LexiconError::Io { .. })), "{missing:?}");
    let scratch = Scratch::new("empty");
    let empty = check_dir(&scratch.0);
    assert!(matches!(empty, Err(LexiconError::Empty(_))), "{empty:?}");
}

#[test]
fn validate_file_outcomes_and_exit_codes() {
    let catalog = Catalog::builtin();
    let scratch = Scratch::new("files");
    let good = manifest("tests/data/examples/fm.plyr.track.example.json");
    let bad = scratch.write("bad.json", r#"{"$type": "fm.plyr.like", "createdAt": "yesterday"}"#);
    let garbage = scratch.write("garbage.json", "{");

    let valid = validate_file(&catalog, "fm.plyr.track", &good, None);
    assert!(matches!(valid, FileOutcome::Valid) && valid.exit_code() == 0, "{valid:?}");
    let keyed = validate_file(&catalog, "fm.plyr.track", &good, Some("self"));
    assert_eq!(keyed.exit_code(), 1, "{keyed:?}");

    let invalid = validate_file(&catalog, "fm.plyr.like", &bad, None);
    let FileOutcome::Invalid(errors) = &invalid else { panic!("{invalid:?}") };
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        ["$.createdAt: invalid datetime format: \"yesterday\"", "$.subject: required field missing"]
    );
    assert_eq!(invalid.exit_code(), 1);

    for (nsid, path, expected) in [
        ("fm.plyr.track", scratch.0.join("absent.json"), "could not read"),
        ("fm.plyr.track", garbage, "not valid json"),
        ("fm.plyr.stg.track", good.clone(), "no lexicon for collection fm.plyr.stg.track"),
        ("fm.teal.feed.defs", good, "does not define a record"),
    ] {
        let outcome = validate_file(&catalog, nsid, &path, None);
        let FileOutcome::CouldNotRun(message) = &outcome else { panic!("{outcome:?}") };
        assert!(message.contains(expected), "{message:?} should contain {expected:?}");
        assert_eq!(outcome.exit_code(), 2);
    }
}

#[test]
fn catalog_can_be_shared_across_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Catalog>();
}
