//! Firehose ingest against the subscribeRepos test server: real signed commits land in the log once,
//! cursors resume, redelivery adds nothing, and everything broken is kept as rejected while ingest goes on.

mod support;

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use reprise_events::{EventKind, EventLog, GapRange, LogReader, StoredEvent};
use reprise_ingest::{Connection, Filters, FirehoseOptions, StreamStart, run_firehose};
use reprise_testkit::firehose_frames::{LiveRepo, account_frame, identity_frame};
use reprise_testkit::{FirehoseHistory, FirehoseServer, ws_frames};
use serde_json::{Value, json};
use support::Following;
use tokio_tungstenite::tungstenite::Message;

fn track(title: &str) -> Value {
    json!({"$type": "fm.plyr.track", "title": title, "artist": "Firehose Artist", "fileType": "mp3",
           "createdAt": "2026-06-01T12:00:00.000Z", "audioUrl": "https://audio.example/a.mp3"})
}

fn opts(url: &str) -> FirehoseOptions {
    FirehoseOptions {
        urls: vec![url.to_owned()],
        filters: Filters { wanted_collections: vec!["fm.plyr.*".into()], wanted_dids: Vec::new() },
        connection: Connection {
            backoff_initial: Duration::from_millis(5),
            backoff_max: Duration::from_millis(50),
            ping_interval: Duration::from_millis(100),
            idle_timeout: Duration::from_secs(5),
            max_frame_bytes: 8192,
            ..Default::default()
        },
        ..Default::default()
    }
}

type Ingest = Following;

impl Ingest {
    fn start(log: EventLog, opts: FirehoseOptions) -> Ingest {
        Following::spawn(log, |log, metrics, stop| run_firehose(log, opts, metrics, stop))
    }
}

fn all(dir: &std::path::Path) -> Vec<StoredEvent> {
    LogReader::open(dir).unwrap().read_after(0, 10_000).unwrap()
}

