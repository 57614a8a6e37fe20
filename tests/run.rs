//! `reprise run --fixture` ingests, projects and serves in one process, and stops cleanly on signals.

mod support;

use support::{Running, get, message, reprise};

#[test]
fn run_with_a_fixture_serves_it_and_exits_0_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = support::generated_fixture(dir.path(), 2_000, 9);
    let mut run = Running::spawn(
        reprise(&dir.path().join("data")).args(["--listen", "127.0.0.1:0", "run", "--fixture"]).arg(&fixture),
    );
    let addr = run.wait_listening();
    let ingested = run.wait_for("fixture ingested", |v| message(v).starts_with("fixture ingested"));
    assert_eq!(ingested["fields"]["lines"], 2000);
    let head = 2000 - ingested["fields"]["duplicates"].as_i64().unwrap();
    run.wait_for("caught up", |v| message(v) == "projector caught up" && v["fields"]["checkpoint"] == head);

    let (status, body) = get(&addr, "/xrpc/fm.reprise.getTracks?limit=3");
    assert_eq!(status, 200);
    assert_eq!(body["tracks"].as_array().unwrap().len(), 3);
    assert!(body["cursor"].is_string());
    assert_eq!(get(&addr, "/health").0, 200);

    run.signal("TERM");
    let status = run.child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn sigint_also_stops_cleanly_and_serve_needs_read_models() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = reprise(&data).arg("serve").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("reprise project"));

    let mut run = Running::spawn(reprise(&data).args([
        "--listen",
        "127.0.0.1:0",
        "run",
        "--fixture",
        "fixtures/jetstream-examples.jsonl",
    ]));
    run.wait_listening();
    run.wait_for("fixture ingested", |v| message(v).starts_with("fixture ingested"));
    run.signal("INT");
    assert_eq!(run.child.wait().unwrap().code(), Some(0));

    let mut serve = Running::spawn(reprise(&data).args(["--listen", "127.0.0.1:0", "serve"]));
    let addr = serve.wait_listening();
    assert_eq!(get(&addr, "/xrpc/fm.reprise.getTracks").1["tracks"], serde_json::json!([]));
    serve.signal("TERM");
    assert_eq!(serve.child.wait().unwrap().code(), Some(0));
}

#[test]
fn invalid_configuration_fails_at_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = reprise(dir.path()).env("REPRISE_API__LISTEN", "not-an-address").arg("serve").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("api"), "{}", String::from_utf8_lossy(&out.stderr));
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "[projector]\nbatch_size = \"many\"\n").unwrap();
    let out = reprise(dir.path()).arg("--config").arg(&cfg).arg("project").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("projector.batch_size"));
}
