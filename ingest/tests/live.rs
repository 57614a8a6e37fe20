//! Live ingest against the Jetstream-compatible test server: every event any host delivered is in the
//! log exactly once, whatever the server does wrong.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use reprise_events::{EventKind, EventLog, GapRange, LogReader};
use reprise_ingest::{Connection, IngestMetrics, LiveOptions, run_live};
use reprise_testkit::{Faults, FrameBuilder, History, JetstreamServer, did, identity, tid, ws_frames};
use support::{Following, PATIENCE};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

/// `n` events: track creates from 7 repos with an identity event every 5th.
fn frames(n: usize, offset: usize) -> Vec<String> {
    (offset..offset + n)
        .map(|i| {
            if i % 5 == 4 {
                identity(&did(100 + i as u64), i as u64 + 1, None)
            } else {
                let mut b = FrameBuilder::new(&did(i as u64 % 7));
                let rev = tid(1_779_000_000_000_000 + i as u64 * 1_000, 0);
                b.track("create", &rev, &rev, &format!("Track {i}"), "2026-05-25T14:23:29.950Z")
            }
        })
        .collect()
}

/// `n` events on an instance clock that starts 30 s ago and ticks 100 ms per event, so the 5 s
/// rewind re-delivers 50 events.
fn history(n: usize) -> Arc<History> {
    let h = History::with_clock(reprise_ingest::now_us() - 30_000_000, 100_000);
    for f in frames(n, 0) {
        h.push(&f);
    }
    h
}

fn opts(hosts: Vec<String>) -> LiveOptions {
    LiveOptions {
        hosts,
        filters: reprise_ingest::Filters {
            wanted_collections: vec!["fm.plyr.*".into()],
            wanted_dids: Vec::new(),
        },
        compress: true,
        rewind: Duration::from_secs(5),
        blind_window: Duration::from_secs(3600),
        connection: Connection {
            backoff_initial: Duration::from_millis(5),
            backoff_max: Duration::from_millis(50),
            ping_interval: Duration::from_millis(50),
            idle_timeout: Duration::from_millis(400),
            batch_size: 50,
            ..Default::default()
        },
        start_cursor_us: Some(reprise_ingest::now_us() - 60_000_000),
        ..Default::default()
    }
}

type Live = Following;

impl Live {
    fn start(dir: &std::path::Path, opts: LiveOptions) -> Live {
        Following::spawn(EventLog::open(dir).unwrap(), |log, metrics, stop| {
            run_live(log, opts, metrics, stop)
        })
    }
}