fn kinds(events: &[StoredEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| match e.envelope.kind() {
            EventKind::Commit => format!(
                "{} {}",
                e.envelope.operation.unwrap().as_str(),
                e.envelope.collection.as_deref().unwrap()
            ),
            k => k.as_str().to_owned(),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_identity_and_account_land_once_and_resume_from_the_cursor() {
    let history = FirehoseHistory::new();
    let mut repo = LiveRepo::new(1);
    let did = repo.did().to_owned();
    history.push_with(|s| repo.create("fm.plyr.track", "3kaaaaaaaaaa2", &track("One")).commit_frame(s));
    history.push_with(|s| {
        repo.create("fm.plyr.track", "3kaaaaaaaaab2", &track("Two"))
            .create("app.bsky.feed.post", "3kaaaaaaaaac2", &json!({"text": "not music", "createdAt": "2026-06-01T12:00:00.000Z"}))
            .create("fm.plyr.comment", "3kaaaaaaaaad2", &json!({"$type": "fm.plyr.comment", "text": "nice",
                "subject": {"uri": "at://x/fm.plyr.track/3k", "cid": "bafyreigm4hr7b6fcgdbevnhyfcnfcaalw3f4npgkwzh4okrcpxa2ukn7ne"},
                "timestampMs": 1000, "createdAt": "2026-06-01T12:00:00.000Z"}))
            .commit_frame(s)
    });
    // Only a post: nothing wanted, but the cursor moves past it.
    history.push_with(|s| {
        repo.create("app.bsky.feed.post", "3kaaaaaaaaae2", &json!({"text": "x"})).commit_frame(s)
    });
    history.push_with(|s| identity_frame(s, &did, Some("artist.test")));
    history.push_with(|s| account_frame(s, &did, false, Some("takendown")));
    history.push_with(|s| account_frame(s, &did, true, None));
    history
        .push_with(|s| repo.update("fm.plyr.track", "3kaaaaaaaaaa2", &track("One (edit)")).commit_frame(s));
    history.push_with(|s| repo.delete("fm.plyr.track", "3kaaaaaaaaab2").commit_frame(s));
    let server = FirehoseServer::start(history.clone()).await;
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let mut ingest = Ingest::start(EventLog::open(dir.path()).unwrap(), opts(&url));
    ingest.wait_head(8).await;
    let log = ingest.stop().await;
    assert_eq!(log.cursor(&url).unwrap().unwrap().cursor, 8, "the seq of the last message read");
    drop(log);
    let events = all(dir.path());
    assert_eq!(
        kinds(&events),
        [
            "create fm.plyr.track",
            "create fm.plyr.comment",
            "create fm.plyr.track",
            "identity",
            "account",
            "account",
            "update fm.plyr.track",
            "delete fm.plyr.track"
        ]
    );
    assert!(events.iter().all(|e| e.source == url && e.envelope.did.as_deref() == Some(did.as_str())));
    assert_eq!(events.iter().map(|e| e.source_cursor.unwrap()).collect::<Vec<_>>(), [1, 2, 2, 4, 5, 6, 7, 8]);
    assert_eq!(server.queries(), ["/xrpc/com.atproto.sync.subscribeRepos?cursor=0"]);

    // Resume: the next start asks from the stored seq and gets only what is new.
    history.push_with(|s| repo.create("fm.plyr.track", "3kaaaaaaaaaf2", &track("Three")).commit_frame(s));
    let mut ingest = Ingest::start(EventLog::open(dir.path()).unwrap(), opts(&url));
    ingest.wait_head(9).await;
    assert_eq!(server.queries()[1], "/xrpc/com.atproto.sync.subscribeRepos?cursor=8");

    // The server drops the connection; the client comes back at its cursor.
    server.wait_connections(2).await;
    server.disconnect_all();
    server.wait_connections(3).await;
    history.push_with(|s| repo.create("fm.plyr.track", "3kaaaaaaaaag2", &track("Four")).commit_frame(s));
    ingest.wait_head(10).await;
    assert_eq!(server.queries()[2], "/xrpc/com.atproto.sync.subscribeRepos?cursor=9");

    // A host that redelivers everything adds nothing: the new message after the replay is the only one.
    server.set_ignore_cursor(true);
    server.disconnect_all();
    server.wait_connections(4).await;
    history.push_with(|s| account_frame(s, &did, true, None));
    ingest.wait_head(11).await;
    let metrics = ingest.metrics.clone();
    let log = ingest.stop().await;
    // Read once the writer is done: the head moves inside an append, the counters after it.
    assert_eq!(metrics.duplicates_dropped.load(Relaxed), 10);
    assert_eq!(log.cursor(&url).unwrap().unwrap().cursor, 11);
    assert_eq!(all(dir.path()).len(), 11);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_frames_are_kept_as_rejected_and_ingest_goes_on() {
    let history = FirehoseHistory::new();
    let mut repo = LiveRepo::new(2);
    history.push_with(|s| repo.create("fm.plyr.track", "3kaaaaaaaaaa2", &track("Good")).commit_frame(s));
    history.push_with(|s| {
        repo.create("fm.plyr.track", "3kaaaaaaaaab2", &track("Corrupted")).corrupted_commit_frame(s)
    });
    history.push_message(Message::binary(b"\xff\x01 not cbor at all".to_vec()));
    history.push_message(Message::text("{\"kind\":\"commit\"}"));
    history.push_message(Message::binary(vec![0xa2; 20_000]));
    history.push_with(|s| {
        let f = repo.create("fm.plyr.track", "3kaaaaaaaaac2", &track("Truncated")).commit_frame(s);
        f[..f.len() - 10].to_vec()
    });
    history.push_with(|s| repo.create("fm.plyr.track", "3kaaaaaaaaad2", &track("After")).commit_frame(s));
    let server = FirehoseServer::start(history.clone()).await;
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let mut ingest = Ingest::start(EventLog::open(dir.path()).unwrap(), opts(&url));
    ingest.wait_head(7).await;
    let before = all(dir.path());
    let reasons: Vec<String> =
        before.iter().map(|e| e.envelope.reject_reason.clone().unwrap_or_else(|| "ok".into())).collect();
    assert_eq!(reasons[0], "ok");
    assert!(
        reasons[1].starts_with("block bafyrei") && reasons[1].contains("does not match its CID"),
        "{}",
        reasons[1]
    );
    assert!(reasons[2].starts_with("not a firehose frame"), "{}", reasons[2]);
    assert!(reasons[3].starts_with("text frame of 17 bytes"), "{}", reasons[3]);
    assert!(reasons[4].contains("exceeds the 8192-byte limit"), "{}", reasons[4]);
    assert!(reasons[5].starts_with("unreadable frame body"), "{}", reasons[5]);
    assert_eq!(reasons[6], "ok");
    assert_eq!(before[4].frame.len(), 8192, "an oversized frame keeps its first max_frame_bytes");
    assert_eq!(before[1].envelope.did.as_deref(), Some(repo.did()), "a refused commit names its repo");
    assert_eq!(before[3].frame, b"{\"kind\":\"commit\"}");

    // An error frame is kept too; the client reconnects at its cursor and goes on.
    server.wait_connections(1).await;
    server.error_and_close("ConsumerTooSlow");
    server.wait_connections(2).await;
    history.push_with(|s| repo.create("fm.plyr.track", "3kaaaaaaaaae2", &track("Later")).commit_frame(s));
    ingest.wait_head(9).await;
    let after = all(dir.path());
    assert_eq!(
        after[7].envelope.reject_reason.as_deref(),
        Some("error frame ConsumerTooSlow: injected by the test server")
    );
    assert_eq!(after[8].envelope.kind(), EventKind::Commit);
    assert_eq!(server.queries()[1], "/xrpc/com.atproto.sync.subscribeRepos?cursor=7");

    // Redelivered broken frames are the same rejected events: nothing is added, nothing stored changes.
    server.set_ignore_cursor(true);
    server.disconnect_all();
    server.wait_connections(3).await;
    history.push_with(|s| repo.delete("fm.plyr.track", "3kaaaaaaaaaa2").commit_frame(s));
    ingest.wait_head(10).await;
    drop(ingest.stop().await);
    let last = all(dir.path());
    assert_eq!(last.len(), 10);
    assert_eq!(last[..9], after[..], "what was stored is unchanged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outdated_and_future_cursors() {
    let history = FirehoseHistory::new();
    let mut repo = LiveRepo::new(3);
    for i in 0..5 {
        history.push_with(|s| {
            repo.create("fm.plyr.track", &format!("3kaaaaaaaaa{i}2"), &track("T")).commit_frame(s)
        });
    }
    history.set_floor(4);
    let server = FirehoseServer::start(history.clone()).await;
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let mut ingest = Ingest::start(EventLog::open(dir.path()).unwrap(), opts(&url));
    ingest.wait_head(3).await;
    let events = all(dir.path());
    assert_eq!(kinds(&events), ["gap", "create fm.plyr.track", "create fm.plyr.track"]);
    assert_eq!(events[0].envelope.gap, Some(GapRange { from: 1, to: 4 }), "seqs 1..4 were never received");
    drop(ingest.stop().await);

    // A cursor past the host's head (its history was reset): kept as rejected, then the live tail.
    let dir = tempfile::tempdir().unwrap();
    let mut log = EventLog::open(dir.path()).unwrap();
    log.append(&url, &[], Some(100)).unwrap();
    let mut ingest = Ingest::start(log, FirehoseOptions { start: StreamStart::Live, ..opts(&url) });
    ingest.wait_head(1).await;
    server.wait_connections(3).await;
    history.push_with(|s| repo.create("fm.plyr.track", "3kaaaaaaaaaz2", &track("New")).commit_frame(s));
    ingest.wait_head(2).await;
    drop(ingest.stop().await);
    let events = all(dir.path());
    assert!(events[0].envelope.reject_reason.as_deref().unwrap().starts_with("error frame FutureCursor"));
    assert_eq!(events[1].source_cursor, Some(6));
    let queries = server.queries();
    assert_eq!(
        &queries[1..],
        ["/xrpc/com.atproto.sync.subscribeRepos?cursor=100", "/xrpc/com.atproto.sync.subscribeRepos"]
    );

    // Starting from the oldest, the reset host is read again from its start (what it no longer keeps: a gap).
    let dir = tempfile::tempdir().unwrap();
    let mut log = EventLog::open(dir.path()).unwrap();
    log.append(&url, &[], Some(100)).unwrap();
    let mut ingest = Ingest::start(log, opts(&url));
    ingest.wait_head(5).await;
    drop(ingest.stop().await);
    let expected =
        ["rejected", "gap", "create fm.plyr.track", "create fm.plyr.track", "create fm.plyr.track"];
    assert_eq!(kinds(&all(dir.path())), expected);
    assert_eq!(
        &server.queries()[3..],
        [
            "/xrpc/com.atproto.sync.subscribeRepos?cursor=100",
            "/xrpc/com.atproto.sync.subscribeRepos?cursor=0"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_larger_than_a_websocket_frame_is_read_and_kept_as_rejected() {
    let history = FirehoseHistory::new();
    let mut repo = LiveRepo::new(4);
    // Above tungstenite's default 16 MiB frame limit, which would otherwise end the connection each time.
    history.push_message(Message::binary(vec![0xa2; 17 << 20]));
    history.push_with(|s| repo.create("fm.plyr.track", "3kaaaaaaaaaa2", &track("After")).commit_frame(s));
    let server = FirehoseServer::start(history).await;
    let dir = tempfile::tempdir().unwrap();
    let mut ingest = Ingest::start(EventLog::open(dir.path()).unwrap(), opts(&server.url()));
    ingest.wait_head(2).await;
    drop(ingest.stop().await);
    let events = all(dir.path());
    let reason = events[0].envelope.reject_reason.as_deref().unwrap();
    assert!(reason.starts_with("frame of 17825792 bytes exceeds the 8192-byte limit"), "{reason}");
    assert_eq!((events[0].frame.len(), events[1].envelope.kind()), (8192, EventKind::Commit));
    assert_eq!(server.connections(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_future_cursor_resets_the_stored_one_so_a_restart_does_not_ask_for_it_again() {
    let history = FirehoseHistory::new();
    let mut repo = LiveRepo::new(5);
    for i in 0..5 {
        history.push_with(|s| {
            repo.create("fm.plyr.track", &format!("3kaaaaaaaaa{i}2"), &track("T")).commit_frame(s)
        });
    }
    let server = FirehoseServer::start(history.clone()).await;
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let mut log = EventLog::open(dir.path()).unwrap();
    log.append(&url, &[], Some(100)).unwrap();
    let live = FirehoseOptions { start: StreamStart::Live, ..opts(&url) };
    let mut ingest = Ingest::start(log, live.clone());
    ingest.wait_head(1).await;
    server.wait_connections(2).await;
    history.push_with(|s| repo.create("fm.plyr.track", "3kaaaaaaaaaz2", &track("New")).commit_frame(s));
    ingest.wait_head(2).await;
    let log = ingest.stop().await;
    // The host's seqs start again below 100: the stored cursor follows them down, once.
    assert_eq!(log.cursor(&url).unwrap().unwrap().cursor, 6);
    let mut ingest = Ingest::start(log, live);
    server.wait_connections(3).await;
    history.push_with(|s| repo.create("fm.plyr.track", "3kaaaaaaaay22", &track("Newer")).commit_frame(s));
    ingest.wait_head(3).await;
    drop(ingest.stop().await);
    assert_eq!(server.queries()[2], "/xrpc/com.atproto.sync.subscribeRepos?cursor=6");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_frame_that_is_not_utf8_is_kept_as_rejected_on_the_same_connection() {
    let history = FirehoseHistory::new();
    let mut repo = LiveRepo::new(6);
    history.push_with(|s| repo.create("fm.plyr.track", "3kaaaaaaaaaa2", &track("Before")).commit_frame(s));
    history.push_message(ws_frames::raw_text(b"\xff\xfe not utf-8"));
    history.push_with(|s| repo.create("fm.plyr.track", "3kaaaaaaaaab2", &track("After")).commit_frame(s));
    let server = FirehoseServer::start(history).await;
    let dir = tempfile::tempdir().unwrap();
    let mut ingest = Ingest::start(EventLog::open(dir.path()).unwrap(), opts(&server.url()));
    ingest.wait_head(3).await;
    drop(ingest.stop().await);
    let events = all(dir.path());
    assert_eq!(kinds(&events), ["create fm.plyr.track", "rejected", "create fm.plyr.track"]);
    let reason = events[1].envelope.reject_reason.as_deref().unwrap();
    assert!(reason.starts_with("text frame of 12 bytes on subscribeRepos"), "{reason}");
    assert_eq!(events[1].frame, b"\xff\xfe not utf-8");
    assert_eq!(server.connections(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_the_websocket_layer_refuses_is_recorded_stepped_over_and_left_as_a_gap() {
    let history = FirehoseHistory::new();
    let mut repo = LiveRepo::new(7);
    history.push_with(|s| repo.create("fm.plyr.track", "3kaaaaaaaaaa2", &track("Before")).commit_frame(s));
    history.push_message(ws_frames::reserved_bits(b"\xa2"));
    history.push_with(|s| repo.create("fm.plyr.track", "3kaaaaaaaaab2", &track("After")).commit_frame(s));
    let server = FirehoseServer::start(history.clone()).await;
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let mut ingest = Ingest::start(EventLog::open(dir.path()).unwrap(), opts(&url));
    ingest.wait_head(4).await;
    let log = ingest.stop().await;
    let events = all(dir.path());
    assert_eq!(kinds(&events), ["create fm.plyr.track", "rejected", "gap", "create fm.plyr.track"]);
    let reason = events[1].envelope.reject_reason.as_deref().unwrap();
    assert!(reason.contains("Reserved bits are non-zero"), "{reason}");
    assert_eq!(events[2].envelope.gap, Some(GapRange { from: 2, to: 3 }), "seq 2 was never read");
    assert_eq!(
        server.queries(),
        ["/xrpc/com.atproto.sync.subscribeRepos?cursor=0", "/xrpc/com.atproto.sync.subscribeRepos?cursor=2"]
    );
    assert_eq!(log.cursor(&url).unwrap().unwrap().cursor, 3);
}
