//! `reprise run --firehose URL` against the subscribeRepos test server: real signed commits become
//! tracks the API serves; updates, deletes and account takedowns reach the read models; a broken commit
//! is kept as rejected; `reprise status` shows the firehose's seq cursor.

mod support;

use reprise_testkit::firehose_frames::{LiveRepo, account_frame, identity_frame};
use reprise_testkit::{FirehoseHistory, FirehoseServer, Rng, tid};
use serde_json::{Value, json};
use support::{Running, get, message, ok_json, reprise};

fn track(title: &str) -> Value {
    json!({"$type": "fm.plyr.track", "title": title, "artist": "Firehose Artist", "fileType": "mp3",
           "createdAt": "2026-06-01T12:00:00.000Z", "audioUrl": "https://audio.example/a.mp3"})
}

fn uri(repo: &LiveRepo, rkey: &str) -> String {
    format!("at://{}/fm.plyr.track/{rkey}", repo.did())
}

fn get_track(addr: &str, uri: &str) -> (u16, Value) {
    get(addr, &format!("/xrpc/fm.reprise.getTrack?uri={uri}"))
}

fn caught_up(run: &mut Running, checkpoint: i64) {
    run.wait_for("caught up", |v| {
        message(v) == "projector caught up" && v["fields"]["checkpoint"] == checkpoint
    });
}

#[test]
fn run_with_a_firehose_ingests_projects_and_serves() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let history = FirehoseHistory::new();
    let server = rt.block_on(FirehoseServer::start(history.clone()));
    let url = server.url();
    let (mut a, mut b) = (LiveRepo::new(1), LiveRepo::new(2));
    let (one, two, three) = ("3kaaaaaaaaaa2", "3kaaaaaaaaab2", "3kaaaaaaaaac2");
    let did_a = a.did().to_owned();
    let like = json!({"$type": "fm.plyr.like", "createdAt": "2026-06-01T12:00:00.000Z",
                      "subject": {"uri": uri(&a, one), "cid": "bafyreigm4hr7b6fcgdbevnhyfcnfcaalw3f4npgkwzh4okrcpxa2ukn7ne"}});
    history.push_with(|s| {
        a.create("fm.plyr.track", one, &track("First"))
            .create("app.bsky.feed.post", "3kaaaaaaaaad2", &json!({"text": "not music"}))
            .commit_frame(s)
    });
    history.push_with(|s| {
        b.create("fm.plyr.like", "3kaaaaaaaaae2", &like)
            .create("fm.plyr.track", two, &track("Second"))
            .commit_frame(s)
    });
    history.push_with(|s| identity_frame(s, &did_a, Some("first.artist.test")));
    history.push_with(|s| b.create("fm.plyr.track", three, &track("Corrupted")).corrupted_commit_frame(s));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut run = Running::spawn(reprise(&data).args(["--listen", "127.0.0.1:0", "run", "--firehose", &url]));
    let addr = run.wait_listening();
    caught_up(&mut run, 5);
    let (status, body) = get_track(&addr, &uri(&a, one));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["track"]["title"], "First");
    assert_eq!(body["track"]["artist"]["handle"], "first.artist.test");
    assert_eq!(get_track(&addr, &uri(&b, two)).1["track"]["title"], "Second");
    assert_eq!(get_track(&addr, &uri(&b, three)).0, 404, "a commit whose block fails its CID is not served");

    history.push_with(|s| a.update("fm.plyr.track", one, &track("First (remaster)")).commit_frame(s));
    history.push_with(|s| account_frame(s, &did_a, false, Some("takendown")));
    caught_up(&mut run, 7);
    assert_eq!(get_track(&addr, &uri(&a, one)).0, 404, "a takendown account's tracks are hidden");
    history.push_with(|s| account_frame(s, &did_a, true, None));
    history.push_with(|s| b.delete("fm.plyr.track", two).commit_frame(s));
    caught_up(&mut run, 9);
    let (status, body) = get_track(&addr, &uri(&a, one));
    assert_eq!((status, &body["track"]["title"]), (200, &json!("First (remaster)")));
    assert_eq!(get_track(&addr, &uri(&b, two)).0, 404, "deleted");
    run.signal("TERM");
    assert_eq!(run.child.wait().unwrap().code(), Some(0));

    let status = ok_json(reprise(&data).arg("status"));
    assert_eq!(status["sources"][0]["source"], url);
    assert_eq!(status["sources"][0]["cursor"], 8);
    assert_eq!(status["events_by_kind"]["rejected"], 1);
    assert_eq!(status["events_by_kind"]["account"], 2);
    assert!(server.queries().iter().all(|q| q.starts_with("/xrpc/com.atproto.sync.subscribeRepos?cursor=")));
    drop(server);
}

