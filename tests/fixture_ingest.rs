//! `reprise ingest --fixture`: bad lines are kept and explained, a second run adds nothing, and a
//! kill -9 in the middle loses and duplicates nothing.

mod support;

use std::io::Write;

use support::{Running, generated_fixture, log_rows, message, ok_json, reprise};

#[test]
fn garbage_and_torn_lines_are_kept_as_rejected_events_and_a_second_run_adds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = dir.path().join("mixed.jsonl");
    let mut f = std::fs::File::create(&fixture).unwrap();
    let good = include_str!("../fixtures/jetstream-examples.jsonl");
    f.write_all(good.as_bytes()).unwrap();
    f.write_all(b"this is not json\n\n{\"did\":\"did:plc:x\"}\n\xff\xfe\n").unwrap();
    f.write_all(&[b'x'; 5000]).unwrap();
    f.write_all(b"\n{\"did\":\"did:plc:abc\",\"time_us\":17797190").unwrap(); // torn: no newline, cut mid-number
    drop(f);
    let data = dir.path().join("data");
    let first = ok_json(
        reprise(&data)
            .env("REPRISE_INGEST__MAX_FRAME_BYTES", "4096")
            .arg("ingest")
            .arg("--fixture")
            .arg(&fixture),
    );
    assert_eq!(first["lines"], 16);
    assert_eq!(first["appended"], 16);
    assert_eq!(first["rejected"], 6);
    let second = ok_json(
        reprise(&data)
            .env("REPRISE_INGEST__MAX_FRAME_BYTES", "4096")
            .arg("ingest")
            .arg("--fixture")
            .arg(&fixture),
    );
    assert_eq!((second["appended"].as_u64(), second["duplicates"].as_u64()), (Some(0), Some(16)));

    let conn = rusqlite::Connection::open(data.join("events.db")).unwrap();
    let mut stmt = conn.prepare("SELECT source_cursor, reject_reason, length(frame) FROM events WHERE kind = 'rejected' ORDER BY seq").unwrap();
    let rows: Vec<(i64, String, i64)> =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect();
    let reasons: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    assert!(reasons[0].starts_with("not JSON"), "{reasons:?}");
    assert_eq!(reasons[1], "empty line");
    assert!(reasons[2].contains("missing field `time_us`"), "{reasons:?}");
    assert!(reasons[3].starts_with("not JSON"), "{reasons:?}");
    assert!(reasons[4].contains("5000 bytes exceeds the 4096-byte limit"), "{reasons:?}");
    assert!(reasons[5].starts_with("torn final line"), "{reasons:?}");
    assert_eq!(rows[4].2, 4096, "an oversized frame keeps its first bytes");
    assert_eq!(
        rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        [11, 12, 13, 14, 15, 16],
        "line numbers are the cursor"
    );
}

#[test]
fn an_unreadable_fixture_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = reprise(dir.path())
        .arg("ingest")
        .arg("--fixture")
        .arg(dir.path().join("missing.jsonl"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot read"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn kill_9_mid_ingest_then_restart_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = generated_fixture(dir.path(), 40_000, 3);
    let reference = dir.path().join("reference");
    ok_json(reprise(&reference).arg("ingest").arg("--fixture").arg(&fixture));

    let crashed = dir.path().join("crashed");
    for kill_after in [3, 11] {
        let mut child = Running::spawn(
            reprise(&crashed)
                .env("REPRISE_LOG__LEVEL", "reprise_ingest=debug")
                .arg("ingest")
                .arg("--fixture")
                .arg(&fixture),
        );
        for _ in 0..kill_after {
            child.wait_for("a batch", |v| message(v) == "appended batch");
        }
        child.child.kill().unwrap(); // SIGKILL, possibly in the middle of the next batch
        child.child.wait().unwrap();
    }
    ok_json(reprise(&crashed).arg("ingest").arg("--fixture").arg(&fixture));
    let (want, got) = (log_rows(&reference), log_rows(&crashed));
    assert_eq!(want.len(), got.len(), "same number of events");
    assert!(want == got, "same events in the same order");
    let conn = rusqlite::Connection::open(crashed.join("events.db")).unwrap();
    let cursor: i64 = conn.query_row("SELECT cursor FROM source_cursors", [], |r| r.get(0)).unwrap();
    assert_eq!(cursor, 40_000);
}
