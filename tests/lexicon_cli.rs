//! `reprise lexicon validate` and `reprise lexicon check`: output and exit codes.

use std::process::Command;

fn reprise(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_reprise")).args(args).output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn validate_prints_every_error_as_path_message_and_exits_by_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let good = "lexicons/tests/data/examples/fm.plyr.track.example.json";
    let (code, out, _) = reprise(&["lexicon", "validate", "--nsid", "fm.plyr.track", good]);
    assert_eq!(code, 0, "{out}");

    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"$type": "fm.plyr.track", "title": "", "fileType": "mp3", "createdAt": "yesterday"}"#,
    )
    .unwrap();
    let (code, out, _) = reprise(&["lexicon", "validate", "--nsid", "fm.plyr.track", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines.iter().any(|l| l.starts_with("$.artist: ")), "{out}");
    assert!(lines.iter().any(|l| l.starts_with("$.createdAt: ")), "{out}");
    assert!(lines.iter().any(|l| l.starts_with("$.title: ")), "{out}");

    let (code, out, _) = reprise(&["lexicon", "validate", "--nsid", "fm.plyr.track", "--rkey", "self", good]);
    assert_eq!(code, 1, "a tid-keyed record under the key `self`: {out}");

    for (args, why) in [
        (vec!["--nsid", "fm.plyr.nothing", good], "unknown NSID"),
        (vec!["--nsid", "fm.plyr.track", "/nonexistent.json"], "unreadable file"),
        (vec!["--nsid", "fm.plyr.track", "Cargo.toml"], "not JSON"),
        (vec!["--lexicons", "/nonexistent-dir", "--nsid", "fm.plyr.track", good], "missing lexicon dir"),
    ] {
        let mut full = vec!["lexicon", "validate"];
        full.extend(args);
        let (code, _, err) = reprise(&full);
        assert_eq!(code, 2, "{why}: {err}");
        assert!(!err.is_empty(), "{why}");
    }
}

#[test]
fn check_accepts_the_built_in_schemas_and_refuses_a_malformed_one() {
    let (code, out, err) = reprise(&["lexicon", "check", "lexicons/schemas"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.lines().any(|l| l == "fm.plyr.track"), "{out}");

    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("fm/plyr");
    std::fs::create_dir_all(&nested).unwrap();
    std::fs::write(nested.join("broken.json"), r#"{"lexicon": 1, "id": "fm.plyr.broken", "defs": {"main": {"type": "record", "key": "tid", "record": {"type": "object", "properties": {"x": {"type": "stringg"}}}}}}"#).unwrap();
    let (code, _, err) = reprise(&["lexicon", "check", dir.path().to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("broken.json"), "names the file: {err}");
    std::fs::write(nested.join("broken.json"), "{ not json").unwrap();
    let (code, _, err) = reprise(&["lexicon", "check", dir.path().to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    let (code, _, _) = reprise(&["lexicon", "check", "/nonexistent-dir"]);
    assert_eq!(code, 2);
}

#[test]
fn the_interop_vectors_catalog_works_as_laid_out_and_check_warns_about_its_loose_ends() {
    let catalog = "lexicons/tests/data/interop/lexicon/catalog";
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("record.json");
    std::fs::write(&record, r#"{"$type": "example.lexicon.record", "integer": 1}"#).unwrap();
    let file = record.to_str().unwrap();
    let args = ["lexicon", "validate", "--lexicons", catalog, "--nsid", "example.lexicon.record"];
    let (code, out, err) = reprise(&[&args[..], &["--rkey", "demo", file]].concat());
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains("reprise: warning: record.json: id example.lexicon.record does not match the file path")
    );

    let (code, out, err) = reprise(&["lexicon", "check", catalog]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 8, "{out}");
    assert!(out.lines().any(|l| l == "example.lexicon.procedure"), "{out}");
    assert!(
        err.lines()
            .any(|l| l
                == "reprise: warning: procedure.json: unresolved reference app.bsky.actor.defs#preferences"),
        "{err}"
    );
}