/// Asserts the log holds each frame of `expected` exactly once (by its commit or identity), and returns
/// the number of gap events.
fn assert_exactly_once(dir: &std::path::Path, expected: &[String]) -> usize {
    let events = LogReader::open(dir).unwrap().read_after(0, 1_000_000).unwrap();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut gaps = 0;
    for e in &events {
        let env = &e.envelope;
        match env.kind() {
            EventKind::Commit => *seen.entry(format!("{:?}/{:?}", env.did, env.rev)).or_default() += 1,
            EventKind::Identity => {
                *seen.entry(format!("{:?}#{:?}", env.did, env.upstream_seq)).or_default() += 1
            }
            EventKind::Gap => gaps += 1,
            other => panic!("unexpected {other:?} event: {:?}", String::from_utf8_lossy(&e.frame)),
        }
    }
    let mut want: BTreeMap<String, usize> = BTreeMap::new();
    for f in expected {
        let v: serde_json::Value = serde_json::from_str(f).unwrap();
        let key = match v["kind"].as_str() {
            Some("commit") => format!("{:?}/{:?}", v["did"].as_str(), v["commit"]["rev"].as_str()),
            _ => format!("{:?}#{:?}", v["did"].as_str(), v["identity"]["seq"].as_i64()),
        };
        want.insert(key, 1);
    }
    let dupes: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dupes.is_empty(), "duplicated: {dupes:?}");
    let lost: Vec<_> = want.keys().filter(|k| !seen.contains_key(*k)).collect();
    assert!(lost.is_empty(), "lost {} events, e.g. {:?}", lost.len(), lost.first());
    assert_eq!(seen.len(), want.len(), "events nobody sent");
    gaps
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_compressed_frames_decode_through_the_client_byte_for_byte() {
    let lines: Vec<String> =
        include_str!("../../fixtures/jetstream-examples.jsonl").lines().map(str::to_owned).collect();
    let h = History::new();
    for l in &lines {
        h.push_verbatim(l);
    }
    let server = JetstreamServer::start(h, Faults::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(vec![server.v1_url()]);
    o.filters.wanted_collections.clear();
    o.start_cursor_us = Some(1);
    o.replay_window = Duration::from_secs(100 * 365 * 86_400);
    let mut live = Live::start(dir.path(), o);
    live.wait_head(10).await;
    let metrics = live.metrics.clone();
    live.stop().await;
    let events = LogReader::open(dir.path()).unwrap().read_after(0, 100).unwrap();
    let frames: Vec<String> = events.iter().map(|e| String::from_utf8(e.frame.clone()).unwrap()).collect();
    assert_eq!(frames, lines);
    assert!(events.iter().all(|e| e.envelope.kind() != EventKind::Rejected));
    // Every create and update in the real frames carries its record's true CID.
    let checks: Vec<_> = events.iter().filter_map(|e| e.envelope.cid_check.clone()).collect();
    assert_eq!(checks.len(), 4);
    assert!(checks.iter().all(|c| *c == reprise_events::CidCheck::Match), "{checks:?}");
    let (wire, text) = (metrics.wire_bytes_received.load(Relaxed), metrics.bytes_received.load(Relaxed));
    assert!(wire < text, "compressed {wire} bytes, decompressed {text}");
    assert!(server.queries()[0].contains("compress=true"));
}

#[test]
fn real_frames_compressed_with_the_dictionary_decompress() {
    let dict = reprise_ingest::live::zstd::V1_DICTIONARY;
    let mut c = zstd::bulk::Compressor::with_dictionary(3, dict).unwrap();
    for line in include_str!("../../fixtures/jetstream-examples.jsonl").lines() {
        let packed = c.compress(line.as_bytes()).unwrap();
        let back = reprise_ingest::live::zstd::decompress_v1_frame(&packed, 1 << 20).unwrap();
        assert_eq!(back, line.as_bytes());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnects_every_n_events_lose_and_duplicate_nothing() {
    let h = history(300);
    let faults = Faults { drop_every: Some(97), ..Default::default() };
    let server = JetstreamServer::start(h.clone(), faults).await;
    let dir = tempfile::tempdir().unwrap();
    let mut live = Live::start(dir.path(), opts(vec![server.v1_url()]));
    live.wait_head(300).await;
    let reconnects = live.metrics.reconnects.load(Relaxed);
    live.stop().await;
    assert_exactly_once(dir.path(), &h.v1_frames());
    assert!(reconnects >= 5, "{reconnects} reconnects");
    // Every reconnect asked for the stored cursor minus the 5 s rewind, and never for a size limit.
    let queries = server.queries();
    assert!(queries.iter().all(|q| q.contains("requireHello=true") && !q.contains("maxMessageSizeBytes")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicated_and_reordered_delivery_is_absorbed() {
    let h = history(300);
    let faults = Faults { duplicate_every: Some(3), reorder_window: Some(7), ..Default::default() };
    let server = JetstreamServer::start(h.clone(), faults).await;
    let dir = tempfile::tempdir().unwrap();
    let mut live = Live::start(dir.path(), opts(vec![server.v1_url()]));
    live.wait_head(300).await;
    // Wait for the last duplicates to reach the writer before counting them.
    let m = live.metrics.clone();
    tokio::time::timeout(PATIENCE, async {
        while m.events_received.load(Relaxed) < 400 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap();
    live.stop().await;
    assert_exactly_once(dir.path(), &h.v1_frames());
    assert!(m.duplicates_dropped.load(Relaxed) >= 90, "{}", m.duplicates_dropped.load(Relaxed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_host_fails_liveness_and_the_client_resumes() {
    let h = history(200);
    let faults = Faults { stall_after: Some(80), ..Default::default() };
    let server = JetstreamServer::start(h.clone(), faults).await;
    let dir = tempfile::tempdir().unwrap();
    let mut live = Live::start(dir.path(), opts(vec![server.v1_url()]));
    live.wait_head(200).await;
    assert!(live.metrics.reconnects.load(Relaxed) >= 1);
    live.stop().await;
    assert_exactly_once(dir.path(), &h.v1_frames());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blind_host_is_detected_and_the_next_host_replays_what_it_hid() {
    // A hides every track and shows one identity event, its newest; B has the same tracks and nothing
    // else. So neither outcome races the window on a loaded machine: A cannot look blind before its one
    // other event arrived, and B, sending only wanted commits, never looks blind at all (a B whose
    // stream ended in an identity event would rightly be left 300 ms after its last track).
    let tracks = repo_tracks(3, 0, 150);
    let (a_history, b_history) = (history(0), history(0));
    for t in &tracks {
        a_history.push(t);
        b_history.push(t);
    }
    a_history.push(&identity(&did(100), 1, None));
    let blind = Faults { blind_collection: Some("fm.plyr.track".into()), ..Default::default() };
    let a = JetstreamServer::start(a_history.clone(), blind).await;
    let b = JetstreamServer::start(b_history, Faults::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(vec![a.v1_url(), b.v1_url()]);
    o.blind_window = Duration::from_millis(300);
    // Liveness is not under test: on a starved machine a failed connection would leave A as failed
    // rather than blind (resuming B from A's newest event), or reconnect to B.
    o.connection.idle_timeout = Duration::from_secs(10);
    let mut live = Live::start(dir.path(), o);
    // Every track arrives only if B replayed from before them, not from A's newest event minus the rewind.
    live.wait_head(1 + tracks.len() as i64).await;
    let host = live.metrics.current_host();
    live.stop().await;
    assert_eq!(host, b.v1_url());
    assert_exactly_once(dir.path(), &a_history.v1_frames());
    assert_eq!(b.connections(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_switch_resumes_with_a_rewind_and_cursors_stay_per_host() {
    let h = history(100);
    let a = JetstreamServer::start(h.clone(), Faults::default()).await;
    let b = JetstreamServer::start(h.clone(), Faults::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut live = Live::start(dir.path(), opts(vec![a.v1_url(), b.v1_url()]));
    live.wait_head(100).await;
    a.shutdown();
    for f in frames(100, 100) {
        h.push(&f);
    }
    live.wait_head(200).await;
    let log = live.stop().await;
    assert_exactly_once(dir.path(), &h.v1_frames());
    let cursors: Vec<_> = log.cursors().unwrap().into_iter().map(|c| (c.source, c.cursor)).collect();
    assert_eq!(cursors.len(), 2, "{cursors:?}");
    assert!(cursors.contains(&(b.v1_url(), h.time_of(200))), "{cursors:?}");
    // B was joined from A's last event time minus the 5 s rewind.
    let joined = b.queries()[0].clone();
    assert!(joined.contains(&format!("cursor={}", h.time_of(100) - 5_000_000)), "{joined}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_resumes_from_the_stored_cursor_minus_the_rewind() {
    let h = history(50);
    let server = JetstreamServer::start(h.clone(), Faults::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut live = Live::start(dir.path(), opts(vec![server.v1_url()]));
    live.wait_head(50).await;
    live.stop().await;
    for f in frames(50, 50) {
        h.push(&f);
    }
    let mut live = Live::start(dir.path(), opts(vec![server.v1_url()]));
    live.wait_head(100).await;
    live.stop().await;
    assert_exactly_once(dir.path(), &h.v1_frames());
    let resumed = server.queries()[1].clone();
    assert!(resumed.contains(&format!("cursor={}", h.time_of(50) - 5_000_000)), "{resumed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_older_than_the_stored_cursor_never_move_it_back() {
    // The resume's rewind (or a host's coarse replay) delivers events the log does not hold yet but that
    // are older than the stored cursor: they are kept, and the cursor stays where it was.
    let stored = reprise_ingest::now_us();
    let h = History::with_clock(stored - 3_000_000, 10_000);
    for f in frames(50, 0) {
        h.push(&f);
    }
    let server = JetstreamServer::start(h.clone(), Faults::default()).await;
    let dir = tempfile::tempdir().unwrap();
    EventLog::open(dir.path()).unwrap().append(&server.v1_url(), &[], Some(stored)).unwrap();
    let mut live = Live::start(dir.path(), opts(vec![server.v1_url()]));
    live.wait_head(50).await;
    let log = live.stop().await;
    assert_exactly_once(dir.path(), &h.v1_frames());
    assert_eq!(log.cursor(&server.v1_url()).unwrap().unwrap().cursor, stored);
}

/// `frame` with its `time_us` set to `t`.
fn at(frame: &str, t: i64) -> String {
    let mut v: serde_json::Value = serde_json::from_str(frame).unwrap();
    v["time_us"] = t.into();
    v.to_string()
}

/// The `cursor=` a subscription asked for.
fn asked(query: &str) -> i64 {
    let c = query.split(['?', '&']).find_map(|p| p.strip_prefix("cursor=")).expect("a cursor");
    c.parse().unwrap()
}

const TEN_YEARS_US: i64 = 10 * 365 * 86_400 * 1_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_from_the_future_are_kept_but_never_poison_the_cursor() {
    let now = reprise_ingest::now_us();
    let h = History::new();
    let tracks = frames(4, 0);
    h.push_verbatim(&at(&tracks[0], now - 2_000_000));
    h.push_verbatim(&at(&tracks[1], i64::MAX));
    h.push_verbatim(&at(&tracks[2], now + TEN_YEARS_US));
    h.push_verbatim(&at(&tracks[3], now - 1_000_000));
    let server = JetstreamServer::start(h.clone(), Faults::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut live = Live::start(dir.path(), opts(vec![server.v1_url()]));
    live.wait_head(4).await;
    let log = live.stop().await;
    let after = reprise_ingest::now_us();
    let events = LogReader::open(dir.path()).unwrap().read_after(0, 10).unwrap();
    let times: Vec<_> = events.iter().map(|e| e.envelope.event_time_us.unwrap()).collect();
    assert_eq!(times[1..3], [i64::MAX, now + TEN_YEARS_US], "kept with the times they claim");
    let cursor = log.cursor(&server.v1_url()).unwrap().unwrap().cursor;
    assert!(cursor <= after + 5_000_000, "cursor {cursor}: at most reprise's clock plus the rewind");
    drop(log);
    // The next start asks from reprise's own time, not from the future, so new events still arrive.
    let mut live = Live::start(dir.path(), opts(vec![server.v1_url()]));
    server.wait_connections(2).await;
    assert!(asked(&server.queries()[1]) <= after, "{}", server.queries()[1]);
    h.push_verbatim(&at(&frames(1, 4)[0], reprise_ingest::now_us()));
    live.wait_head(5).await;
    live.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_stored_from_the_future_by_an_older_version_is_not_trusted() {
    let h = history(10);
    let server = JetstreamServer::start(h.clone(), Faults::default()).await;
    let dir = tempfile::tempdir().unwrap();
    EventLog::open(dir.path()).unwrap().append(&server.v1_url(), &[], Some(i64::MAX)).unwrap();
    let mut live = Live::start(dir.path(), opts(vec![server.v1_url()]));
    server.wait_connections(1).await;
    let resumed = asked(&server.queries()[0]);
    h.push(&frames(1, 10)[0]);
    live.wait_head(1).await;
    live.stop().await;
    assert!(resumed <= reprise_ingest::now_us(), "resumed at {resumed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_clock_slightly_ahead_is_trusted() {
    // Within the rewind of reprise's clock: the host's times are taken as they are.
    let h = History::with_clock(reprise_ingest::now_us() + 2_000_000, 1_000);
    for f in frames(10, 0) {
        h.push(&f);
    }
    let server = JetstreamServer::start(h.clone(), Faults::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut live = Live::start(dir.path(), opts(vec![server.v1_url()]));
    live.wait_head(10).await;
    let log = live.stop().await;
    assert_eq!(log.cursor(&server.v1_url()).unwrap().unwrap().cursor, h.time_of(10));
}

/// Six tracks with `bad` between the third and the fourth, on an instance clock ticking `step_us`.
fn around(bad: Message, step_us: i64) -> (Arc<History>, Vec<String>) {
    let h = History::with_clock(reprise_ingest::now_us() - 30_000_000, step_us);
    let good = frames(6, 0);
    for f in &good[..3] {
        h.push(f);
    }
    h.push_message(bad);
    for f in &good[3..] {
        h.push(f);
    }
    let sent = h.v1_frames().into_iter().filter(|f| !f.is_empty()).collect();
    (h, sent)
}

/// The events of the log that are not commits or identities (asserting those are the `sent` ones, in
/// order, once).
fn others(dir: &std::path::Path, sent: &[String]) -> Vec<reprise_events::StoredEvent> {
    let events = LogReader::open(dir).unwrap().read_after(0, 100).unwrap();
    let (good, others): (Vec<_>, Vec<_>) = events
        .into_iter()
        .partition(|e| matches!(e.envelope.kind(), EventKind::Commit | EventKind::Identity));
    let got: Vec<_> = good.iter().map(|e| (e.envelope.did.clone(), e.envelope.event_time_us)).collect();
    let want: Vec<_> = sent
        .iter()
        .map(|f| {
            let v: serde_json::Value = serde_json::from_str(f).unwrap();
            (v["did"].as_str().map(str::to_owned), v["time_us"].as_i64())
        })
        .collect();
    assert_eq!(got, want);
    others
}

fn small_frames(url: String) -> LiveOptions {
    let mut o = opts(vec![url]);
    o.connection.max_frame_bytes = 8192;
    o
}

/// Live ingest over `around(bad)` on either wire, with one rejected event expected: that event, and the
/// connections it took.
async fn one_rejected(bad: Message, v2: bool) -> (reprise_events::StoredEvent, usize) {
    let (h, sent) = around(bad, 100_000);
    let server = JetstreamServer::start(h, Faults::default()).await;
    let url = if v2 { server.v2_url() } else { server.v1_url() };
    let dir = tempfile::tempdir().unwrap();
    let mut live = Live::start(dir.path(), small_frames(url));
    live.wait_head(7).await;
    live.stop().await;
    let mut rejected = others(dir.path(), &sent);
    assert_eq!(rejected.len(), 1, "{v2}");
    (rejected.remove(0), server.connections())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_over_the_websocket_frame_limit_is_kept_as_rejected_on_the_same_connection() {
    for v2 in [false, true] {
        let (rejected, connections) = one_rejected(ws_frames::long_text(17 << 20), v2).await;
        let reason = rejected.envelope.reject_reason.as_deref().unwrap();
        assert_eq!(
            reason,
            "frame of 17825792 bytes exceeds the 8192-byte limit; its first 8192 bytes are kept"
        );
        assert_eq!(rejected.frame.len(), 8192, "{v2}");
        assert_eq!(connections, 1, "{v2}: no reconnect");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_frame_that_is_not_utf8_is_kept_as_rejected_on_the_same_connection() {
    let bad = b"{\"did\":\"did:plc:\xff\xfe\"}";
    for v2 in [false, true] {
        let (rejected, connections) = one_rejected(ws_frames::raw_text(bad), v2).await;
        let reason = rejected.envelope.reject_reason.as_deref().unwrap();
        assert!(reason.starts_with("text frame is not UTF-8"), "{v2}: {reason}");
        assert_eq!(rejected.frame, bad, "{v2}");
        assert_eq!(connections, 1, "{v2}: no reconnect");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_the_websocket_layer_refuses_is_recorded_stepped_over_and_left_as_a_gap() {
    for v2 in [false, true] {
        // Frames 0.5 ms apart: the first step over (1 ms past the last frame read) lands on the next one.
        let (h, sent) = around(ws_frames::reserved_bits(b"\x28\xb5\x2f\xfd"), 500);
        let server = JetstreamServer::start(h.clone(), Faults::default()).await;
        let url = if v2 { server.v2_url() } else { server.v1_url() };
        let dir = tempfile::tempdir().unwrap();
        let mut live = Live::start(dir.path(), small_frames(url.clone()));
        live.wait_head(8).await;
        live.stop().await;
        let others = others(dir.path(), &sent);
        let kinds: Vec<_> = others.iter().map(|e| e.envelope.kind()).collect();
        assert_eq!(kinds, [EventKind::Rejected, EventKind::Gap], "{v2}");
        let reason = others[0].envelope.reject_reason.as_deref().unwrap();
        assert!(reason.contains("Reserved bits are non-zero"), "{v2}: {reason}");
        let gap = others[1].envelope.gap.unwrap();
        let expected = match v2 {
            false => GapRange { from: h.time_of(3) + 1, to: h.time_of(3) + 1_000 },
            true => GapRange { from: 4, to: 5 },
        };
        assert_eq!(gap, expected, "{v2}");
        assert_eq!(server.connections(), 2, "{v2}: one reconnect, past the frame");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_resumes_inclusively_by_seq_across_error_frames_and_restarts() {
    let h = history(120);
    let faults = Faults { error_after: Some((40, "ConsumerTooSlow".into())), ..Default::default() };
    let server = JetstreamServer::start(h.clone(), faults).await;
    let dir = tempfile::tempdir().unwrap();
    let mut live = Live::start(dir.path(), opts(vec![server.v2_url()]));
    live.wait_head(120).await;
    let m = live.metrics.clone();
    live.stop().await;
    let (wire, text) = (m.wire_bytes_received.load(Relaxed), m.bytes_received.load(Relaxed));
    assert!(wire < text, "v2 frames arrive compressed: {wire} bytes on the wire for {text}");
    for f in frames(30, 120) {
        h.push(&f);
    }
    let mut live = Live::start(dir.path(), opts(vec![server.v2_url()]));
    live.wait_head(150).await;
    let log = live.stop().await;
    assert_exactly_once(dir.path(), &h.v1_frames());
    let q = server.queries();
    assert!(q[0].contains("collections=fm.plyr.*") && !q[0].contains("wantedCollections"), "{q:?}");
    // Compression on v2: the dictionary came from getZstdDictionary and the subscription names it.
    assert!(q.iter().all(|q| q.contains("zstdDictionary=1612007021")), "{q:?}");
    assert!(q[1].contains("cursor=40") || q[1].contains("cursor=41"), "after the error frame: {q:?}");
    assert!(q[2].contains("cursor=120"), "restart resumes inclusively at the stored seq: {q:?}");
    assert_eq!(log.cursor(&server.v2_url()).unwrap().unwrap().cursor, 150);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursor_too_old_records_the_gap_and_resumes_at_the_floor() {
    let h = history(10);
    let server = JetstreamServer::start(h.clone(), Faults::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut live = Live::start(dir.path(), opts(vec![server.v2_url()]));
    live.wait_head(10).await;
    live.stop().await;
    for f in frames(40, 10) {
        h.push(&f);
    }
    server.set_faults(Faults { floor_seq: Some(30), ..Default::default() });
    let mut live = Live::start(dir.path(), opts(vec![server.v2_url()]));
    // 10 events, the gap, and seqs 30..=50.
    live.wait_head(10 + 1 + 21).await;
    live.stop().await;
    let all = h.v1_frames();
    let delivered: Vec<String> = all[..10].iter().chain(&all[29..]).cloned().collect();
    assert_eq!(assert_exactly_once(dir.path(), &delivered), 1);
    let gap = LogReader::open(dir.path()).unwrap().read_after(10, 1).unwrap().remove(0);
    assert_eq!(gap.envelope.kind(), EventKind::Gap);
    assert_eq!(gap.envelope.gap, Some(GapRange { from: 10, to: 30 }));
    assert_eq!(gap.source, server.v2_url());
}

fn repo_tracks(repo: u64, from: usize, n: usize) -> Vec<String> {
    (from..from + n)
        .map(|i| {
            let rev = tid(1_779_000_000_000_000 + (repo * 10_000 + i as u64) * 1_000, 0);
            FrameBuilder::new(&did(repo)).track(
                "create",
                &rev,
                &rev,
                &format!("Track {i}"),
                "2026-05-25T14:23:29.950Z",
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_filters_change_on_the_open_connection_and_v2_reconnects_with_them() {
    for v2 in [false, true] {
        let h = history(0);
        for (a, b) in repo_tracks(0, 0, 10).into_iter().zip(repo_tracks(1, 0, 10)) {
            h.push(&a);
            h.push(&b);
        }
        let server = JetstreamServer::start(h.clone(), Faults::default()).await;
        let url = if v2 { server.v2_url() } else { server.v1_url() };
        let dir = tempfile::tempdir().unwrap();
        let mut o = opts(vec![url]);
        o.filters.wanted_dids = vec![did(0)];
        let log = EventLog::open(dir.path()).unwrap();
        let mut head = log.subscribe();
        let (filters_tx, filters_rx) = watch::channel(reprise_ingest::Filters::default());
        let shutdown = reprise_events::Shutdown::new();
        let metrics = Arc::new(IngestMetrics::default());
        let task = tokio::spawn(reprise_ingest::run_live_with_filters(
            log,
            o,
            metrics,
            shutdown.clone(),
            Some(filters_rx),
        ));
        let wait = |head: &mut watch::Receiver<i64>, n: i64| {
            let mut head = head.clone();
            async move {
                tokio::time::timeout(PATIENCE, head.wait_for(|h| *h >= n)).await.is_ok_and(|r| r.is_ok())
            }
        };
        assert!(wait(&mut head, 10).await, "{v2}: the first repo's tracks");
        filters_tx.send_replace(reprise_ingest::Filters {
            wanted_collections: vec!["fm.plyr.*".into()],
            wanted_dids: vec![did(0), did(1)],
        });
        if v2 {
            server.wait_connections(2).await;
        } else {
            server.wait_options_updates(2).await;
        }
        for f in repo_tracks(1, 10, 5) {
            h.push(&f);
        }
        assert!(wait(&mut head, 15).await, "{v2}: the second repo's new tracks");
        shutdown.stop();
        task.await.unwrap().unwrap();
        let q = server.queries();
        if v2 {
            assert!(q[1].contains(&format!("dids={}", did(1))), "{q:?}");
        } else {
            assert_eq!(q.len(), 1, "v1 changed filters without reconnecting: {q:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_point_beyond_the_replay_window_records_the_gap() {
    let h = history(300); // 30 s of history ending now
    let server = JetstreamServer::start(h.clone(), Faults::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(vec![server.v1_url()]);
    let asked = o.start_cursor_us.unwrap() - 5_000_000;
    o.replay_window = Duration::from_secs(10);
    let mut live = Live::start(dir.path(), o);
    live.wait_head(1).await;
    let gap = LogReader::open(dir.path()).unwrap().read_after(0, 1).unwrap().remove(0);
    let range = gap.envelope.gap.expect("the first event is the gap");
    assert_eq!(range.from, asked);
    // Everything the host still had from the end of the gap on arrives, exactly once.
    let all = h.v1_frames();
    let kept: Vec<String> =
        (1..=300).filter(|s| h.time_of(*s) >= range.to).map(|s| all[s as usize - 1].clone()).collect();
    assert!(kept.len() > 50 && kept.len() < 150, "{}", kept.len());
    live.wait_head(1 + kept.len() as i64).await;
    live.stop().await;
    assert_eq!(assert_exactly_once(dir.path(), &kept), 1);
    assert!(server.queries()[0].contains(&format!("cursor={}", range.to)));
}
