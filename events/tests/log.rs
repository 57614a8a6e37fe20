//! The log's contract, against a real SQLite file.

use reprise_events::{Envelope, EventKind, EventLog, LogError, LogReader, NewEvent, Operation};

fn commit(rkey: &str, rev: &str, op: Operation) -> NewEvent {
    let frame = format!(r#"{{"did":"did:plc:a","rkey":"{rkey}","rev":"{rev}"}}"#).into_bytes();
    NewEvent {
        envelope: Envelope {
            kind: Some(EventKind::Commit),
            did: Some("did:plc:a".into()),
            collection: Some("fm.plyr.track".into()),
            rkey: Some(rkey.into()),
            operation: Some(op),
            rev: Some(rev.into()),
            cid: (op != Operation::Delete).then(|| format!("bafy{rev}")),
            event_time_us: Some(100),
            ..Default::default()
        },
        frame,
        source_cursor: Some(100),
        received_at_us: 1_000,
    }
}

fn rejected(line: i64, bytes: &[u8]) -> NewEvent {
    NewEvent {
        envelope: Envelope::rejected("not json"),
        frame: bytes.to_vec(),
        source_cursor: Some(line),
        received_at_us: 1_000,
    }
}

#[test]
fn appends_assign_increasing_seqs_and_keep_frames_byte_exact() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = EventLog::open(dir.path()).unwrap();
    let mut odd = rejected(1, b"\xff\xfe not utf-8 \x00");
    odd.envelope.reject_reason = Some("frame is not valid UTF-8".into());
    let out = log.append("fixture:a", &[commit("1", "3a", Operation::Create), odd.clone()], Some(2)).unwrap();
    assert_eq!((out.appended, out.duplicates, out.head), (2, 0, 2));

    let events = log.reader().unwrap().read_after(0, 10).unwrap();
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(events[1].frame, odd.frame);
    assert_eq!(events[1].envelope.reject_reason.as_deref(), Some("frame is not valid UTF-8"));
    assert_eq!(events[0].envelope, commit("1", "3a", Operation::Create).envelope);
    assert_eq!(events[0].schema_version, reprise_events::CURRENT_EVENT_VERSION);
}

#[test]
fn duplicates_are_dropped_within_and_across_batches_and_sources() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = EventLog::open(dir.path()).unwrap();
    let a = commit("1", "3a", Operation::Create);
    let out = log.append("host-1", &[a.clone(), a.clone()], Some(1)).unwrap();
    assert_eq!((out.appended, out.duplicates), (1, 1));
    let mut from_other_host = a.clone();
    from_other_host.source_cursor = Some(999);
    from_other_host.envelope.event_time_us = Some(999);
    let out =
        log.append("host-2", &[from_other_host, commit("1", "3b", Operation::Delete)], Some(9)).unwrap();
    assert_eq!((out.appended, out.duplicates, out.head), (1, 1, 2));
}

#[test]
fn identical_garbage_at_different_positions_is_two_receipts() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = EventLog::open(dir.path()).unwrap();
    let out = log.append("f", &[rejected(1, b"{"), rejected(2, b"{"), rejected(1, b"{")], Some(2)).unwrap();
    assert_eq!((out.appended, out.duplicates), (2, 1));
    let out = log.append("other-file", &[rejected(1, b"{")], Some(1)).unwrap();
    assert_eq!(out.appended, 1);
}

#[test]
fn the_database_refuses_update_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = EventLog::open(dir.path()).unwrap();
    log.append("f", &[commit("1", "3a", Operation::Create)], None).unwrap();
    drop(log);
    let conn = rusqlite::Connection::open(dir.path().join("events.db")).unwrap();
    for sql in ["UPDATE events SET did = 'x'", "DELETE FROM events", "DELETE FROM events WHERE seq = 1"] {
        let err = conn.execute(sql, []).unwrap_err().to_string();
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
    let n: i64 = conn.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 1);
}

