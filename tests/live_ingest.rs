//! `reprise run --jetstream URL` against the Jetstream-compatible test server: kill -9 at random points
//! loses and duplicates nothing, and `reprise status` reports the host's cursor.

mod support;

use std::sync::Arc;

use reprise_testkit::{Faults, FrameBuilder, History, JetstreamServer, Rng, did, identity, tid};
use support::{Running, log_identities, message, ok_json, reprise};

fn frame(i: u64) -> String {
    if i % 4 == 3 {
        identity(&did(500 + i), i + 1, None)
    } else {
        let rev = tid(1_779_000_000_000_000 + i * 1_000, 0);
        FrameBuilder::new(&did(i % 5)).track(
            "create",
            &rev,
            &rev,
            &format!("Track {i}"),
            "2026-05-25T14:23:29.950Z",
        )
    }
}

fn spawn(data: &std::path::Path, url: &str) -> Running {
    let mut run = Running::spawn(reprise(data).args(["--listen", "127.0.0.1:0", "run", "--jetstream", url]));
    run.wait_for("connected", |v| message(v) == "connected to jetstream");
    run
}

#[test]
fn kill_9_at_random_points_loses_and_duplicates_nothing() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let history: Arc<History> = History::new();
    let server = rt.block_on(JetstreamServer::start(history.clone(), Faults::default()));
    let url = server.v1_url();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut rng = Rng::new(7);
    let mut pushed = 0u64;
    for _round in 0..4 {
        let mut run = spawn(&data, &url);
        for _ in 0..150 {
            history.push(&frame(pushed));
            pushed += 1;
        }
        // Let the process get somewhere between nothing and everything, then kill it mid-flight.
        for _ in 0..rng.below(2) {
            run.wait_for("a log line", |_| true);
        }
        run.signal("KILL");
        run.child.wait().unwrap();
    }
    let mut run = spawn(&data, &url);
    for _ in 0..50 {
        history.push(&frame(pushed));
        pushed += 1;
    }
    let total = pushed as i64;
    run.wait_for("caught up", |v| message(v) == "projector caught up" && v["fields"]["checkpoint"] == total);
    run.signal("TERM");
    assert_eq!(run.child.wait().unwrap().code(), Some(0));

    let got = log_identities(&data);
    assert_eq!(got.len() as u64, pushed, "lost events");
    let status = ok_json(reprise(&data).arg("status"));
    assert_eq!(status["head"], total);
    assert_eq!(status["sources"][0]["source"], url);
    assert_eq!(status["sources"][0]["cursor"], history.time_of(total));
    assert_eq!(status["events_by_kind"]["identity"], (0..pushed).filter(|i| i % 4 == 3).count());
    drop(server);
}

#[test]
fn a_bad_jetstream_url_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = reprise(dir.path()).args(["run", "--jetstream", "ws://127.0.0.1:1/firehose"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown Jetstream path"));
}
