//! `reprise project` and `reprise rebuild` through the binary, including kill -9 mid-projection.

mod support;

use reprise_testkit::dump_views;
use support::{Running, generated_fixture, message, ok_json, reprise};

#[test]
fn kill_9_mid_projection_then_restart_equals_a_clean_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let fixture = generated_fixture(dir.path(), 30_000, 5);
    let head = ok_json(reprise(&data).arg("ingest").arg("--fixture").arg(&fixture))["head"].as_i64().unwrap();

    let mut child =
        Running::spawn(reprise(&data).env("REPRISE_LOG__LEVEL", "reprise_projector=debug").arg("project"));
    for _ in 0..4 {
        child.wait_for("a batch", |v| message(v) == "applied batch");
    }
    child.child.kill().unwrap();
    child.child.wait().unwrap();
    let conn = rusqlite::Connection::open(data.join("views.db")).unwrap();
    let checkpoint: i64 = conn.query_row("SELECT seq FROM checkpoint", [], |r| r.get(0)).unwrap();
    assert!(
        checkpoint >= 4000 && checkpoint % 1000 == 0 && checkpoint < head,
        "checkpoint {checkpoint} sits on a batch boundary"
    );
    drop(conn);

    let done = ok_json(reprise(&data).arg("project"));
    assert_eq!(done["checkpoint"], head);
    let out = dir.path().join("rebuilt");
    let rebuilt = ok_json(reprise(&data).arg("rebuild").arg("--out").arg(&out));
    assert_eq!(rebuilt["checkpoint"], head);
    assert!(dump_views(&data.join("views.db")) == dump_views(&out.join("views.db")), "restart == rebuild");
}

#[test]
fn rebuild_until_a_time_and_bad_until_values() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok_json(reprise(&data).arg("ingest").arg("--fixture").arg("fixtures/jetstream-examples.jsonl"));
    let r = ok_json(
        reprise(&data)
            .arg("rebuild")
            .arg("--until")
            .arg("1970-01-01T00:00:00Z")
            .arg("--out")
            .arg(dir.path().join("empty")),
    );
    assert_eq!(r["checkpoint"], 0);
    let r = ok_json(
        reprise(&data)
            .arg("rebuild")
            .arg("--until")
            .arg("2999-01-01T00:00:00Z")
            .arg("--out")
            .arg(dir.path().join("all")),
    );
    assert_eq!(r["checkpoint"], 10);
    for bad in ["yesterday", "-5", "2026-13-01T00:00:00Z"] {
        let out = reprise(&data).arg("rebuild").arg(format!("--until={bad}")).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{bad}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("--until"), "{bad}");
    }
    let out = reprise(&dir.path().join("nothing")).arg("rebuild").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("no event log"));
}