#[test]
fn the_cursor_is_stored_with_its_batch_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = EventLog::open(dir.path()).unwrap();
    assert_eq!(log.cursor("host").unwrap(), None);
    log.append("host", &[commit("1", "3a", Operation::Create)], Some(42)).unwrap();
    // A batch of pure duplicates still moves the cursor: the source has been read that far.
    log.append("host", &[commit("1", "3a", Operation::Create)], Some(43)).unwrap();
    drop(log);
    let log = EventLog::open(dir.path()).unwrap();
    let c = log.cursor("host").unwrap().unwrap();
    assert_eq!((c.cursor, c.last_seq), (43, 1));
    assert_eq!(log.head(), 1);
}

#[test]
fn a_stored_cursor_never_moves_backwards() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = EventLog::open(dir.path()).unwrap();
    log.append("host", &[commit("1", "3a", Operation::Create)], Some(50)).unwrap();
    // A replay (a resume's rewind, a fixture read again from its first line) brings older positions,
    // and events the log may not hold yet: they are kept, but the position stays where it was.
    log.append("host", &[commit("2", "3b", Operation::Create)], Some(10)).unwrap();
    log.append("host", &[], Some(49)).unwrap();
    let c = log.cursor("host").unwrap().unwrap();
    assert_eq!((c.cursor, c.last_seq), (50, 1), "{c:?}");
    assert_eq!(log.head(), 2);
    log.append("host", &[], Some(51)).unwrap();
    assert_eq!(log.cursor("host").unwrap().unwrap().cursor, 51);
    drop(log);
    let c = EventLog::open(dir.path()).unwrap().cursor("host").unwrap().unwrap();
    assert_eq!(c.cursor, 51, "and so it is after reopening");
}

#[test]
fn only_a_reset_moves_a_cursor_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = EventLog::open(dir.path()).unwrap();
    log.append("host", &[], Some(100)).unwrap();
    // The source said its history starts over (a firehose's FutureCursor): its old position means nothing.
    log.reset_cursor("host", Some(0)).unwrap();
    assert_eq!(log.cursor("host").unwrap().unwrap().cursor, 0);
    log.append("host", &[], Some(6)).unwrap();
    assert_eq!(log.cursor("host").unwrap().unwrap().cursor, 6);
    log.reset_cursor("host", None).unwrap();
    assert_eq!(log.cursor("host").unwrap(), None, "no position: the source starts as on a first start");
}

#[test]
fn a_failed_batch_stores_neither_events_nor_cursor_and_poisons_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = EventLog::open(dir.path()).unwrap();
    log.append("host", &[commit("1", "3a", Operation::Create)], Some(1)).unwrap();
    // Inject a failure in the middle of the next batch, the way a full disk would fail it.
    let conn = rusqlite::Connection::open(log.path()).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER boom BEFORE INSERT ON events WHEN NEW.rkey = 'boom'
         BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
    )
    .unwrap();
    let batch = [commit("2", "3b", Operation::Create), commit("boom", "3c", Operation::Create)];
    assert!(log.append("host", &batch, Some(3)).is_err());
    let again = log.append("host", &[commit("4", "3d", Operation::Create)], Some(4));
    assert!(matches!(again, Err(LogError::Poisoned(_))), "{again:?}");

    conn.execute_batch("DROP TRIGGER boom").unwrap();
    let reopened = EventLog::open(dir.path()).unwrap();
    assert_eq!(reopened.head(), 1, "no event of the failed batch was stored");
    assert_eq!(reopened.cursor("host").unwrap().unwrap().cursor, 1, "nor its cursor");
}

#[test]
fn readers_page_in_batches_from_any_seq() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = EventLog::open(dir.path()).unwrap();
    let batch: Vec<_> = (0..25).map(|i| commit(&i.to_string(), "3a", Operation::Create)).collect();
    log.append("f", &batch, Some(25)).unwrap();
    let reader = LogReader::open(dir.path()).unwrap();
    let mut after = 0;
    let mut seen = Vec::new();
    loop {
        let page = reader.read_after(after, 10).unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().unwrap().seq;
        seen.extend(page.into_iter().map(|e| e.envelope.rkey.unwrap()));
    }
    assert_eq!(seen, (0..25).map(|i| i.to_string()).collect::<Vec<_>>());
    assert_eq!(reader.read_range(5, 7, 100).unwrap().len(), 2);
}

