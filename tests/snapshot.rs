//! `reprise snapshot` and `reprise log export|import` through the real binary: snapshots taken while
//! `run` ingests are consistent, restore + tail equals a rebuild, a replica bootstraps from S3
//! (s3s-fs), and damaged archives are refused without changing anything.

mod support;

#[path = "../store/tests/support/s3s.rs"]
mod s3s;

use std::path::{Path, PathBuf};
use std::process::Command;

use reprise_testkit::dump_views;
use serde_json::Value;
use support::{Running, log_rows, message, ok_json};

/// `reprise` with the archive store in `store` (local backend) or on an s3s-fs server.
enum Store<'a> {
    Local(&'a Path),
    S3(&'a s3s::S3sFs),
}

fn reprise(data: &Path, store: &Store<'_>) -> Command {
    let mut cmd = support::reprise(data);
    match store {
        Store::Local(dir) => {
            cmd.env("REPRISE_SNAPSHOTS__LOCAL_DIR", dir);
        }
        Store::S3(server) => {
            let c = server.config();
            cmd.env("REPRISE_STORAGE__BACKEND", "s3")
                .env("REPRISE_STORAGE__S3__ENDPOINT", c.endpoint.unwrap())
                .env("REPRISE_STORAGE__S3__BUCKET", c.bucket)
                .env("REPRISE_STORAGE__S3__ACCESS_KEY_ID", c.access_key_id)
                .env("REPRISE_STORAGE__S3__SECRET_ACCESS_KEY", c.secret_access_key)
                .env("REPRISE_STORAGE__S3__PATH_STYLE", "true");
        }
    }
    cmd
}

fn run_json(data: &Path, store: &Store<'_>, args: &[&str]) -> Value {
    ok_json(reprise(data, store).args(args))
}

/// Runs a command that must fail; returns its stderr.
fn fails(data: &Path, store: &Store<'_>, args: &[&str]) -> String {
    let out = reprise(data, store).args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{args:?} should fail: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn views(data: &Path) -> PathBuf {
    data.join("views.db")
}

/// The read models a rebuild of `data`'s log gives, up to `until`.
fn rebuilt(data: &Path, until: Option<i64>) -> String {
    let out = tempfile::tempdir().unwrap();
    let mut cmd = support::reprise(data);
    cmd.arg("rebuild").arg("--out").arg(out.path());
    if let Some(seq) = until {
        cmd.args(["--until", &seq.to_string()]);
    }
    ok_json(&mut cmd);
    dump_views(&views(out.path()))
}

fn split_fixture(dir: &Path, events: u64) -> (PathBuf, PathBuf) {
    let all = std::fs::read_to_string(support::generated_fixture(dir, events, 11)).unwrap();
    let lines: Vec<&str> = all.lines().collect();
    let (a, b) = lines.split_at(lines.len() / 2);
    let (pa, pb) = (dir.join("part-1.jsonl"), dir.join("part-2.jsonl"));
    std::fs::write(&pa, a.join("\n") + "\n").unwrap();
    std::fs::write(&pb, b.join("\n") + "\n").unwrap();
    (pa, pb)
}

#[test]
fn snapshots_taken_while_run_ingests_are_consistent_states() {
    let dir = tempfile::tempdir().unwrap();
    let (data, store_dir) = (dir.path().join("data"), dir.path().join("store"));
    let store = Store::Local(&store_dir);
    let fixture = support::generated_fixture(dir.path(), 30_000, 5);
    let mut run = Running::spawn(
        reprise(&data, &store).args(["--listen", "127.0.0.1:0", "run", "--fixture"]).arg(&fixture),
    );
    run.wait_listening();
    // Snapshot from another process as fast as possible while the node ingests and projects.
    let mut taken: Vec<(String, i64)> = Vec::new();
    while taken.len() < 40 {
        let s = run_json(&data, &store, &["snapshot", "create"]);
        let seq = s["snapshot"]["checkpoint_seq"].as_i64().unwrap();
        taken.push((s["snapshot"]["id"].as_str().unwrap().to_owned(), seq));
        if seq > 0 && taken.iter().filter(|(_, s)| *s > 0).count() >= 3 {
            break;
        }
    }
    let ingested = run.wait_for("fixture ingested", |v| message(v).starts_with("fixture ingested"));
    let head = 30_000 - ingested["fields"]["duplicates"].as_i64().unwrap();
    run.wait_for("caught up", |v| message(v) == "projector caught up" && v["fields"]["checkpoint"] == head);
    run.signal("TERM");
    assert_eq!(run.child.wait().unwrap().code(), Some(0));

    let mid: Vec<_> = taken.iter().filter(|(_, seq)| *seq > 0 && *seq < head).collect();
    assert!(!mid.is_empty(), "no snapshot was taken mid-ingest (head {head}): {taken:?}");
    // Each one is exactly the read models as of its checkpoint: restore it into a copy of the node
    // and compare with a rebuild up to that seq.
    for (id, seq) in mid {
        let copy = dir.path().join(format!("copy-{seq}"));
        std::fs::create_dir_all(&copy).unwrap();
        std::fs::copy(data.join("events.db"), copy.join("events.db")).unwrap();
        let r = run_json(&copy, &store, &["snapshot", "restore", id]);
        assert_eq!(r["restored"]["checkpoint_seq"], *seq);
        assert_eq!(dump_views(&views(&copy)), rebuilt(&data, Some(*seq)), "snapshot {id} at seq {seq}");
    }
}

#[test]
fn restore_then_project_equals_a_full_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let (data, store_dir) = (dir.path().join("data"), dir.path().join("store"));
    let store = Store::Local(&store_dir);
    let (a, b) = split_fixture(dir.path(), 3_000);
    ok_json(support::reprise(&data).arg("ingest").arg("--fixture").arg(&a));
    let half = ok_json(support::reprise(&data).arg("project"))["checkpoint"].as_i64().unwrap();
    let snap = run_json(&data, &store, &["snapshot", "create"]);
    assert_eq!(snap["snapshot"]["checkpoint_seq"], half);
    let head =
        ok_json(support::reprise(&data).arg("ingest").arg("--fixture").arg(&b))["head"].as_i64().unwrap();
    ok_json(support::reprise(&data).arg("project"));

    let listed = run_json(&data, &store, &["snapshot", "list"]);
    assert_eq!(listed["snapshots"][0]["id"], snap["snapshot"]["id"]);
    let restored = run_json(&data, &store, &["snapshot", "restore"]);
    assert_eq!(restored["restored"]["id"], snap["snapshot"]["id"]);
    let tail = ok_json(support::reprise(&data).arg("project"));
    assert_eq!((tail["events"].as_i64().unwrap(), tail["checkpoint"].as_i64().unwrap()), (head - half, head));
    assert_eq!(dump_views(&views(&data)), rebuilt(&data, None));
}

#[test]
fn a_replica_bootstraps_from_s3_segments_and_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let server = s3s::S3sFs::start();
    let store = Store::S3(&server);
    let (origin, replica) = (dir.path().join("origin"), dir.path().join("replica"));
    let (a, b) = split_fixture(dir.path(), 2_000);
    ok_json(support::reprise(&origin).arg("ingest").arg("--fixture").arg(&a));
    let first = run_json(&origin, &store, &["log", "export", "--segment-events", "300"]);
    let sealed = first["uploaded"].as_array().unwrap().len() as i64;
    assert_eq!(sealed, first["head"].as_i64().unwrap() / 300);
    ok_json(support::reprise(&origin).arg("ingest").arg("--fixture").arg(&b));
    ok_json(support::reprise(&origin).arg("project"));
    run_json(&origin, &store, &["snapshot", "create"]);
    let head = head_of(&origin);
    let rest =
        run_json(&origin, &store, &["log", "export", "--segment-events", "300", "--to", &head.to_string()]);
    assert_eq!(rest["kept"], sealed);
    assert_eq!(rest["next_seq"], head + 1);

    let imported = run_json(&replica, &store, &["log", "import"]);
    assert_eq!(imported["head"], head);
    run_json(&replica, &store, &["snapshot", "restore", "latest"]);
    let tail = ok_json(support::reprise(&replica).arg("project"));
    assert_eq!(tail["events"], 0);
    assert_eq!(log_rows(&replica), log_rows(&origin));
    assert_eq!(dump_views(&views(&replica)), dump_views(&views(&origin)));
    // It then follows ingest like any node: what it already holds is recognised.
    let again = ok_json(support::reprise(&replica).arg("ingest").arg("--fixture").arg(&b));
    assert_eq!((again["appended"].as_i64(), again["head"].as_i64()), (Some(0), Some(head)));

    let err = fails(&replica, &store, &["log", "import"]);
    assert!(err.contains("not empty"), "{err}");
    assert_eq!(log_rows(&replica), log_rows(&origin));
}