/// Pushes message `i`: every 5th an identity event, otherwise a commit of a track and a like (two events).
fn push(history: &FirehoseHistory, repos: &mut [LiveRepo], i: u64) -> i64 {
    let n = repos.len() as u64;
    let repo = &mut repos[(i % n) as usize];
    if i % 5 == 4 {
        let did = repo.did().to_owned();
        history.push_with(|s| identity_frame(s, &did, None));
        return 1;
    }
    let rkey = tid(1_780_000_000_000_000 + i * 1_000, 0);
    let like = json!({"$type": "fm.plyr.like", "createdAt": "2026-06-01T12:00:00.000Z",
                      "subject": {"uri": uri(repo, &rkey), "cid": "bafyreigm4hr7b6fcgdbevnhyfcnfcaalw3f4npgkwzh4okrcpxa2ukn7ne"}});
    history.push_with(|s| {
        repo.create("fm.plyr.track", &rkey, &track(&format!("Track {i}")))
            .create("fm.plyr.like", &rkey, &like)
            .commit_frame(s)
    });
    2
}

#[test]
fn kill_9_at_random_points_loses_and_duplicates_nothing() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let history = FirehoseHistory::new();
    let server = rt.block_on(FirehoseServer::start(history.clone()));
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut repos: Vec<LiveRepo> = (10..13).map(LiveRepo::new).collect();
    let (mut rng, mut pushed, mut events) = (Rng::new(9), 0u64, 0i64);
    let spawn = || {
        let mut run =
            Running::spawn(reprise(&data).args(["--listen", "127.0.0.1:0", "run", "--firehose", &url]));
        run.wait_for("connected", |v| message(v) == "connected to firehose");
        run
    };
    for _round in 0..4 {
        let mut run = spawn();
        for _ in 0..60 {
            events += push(&history, &mut repos, pushed);
            pushed += 1;
        }
        // Let the process get somewhere between nothing and everything, then kill it mid-flight.
        for _ in 0..rng.below(3) {
            run.wait_for("a log line", |_| true);
        }
        run.signal("KILL");
        run.child.wait().unwrap();
    }
    let mut run = spawn();
    for _ in 0..20 {
        events += push(&history, &mut repos, pushed);
        pushed += 1;
    }
    caught_up(&mut run, events);
    run.signal("TERM");
    assert_eq!(run.child.wait().unwrap().code(), Some(0));

    let conn = rusqlite::Connection::open(data.join("events.db")).unwrap();
    let (rows, distinct): (i64, i64) = conn
        .query_row(
            "SELECT COUNT(*), COUNT(DISTINCT kind || did || IFNULL(collection, '') || IFNULL(rkey, '') || IFNULL(upstream_seq, ''))
             FROM events",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((rows, distinct), (events, events), "every event once");
    let status = ok_json(reprise(&data).arg("status"));
    assert_eq!(status["sources"][0]["cursor"], pushed);
    drop(server);
}

#[test]
fn a_bad_firehose_url_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = reprise(dir.path()).args(["run", "--firehose", "ws://127.0.0.1:1/subscribe"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("com.atproto.sync.subscribeRepos"));
    let out = reprise(dir.path())
        .env("REPRISE_INGEST__FIREHOSE", "http://127.0.0.1:1/xrpc/com.atproto.sync.subscribeRepos")
        .arg("status")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`ingest.firehose`"));
}
