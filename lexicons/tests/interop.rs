//! The atproto lexicon interop record vectors (`tests/data/interop/`, from the atproto
//! interop-test-files as shipped with shrike): every valid record passes and every invalid one
//! fails through the wrapper, record key included.

use reprise_lexicons::Catalog;
use serde_json::Value;

fn data(file: &str) -> String {
    let path = format!("{}/tests/data/interop/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn catalog() -> Catalog {
    let names = ["com_atproto_label_defs.json", "record.json"];
    let docs: Vec<(&str, String)> = names.iter().map(|n| (*n, data(n))).collect();
    Catalog::from_documents(docs.iter().map(|(n, t)| (*n, t.as_str()))).unwrap_or_else(|e| panic!("{e}"))
}

fn cases(file: &str) -> Vec<(String, String, Value)> {
    let all: Vec<Value> = serde_json::from_str(&data(file)).unwrap_or_else(|e| panic!("{e}"));
    all.into_iter()
        .map(|c| {
            let name = c["name"].as_str().unwrap_or_default().to_owned();
            let rkey = c["rkey"].as_str().unwrap_or_default().to_owned();
            (name, rkey, c["data"].clone())
        })
        .collect()
}

#[test]
fn interop_valid_records() {
    let catalog = catalog();
    let cases = cases("record-data-valid.json");
    assert!(!cases.is_empty());
    for (name, rkey, record) in cases {
        let result = catalog.validate_record("example.lexicon.record", &rkey, &record);
        assert_eq!(result, Ok(()), "{name}");
    }
}

#[test]
fn interop_invalid_records() {
    let catalog = catalog();
    let cases = cases("record-data-invalid.json");
    assert!(cases.len() >= 40);
    for (name, rkey, record) in cases {
        let result = catalog.validate_record("example.lexicon.record", &rkey, &record);
        assert!(result.is_err(), "{name}: {record}");
    }
}

#[test]
fn interop_catalog_of_every_lexicon_kind_loads() {
    let names = [
        "com_atproto_label_defs.json",
        "minimal-procedure.json",
        "minimal-query.json",
        "permission-set.json",
        "query.json",
        "record.json",
        "subscription.json",
    ];
    let docs: Vec<(&str, String)> = names.iter().map(|n| (*n, data(n))).collect();
    let catalog = Catalog::from_documents(docs.iter().map(|(n, t)| (*n, t.as_str())));
    let catalog = catalog.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(catalog.nsids().len(), names.len());
    // procedure.json points into app.bsky, which this set lacks: a catalog must be closed.
    let procedure = data("procedure.json");
    let err = Catalog::from_documents([("procedure.json", procedure.as_str())]).map(|_| ());
    let message = err.map_err(|e| e.to_string()).err().unwrap_or_default();
    assert_eq!(message, "procedure.json: unresolved reference app.bsky.actor.defs#preferences");
}
