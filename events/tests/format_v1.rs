//! A log written by format 1 (event schema 1) opens, migrates in place, and reads back unchanged.
//!
//! The DDL and the INSERT below are the format-1 code verbatim: this file is the old format's fixture.

use reprise_events::{
    CURRENT_EVENT_VERSION, CidCheck, Envelope, EventKind, EventLog, GapRange, NewEvent, Operation,
};

const FORMAT_1_DDL: &str = "
CREATE TABLE events (
    seq             INTEGER PRIMARY KEY,
    schema_version  INTEGER NOT NULL,
    received_at_us  INTEGER NOT NULL,
    source          TEXT    NOT NULL,
    source_cursor   INTEGER,
    kind            TEXT    NOT NULL,
    did             TEXT,
    collection      TEXT,
    rkey            TEXT,
    operation       TEXT,
    rev             TEXT,
    cid             TEXT,
    event_time_us   INTEGER,
    upstream_seq    INTEGER,
    reject_reason   TEXT,
    identity        INTEGER NOT NULL,
    frame           BLOB    NOT NULL
);
CREATE INDEX events_identity ON events(identity);
CREATE TRIGGER events_refuse_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only: UPDATE refused'); END;
CREATE TRIGGER events_refuse_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only: DELETE refused'); END;
CREATE TABLE source_cursors (
    source TEXT PRIMARY KEY, cursor INTEGER NOT NULL, last_seq INTEGER NOT NULL, updated_at_us INTEGER NOT NULL
);
PRAGMA user_version = 1;
";

fn write_format_1_file(dir: &std::path::Path) {
    let conn = rusqlite::Connection::open(dir.join("events.db")).unwrap();
    conn.execute_batch(FORMAT_1_DDL).unwrap();
    conn.execute(
        "INSERT INTO events (schema_version, received_at_us, source, source_cursor, kind, did,
            collection, rkey, operation, rev, cid, event_time_us, upstream_seq, reject_reason,
            identity, frame)
         VALUES (1, 1000, 'fixture:a.jsonl', 1, 'commit', 'did:plc:a', 'fm.plyr.track', '3k', 'create',
            '3mmoojp7vgo2g', 'bafyold', 100, NULL, NULL, 42, x'7b7d')",
        [],
    )
    .unwrap();
}

fn commit_v2(check: CidCheck) -> NewEvent {
    NewEvent {
        envelope: Envelope {
            kind: Some(EventKind::Commit),
            did: Some("did:plc:a".into()),
            collection: Some("fm.plyr.track".into()),
            rkey: Some("3k".into()),
            operation: Some(Operation::Update),
            rev: Some("3mmoojp7vgo3g".into()),
            cid: Some("bafynew".into()),
            event_time_us: Some(200),
            cid_check: Some(check),
            ..Default::default()
        },
        frame: b"{}".to_vec(),
        source_cursor: Some(200),
        received_at_us: 2_000,
    }
}

#[test]
fn a_format_1_log_migrates_and_its_v1_rows_upcast_to_not_checked() {
    let dir = tempfile::tempdir().unwrap();
    write_format_1_file(dir.path());
    let mut log = EventLog::open(dir.path()).unwrap();
    assert_eq!(log.head(), 1);
    let mismatch = CidCheck::Mismatch { computed: "bafycomputed".into() };
    let out = log.append("h", &[commit_v2(mismatch.clone())], Some(200)).unwrap();
    assert_eq!((out.appended, out.head), (1, 2));

    let rows = log.reader().unwrap().read_after(0, 10).unwrap();
    assert_eq!(rows[0].schema_version, 1);
    assert_eq!(rows[0].envelope.cid.as_deref(), Some("bafyold"));
    assert_eq!((rows[0].envelope.cid_check.clone(), rows[0].envelope.gap), (None, None));
    assert_eq!(rows[0].frame, b"{}");
    assert_eq!(rows[1].schema_version, CURRENT_EVENT_VERSION);
    assert_eq!(rows[1].envelope.cid_check, Some(mismatch));

    drop(log);
    let conn = rusqlite::Connection::open(dir.path().join("events.db")).unwrap();
    let format: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(format, 2);
}

#[test]
fn gap_events_store_their_range_and_dedupe_by_source_and_range() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = EventLog::open(dir.path()).unwrap();
    let gap = |from, to| NewEvent {
        envelope: Envelope::gap(GapRange { from, to }),
        frame: br#"{"gap":"cursor too old"}"#.to_vec(),
        source_cursor: Some(to),
        received_at_us: 5,
    };
    let out = log.append("h", &[gap(10, 20), gap(10, 20), gap(10, 21)], None).unwrap();
    assert_eq!((out.appended, out.duplicates), (2, 1));
    assert_eq!(log.append("other", &[gap(10, 20)], None).unwrap().appended, 1);
    let rows = log.reader().unwrap().read_after(0, 10).unwrap();
    assert_eq!(rows[0].envelope.kind(), EventKind::Gap);
    assert_eq!(rows[0].envelope.gap, Some(GapRange { from: 10, to: 20 }));
    assert_eq!(rows[1].envelope.gap, Some(GapRange { from: 10, to: 21 }));
    let checks = [CidCheck::Match, CidCheck::Unverifiable("float".into())];
    for (i, c) in checks.into_iter().enumerate() {
        let mut e = commit_v2(c.clone());
        e.envelope.rkey = Some(format!("r{i}"));
        log.append("h", &[e], None).unwrap();
        let last = log.reader().unwrap().read_after(log.head() - 1, 1).unwrap();
        assert_eq!(last[0].envelope.cid_check, Some(c));
    }
}