#[tokio::test]
async fn readers_wait_for_new_events_without_polling() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = EventLog::open(dir.path()).unwrap();
    let mut head = log.subscribe();
    let waiter = tokio::spawn(async move { *head.wait_for(|h| *h >= 2).await.unwrap() });
    log.append("f", &[commit("1", "3a", Operation::Create)], None).unwrap();
    log.append("f", &[commit("2", "3a", Operation::Create)], None).unwrap();
    assert_eq!(waiter.await.unwrap(), 2);
}

#[test]
fn rows_from_a_newer_build_are_refused_not_misread() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = EventLog::open(dir.path()).unwrap();
    log.append("f", &[commit("1", "3a", Operation::Create)], None).unwrap();
    let conn = rusqlite::Connection::open(log.path()).unwrap();
    // The triggers forbid UPDATE, so a future row is written the only way rows are ever written.
    conn.execute(
        "INSERT INTO events (schema_version, received_at_us, source, kind, identity, frame)
         VALUES (7, 1, 'future', 'commit', 0, x'')",
        [],
    )
    .unwrap();
    let err = log.reader().unwrap().read_after(0, 10).unwrap_err();
    assert!(matches!(err, LogError::EventVersionTooNew { seq: 2, version: 7, .. }), "{err}");
}

#[test]
fn a_log_file_from_a_newer_build_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let conn = rusqlite::Connection::open(dir.path().join("events.db")).unwrap();
    conn.execute_batch("PRAGMA user_version = 9").unwrap();
    drop(conn);
    let err = EventLog::open(dir.path()).unwrap_err();
    assert!(matches!(err, LogError::FormatTooNew { found: 9, supported: 2 }), "{err}");
}

#[test]
fn events_of_one_kind_and_the_dids_behind_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = EventLog::open(dir.path()).unwrap();
    let gap = |from| NewEvent {
        envelope: Envelope::gap(reprise_events::GapRange { from, to: from + 10 }),
        frame: b"{}".to_vec(),
        source_cursor: None,
        received_at_us: 1_000,
    };
    let mut other = commit("2", "3b", Operation::Create);
    other.envelope.did = Some("did:plc:b".into());
    let batch = [gap(1), commit("1", "3a", Operation::Create), rejected(3, b"x"), gap(50), other];
    log.append("h", &batch, None).unwrap();
    let reader = log.reader().unwrap();
    let gaps = reader.read_kind_after(EventKind::Gap, 0).unwrap();
    assert_eq!(
        gaps.iter().map(|e| (e.seq, e.envelope.gap.unwrap().from)).collect::<Vec<_>>(),
        [(1, 1), (4, 50)]
    );
    assert_eq!(reader.read_kind_after(EventKind::Gap, 1).unwrap().len(), 1);
    assert_eq!(reader.dids_with(EventKind::Commit).unwrap(), ["did:plc:a", "did:plc:b"]);
    assert!(reader.dids_with(EventKind::Rejected).unwrap().is_empty());
}

#[test]
fn record_revs_gives_the_newest_version_of_each_record_of_the_dids_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = EventLog::open(dir.path()).unwrap();
    // Out of rev order on purpose: delivery order must not matter.
    let events = [
        commit("3ka", "3kb2", Operation::Update),
        commit("3ka", "3ka2", Operation::Create),
        commit("3kb", "3ka2", Operation::Create),
        commit("3kb", "3kc2", Operation::Delete),
        commit("3kb", "3kb2", Operation::Update),
    ];
    log.append("test", &events, None).unwrap();
    let asked: std::collections::HashSet<String> =
        ["did:plc:a".to_owned(), "did:plc:nobody".to_owned()].into();
    let known = log.reader().unwrap().record_revs(&asked).unwrap();
    assert_eq!(known.len(), 1, "a DID the log has nothing of is absent");
    let mut records: Vec<_> =
        known["did:plc:a"].iter().map(|r| (r.rkey.as_str(), r.rev.as_str(), r.deleted)).collect();
    records.sort();
    assert_eq!(records, [("3ka", "3kb2", false), ("3kb", "3kc2", true)]);
    let none = log.reader().unwrap().record_revs(&["did:plc:b".to_owned()].into()).unwrap();
    assert!(none.is_empty());
}
