//! Segments: a seq range of the log copied into its own file and appended to another log, exactly.

use std::path::{Path, PathBuf};

use reprise_events::{Envelope, EventKind, EventLog, LogError, NewEvent, Operation, export_segment};
use rusqlite::Connection;

fn commit(n: i64, received_at_us: i64) -> NewEvent {
    NewEvent {
        envelope: Envelope {
            kind: Some(EventKind::Commit),
            did: Some("did:plc:a".into()),
            collection: Some("fm.plyr.track".into()),
            rkey: Some(format!("r{n}")),
            operation: Some(Operation::Create),
            rev: Some(format!("3a{n}")),
            cid: Some(format!("bafy{n}")),
            event_time_us: Some(n * 10),
            ..Default::default()
        },
        frame: format!("{{\"n\":{n}}}\u{0}\u{ff}").into_bytes(),
        source_cursor: Some(n * 10),
        received_at_us,
    }
}

/// A log of 9 events: host-a 1..=3, host-b 4..=5, host-a again 6..=9 (so host-a's stored cursor is late).
fn origin(dir: &Path) -> EventLog {
    let mut log = EventLog::open(dir).unwrap();
    log.append("host-a", &[commit(1, 11), commit(2, 12), commit(3, 13)], Some(30)).unwrap();
    let mut rejected = commit(4, 14);
    rejected.envelope = Envelope::rejected("not json");
    log.append("host-b", &[rejected, commit(5, 15)], Some(50)).unwrap();
    log.append("host-a", &[commit(6, 16), commit(7, 17), commit(8, 18), commit(9, 19)], Some(90)).unwrap();
    log
}

fn rows(path: &Path, table: &str) -> Vec<String> {
    let conn = Connection::open(path).unwrap();
    let mut stmt = conn.prepare(&format!("SELECT * FROM {table} ORDER BY 1")).unwrap();
    let n = stmt.column_count();
    stmt.query_map([], |r| {
        Ok((0..n)
            .map(|i| format!("{:?}", r.get::<_, rusqlite::types::Value>(i).unwrap()))
            .collect::<Vec<_>>()
            .join("|"))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn export(log: &EventLog, dir: &Path, first: i64, last: i64) -> PathBuf {
    let out = dir.join(format!("seg-{first}-{last}.db"));
    let info = export_segment(log.path(), first, last, &out).unwrap();
    assert_eq!((info.first_seq, info.last_seq, info.events), (first, last, last - first + 1));
    out
}

#[test]
fn segments_imported_in_order_reproduce_the_log_exactly() {
    let (a, b, scratch) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let log = origin(a.path());
    let segments = [export(&log, scratch.path(), 1, 4), export(&log, scratch.path(), 5, 9)];

    // As of seq 4, each host's cursor is its last event there (both were stored later, at seqs 9 and 5).
    assert_eq!(
        rows(&segments[0], "source_cursors"),
        [
            r#"Text("host-a")|Integer(30)|Integer(3)|Integer(13)"#,
            r#"Text("host-b")|Integer(40)|Integer(4)|Integer(14)"#
        ]
    );
    // At seq 9 both stored cursors are covered and copied as they are.
    assert_eq!(rows(&segments[1], "source_cursors"), rows(log.path(), "source_cursors"));

    let mut replica = EventLog::open(b.path()).unwrap();
    assert!(replica.is_empty().unwrap());
    let mut head = replica.subscribe();
    for s in &segments {
        replica.import_segment(s).unwrap();
    }
    assert_eq!(replica.head(), 9);
    assert!(head.has_changed().unwrap());
    assert_eq!(*head.borrow_and_update(), 9);
    for table in ["events", "source_cursors"] {
        assert_eq!(rows(&b.path().join("events.db"), table), rows(log.path(), table), "{table}");
    }
    // The replica is a normal log afterwards: appends continue the seqs and still find duplicates.
    let out = replica.append("host-a", &[commit(9, 19), commit(10, 20)], Some(100)).unwrap();
    assert_eq!((out.appended, out.duplicates, out.head), (1, 1, 10));
}

#[test]
fn a_segment_is_sealed_only_when_the_log_holds_its_whole_range() {
    let (a, scratch) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let log = origin(a.path());
    let out = scratch.path().join("seg.db");
    let err = export_segment(log.path(), 5, 12, &out).unwrap_err();
    assert!(err.to_string().contains("holds 5 of the 8 events"), "{err}");
    let err = export_segment(log.path(), 5, 4, &scratch.path().join("x.db")).unwrap_err();
    assert!(matches!(err, LogError::BadSegment(_)), "{err}");
    let err = export_segment(&a.path().join("missing.db"), 1, 2, &scratch.path().join("y.db")).unwrap_err();
    assert!(matches!(err, LogError::Io { .. }), "{err}");
}

/// Imports `segment` into a log already holding `prefix` (segments) and asserts it is refused with
/// `expected` and the log is unchanged.
fn refused(prefix: &[PathBuf], segment: &Path, expected: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut log = EventLog::open(dir.path()).unwrap();
    for s in prefix {
        log.import_segment(s).unwrap();
    }
    let before = (rows(log.path(), "events"), rows(log.path(), "source_cursors"), log.head());
    let err = log.import_segment(segment).unwrap_err();
    assert!(err.to_string().contains(expected), "expected {expected:?}, got {err}");
    assert_eq!((rows(log.path(), "events"), rows(log.path(), "source_cursors"), log.head()), before);
}

#[test]
fn out_of_order_gapped_foreign_and_garbage_segments_are_refused_and_change_nothing() {
    let (a, scratch) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let log = origin(a.path());
    let first = export(&log, scratch.path(), 1, 4);
    let second = export(&log, scratch.path(), 5, 9);

    refused(&[], &second, "starts at seq 5, but the log's head is 0");
    refused(std::slice::from_ref(&first), &first, "starts at seq 1, but the log's head is 4");

    let gapped = scratch.path().join("gapped.db");
    std::fs::copy(&second, &gapped).unwrap();
    Connection::open(&gapped).unwrap().execute("DELETE FROM events WHERE seq = 7", []).unwrap();
    refused(std::slice::from_ref(&first), &gapped, "it has gaps");

    let newer = scratch.path().join("newer.db");
    std::fs::copy(&first, &newer).unwrap();
    Connection::open(&newer).unwrap().execute_batch("PRAGMA user_version = 99").unwrap();
    refused(&[], &newer, "segment format 99");

    let reshaped = scratch.path().join("reshaped.db");
    std::fs::copy(&first, &reshaped).unwrap();
    Connection::open(&reshaped).unwrap().execute_batch("ALTER TABLE events DROP COLUMN gap_to").unwrap();
    refused(&[], &reshaped, "has columns");

    let future_rows = scratch.path().join("future.db");
    std::fs::copy(&first, &future_rows).unwrap();
    Connection::open(&future_rows)
        .unwrap()
        .execute("UPDATE events SET schema_version = 9 WHERE seq = 2", [])
        .unwrap();
    refused(&[], &future_rows, "schema version 9");

    let garbage = scratch.path().join("garbage.db");
    std::fs::write(
        &garbage,
        b"this is not a database, just bytes that are long enough to look like a header",
    )
    .unwrap();
    refused(&[], &garbage, "not a readable segment");

    let truncated = scratch.path().join("truncated.db");
    let bytes = std::fs::read(&first).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut log = EventLog::open(dir.path()).unwrap();
    assert!(log.import_segment(&truncated).is_err());
    assert_eq!((log.head(), rows(log.path(), "events").len()), (0, 0));
}