fn head_of(data: &Path) -> i64 {
    ok_json(support::reprise(data).arg("status"))["head"].as_i64().unwrap()
}

#[test]
fn damaged_snapshots_and_segments_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (data, store_dir) = (dir.path().join("data"), dir.path().join("store"));
    let store = Store::Local(&store_dir);
    let (a, b) = split_fixture(dir.path(), 1_000);
    ok_json(support::reprise(&data).arg("ingest").arg("--fixture").arg(&a));
    ok_json(support::reprise(&data).arg("project"));
    let id = run_json(&data, &store, &["snapshot", "create"])["snapshot"]["id"].as_str().unwrap().to_owned();
    ok_json(support::reprise(&data).arg("ingest").arg("--fixture").arg(&b));
    ok_json(support::reprise(&data).arg("project"));
    let before = std::fs::read(views(&data)).unwrap();
    let object = store_dir.join("snapshots").join(&id).join("views.db.zst");
    let good = std::fs::read(&object).unwrap();

    std::fs::write(&object, &good[..good.len() - 1]).unwrap();
    assert!(fails(&data, &store, &["snapshot", "restore", &id]).contains("truncated"));
    let mut flipped = good.clone();
    flipped[good.len() / 3] ^= 0x10;
    std::fs::write(&object, &flipped).unwrap();
    assert!(fails(&data, &store, &["snapshot", "restore", &id]).contains("corrupt"));
    std::fs::write(&object, &good).unwrap();
    let manifest = store_dir.join("snapshots").join(&id).join("manifest.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let mut m: Value = serde_json::from_str(&text).unwrap();
    m["schema_version"] = 1.into();
    std::fs::write(&manifest, m.to_string()).unwrap();
    let err = fails(&data, &store, &["snapshot", "restore", &id]);
    assert!(err.contains("schema version 1") && err.contains("reprise rebuild"), "{err}");
    assert!(std::fs::read(views(&data)).unwrap() == before, "views.db changed");
    std::fs::write(&manifest, text).unwrap();

    let head = head_of(&data);
    run_json(&data, &store, &["log", "export", "--segment-events", "200", "--to", &head.to_string()]);
    let segment = store_dir.join("log/segments/201-400.db.zst");
    let good = std::fs::read(&segment).unwrap();
    let replica = dir.path().join("replica");
    let mut flipped = good.clone();
    flipped[good.len() / 2] ^= 0x01;
    std::fs::write(&segment, &flipped).unwrap();
    assert!(fails(&replica, &store, &["log", "import"]).contains("corrupt"));
    std::fs::write(&segment, &good[..100]).unwrap();
    assert!(fails(&replica, &store, &["log", "import"]).contains("truncated"));
    assert!(!replica.join("events.db").exists(), "a refused import left a log behind");
    std::fs::write(&segment, &good).unwrap();
    assert_eq!(run_json(&replica, &store, &["log", "import"])["head"], head);
}

#[test]
fn run_takes_scheduled_snapshots_and_keeps_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let (data, store_dir) = (dir.path().join("data"), dir.path().join("store"));
    let store = Store::Local(&store_dir);
    let mut run = Running::spawn(
        reprise(&data, &store)
            .env("REPRISE_SNAPSHOTS__INTERVAL_SECONDS", "1")
            .env("REPRISE_SNAPSHOTS__RETENTION", "2")
            .args(["--listen", "127.0.0.1:0", "run", "--fixture", "fixtures/plyr-sample.jsonl"]),
    );
    run.wait_for("scheduled", |v| message(v) == "snapshots scheduled");
    let mut ids = Vec::new();
    for _ in 0..3 {
        let v = run.wait_for("snapshot created", |v| message(v) == "snapshot created");
        ids.push(v["fields"]["id"].as_str().unwrap().to_owned());
    }
    run.wait_for("retention", |v| message(v) == "old snapshots deleted");
    run.signal("TERM");
    assert_eq!(run.child.wait().unwrap().code(), Some(0));
    let listed: Vec<String> = run_json(&data, &store, &["snapshot", "list"])["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(!listed.contains(&ids[0]), "the oldest was kept: {listed:?} of {ids:?}");
}
