//! The atproto interop lexicon vectors (`tests/data/interop/lexicon/`, see its README): the vectors'
//! own catalog loads as it is laid out (a flat folder, one document with a reference nothing in it
//! resolves), every valid record passes and every invalid one fails (record key included), and every
//! valid lexicon document loads while every invalid one is refused.

use std::path::PathBuf;

use reprise_lexicons::{Catalog, LexiconWarning};
use serde_json::Value;

fn path(rel: &str) -> PathBuf {
    PathBuf::from(format!("{}/tests/data/interop/lexicon/{rel}", env!("CARGO_MANIFEST_DIR")))
}

fn cases(file: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(path(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn name(case: &Value) -> &str {
    case["name"].as_str().unwrap_or_default()
}

/// Runs `passes` over every case of `file` and fails naming each case that did not, except the
/// `disagreements` (GAPS.md), which must still disagree; returns the number of cases. The counts are
/// printed, so a run shows the conformance per file.
fn conform(file: &str, disagreements: &[&str], passes: impl Fn(&Value) -> bool) -> usize {
    let all = cases(file);
    let failed: Vec<&str> = all.iter().filter(|c| !passes(c)).map(name).collect();
    eprintln!("interop {file}: {}/{} pass", all.len() - failed.len(), all.len());
    assert_eq!(failed, disagreements, "{file}");
    all.len()
}

fn catalog() -> Catalog {
    Catalog::load_dir(path("catalog")).unwrap_or_else(|e| panic!("{e}"))
}

fn record_passes(catalog: &Catalog, case: &Value) -> bool {
    let rkey = case["rkey"].as_str().unwrap_or_default();
    catalog.validate_record("example.lexicon.record", rkey, &case["data"]).is_ok()
}

#[test]
fn the_vectors_catalog_loads_as_laid_out_with_warnings() {
    let catalog = catalog();
    assert_eq!(
        catalog.nsids(),
        [
            "com.atproto.label.defs",
            "example.lexicon.minimal.procedure",
            "example.lexicon.minimal.query",
            "example.lexicon.permissionset",
            "example.lexicon.procedure",
            "example.lexicon.query",
            "example.lexicon.record",
            "example.lexicon.subscription",
        ]
    );
    let warnings = catalog.warnings();
    let unresolved = LexiconWarning::UnresolvedRef {
        file: "procedure.json".to_owned(),
        reference: "app.bsky.actor.defs#preferences".to_owned(),
    };
    assert!(warnings.contains(&unresolved), "{warnings:?}");
    let mismatch = LexiconWarning::PathMismatch {
        file: "record.json".to_owned(),
        nsid: "example.lexicon.record".to_owned(),
    };
    assert!(warnings.contains(&mismatch), "{warnings:?}");
    assert_eq!(warnings.len(), 9, "one per file whose name is not its id, and the reference: {warnings:?}");
}

#[test]
fn valid_records() {
    let catalog = catalog();
    assert!(conform("record-data-valid.json", &[], |c| record_passes(&catalog, c)) >= 3);
}

#[test]
fn invalid_records() {
    let catalog = catalog();
    assert!(conform("record-data-invalid.json", &[], |c| !record_passes(&catalog, c)) >= 40);
}

fn document_loads(case: &Value) -> bool {
    let text = case["lexicon"].to_string();
    Catalog::from_documents([(name(case), text.as_str())]).is_ok()
}

#[test]
fn valid_lexicon_documents() {
    // "minimal" declares the id `example.lexicon`: two segments are not an NSID (the same corpus's
    // nsid_syntax_invalid.txt lists `com.example`), and a lexicon's id must be one (GAPS.md 11).
    assert!(conform("lexicon-valid.json", &["minimal"], document_loads) >= 2);
}

#[test]
fn invalid_lexicon_documents() {
    assert!(conform("lexicon-invalid.json", &[], |c| !document_loads(c)) >= 7);
}
