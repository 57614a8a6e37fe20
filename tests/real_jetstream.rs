//! The real Jetstream, end to end: the reference PLC + PDS (`@atproto/dev-env`, as in `real_pds.rs`)
//! is the upstream of the real Jetstream server (built from `tests/jetstream/` by
//! `scripts/install-jetstream`; the dev-env PDS serves the `listRepos` and `subscribeRepos` it needs as
//! its relay), and reprise follows Jetstream's v1 `/subscribe` with compression on, next to a node
//! following the PDS's firehose directly. Records written through the PDS (creates, updates, deletes,
//! a takedown and its reversal) answer identically on both. Then reprise is killed with SIGKILL and
//! restarted, and Jetstream stopped and restarted, with writes while each is down: nothing is lost or
//! duplicated (the log is counted by identity against the firehose node's). A node started afterwards
//! replays it all from Jetstream's disk; a node following a new Jetstream that bootstrapped from the
//! repos (`getRepo`) sees the same records, without handles (that Jetstream emits no identity events).

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use reprise_testkit::audio::write_sine_wav;
use serde_json::{Value, json};
use support::pds::{DevEnv, Written, node, playable, portable, xrpc};
use support::{Running, eventually, fetch, log_identities, message};

/// A free loopback port, so a restarted Jetstream can come back at the same address.
fn free_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

/// One Jetstream process over `data`, listening on `addr`, with the dev-env PDS as its relay.
fn jetstream(data: &Path, addr: &str, env: &DevEnv) -> Running {
    let mut cmd = Command::new(support::installed("REAL_JETSTREAM_BIN", "install-jetstream"));
    // Jetstream refuses to start with a JETSTREAM_* variable it does not know.
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("JETSTREAM_")) {
        cmd.env_remove(k);
    }
    cmd.args([
        "--log-format",
        "json",
        "serve",
        "--addr",
        addr,
        "--relay-url",
        &env.pds,
        "--plc-url",
        &env.plc_multikey,
    ])
    .arg("--data-dir")
    .arg(data)
    // As a relay the one PDS holds every repo; no end-of-merge rescan of listRepos is needed.
    .args(["--skip-merge-discovery", "--cursor-lookback", "24h", "--disable-repo-action-rate-limits"]);
    let mut js = Running::spawn(&mut cmd);
    js.wait_for("Jetstream's steady state", |v| v["msg"] == "steady-state consumer running");
    js
}

/// A reprise node following Jetstream at `url`.
fn follower(data: &Path, env: &DevEnv, url: &str, start: &str) -> Running {
    let mut cmd = node(data, env);
    cmd.env("REPRISE_INGEST__JETSTREAM_START", start).env("REPRISE_INGEST__BACKOFF_MAX_MS", "1000").args([
        "--listen",
        "127.0.0.1:0",
        "run",
        "--jetstream",
        url,
    ]);
    Running::spawn(&mut cmd)
}

fn listening_and_connected(run: &mut Running) -> String {
    let addr = run.wait_listening();
    run.wait_for("the Jetstream connection", |v| message(v) == "connected to jetstream");
    addr
}

/// Every read the nodes must agree on, with what is each node's own left out (`portable`).
fn answers(addr: &str, queries: &[String]) -> Vec<(String, u16, Value)> {
    queries
        .iter()
        .map(|q| {
            let (status, body) = xrpc(addr, q);
            (q.clone(), status, portable(body))
        })
        .collect()
}

fn assert_same_answers(a: &str, b: &str, queries: &[String]) {
    for ((q, sa, va), (_, sb, vb)) in answers(a, queries).into_iter().zip(answers(b, queries)) {
        assert_eq!((sa, &va), (sb, &vb), "{q}");
    }
    let (_, stats_a) = xrpc(a, "getStats");
    let (_, stats_b) = xrpc(b, "getStats");
    for total in ["tracks", "artists", "likes", "comments", "plays", "totalDurationSeconds"] {
        assert_eq!(stats_a[total], stats_b[total], "getStats {total}: {stats_a} vs {stats_b}");
    }
}

/// Once `addr` shows `uri` liked once: each `more` write set ends with that like, and one PDS's
/// events arrive in commit order, so the node then holds the whole set.
fn wait_for_like(addr: &str, uri: &str) {
    let started = std::time::Instant::now();
    loop {
        let (status, body) = xrpc(addr, &format!("getTrack?uri={uri}"));
        if body["track"]["likeCount"] == 1 {
            return;
        }
        let stats = xrpc(addr, "getStats").1;
        assert!(
            started.elapsed() < support::EVENTUALLY,
            "no like of {uri} on {addr}: {status} {body} {stats}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// A `prometheus` counter from `/metrics`, summed over its labels.
fn counter(addr: &str, name: &str) -> f64 {
    let (_, _, body) = fetch(addr, "/metrics", None);
    String::from_utf8_lossy(&body)
        .lines()
        .filter(|l| l.split(['{', ' ']).next().is_some_and(|n| n.ends_with(name)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn reprise_following_the_real_jetstream_agrees_with_the_firehose_and_survives_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = DevEnv::start();
    let wav = dir.path().join("song.wav");
    write_sine_wav(&wav, 44_100, 1, 2.0, 440.0, 0.5);

    // Jetstream bootstraps from the empty PDS, then follows its firehose.
    let (js_data, js_addr) = (dir.path().join("jetstream"), free_addr());
    let mut js = jetstream(&js_data, &js_addr, &env);
    let js_url = format!("ws://{js_addr}/subscribe");

    let f_data = dir.path().join("firehose-node");
    let mut f = Running::spawn(
        node(&f_data, &env).args(["--listen", "127.0.0.1:0", "run", "--firehose"]).arg(env.firehose()),
    );
    let f_addr = f.wait_listening();
    f.wait_for("the firehose connection", |v| message(v) == "connected to firehose");
    let j_data = dir.path().join("jetstream-node");
    let mut j = follower(&j_data, &env, &js_url, "live");
    let j_addr = listening_and_connected(&mut j);

    let written = Written::of(&env.call(json!({"op": "scenario", "wav": wav})));
    let song = &written.tracks[0];
    for addr in [&f_addr, &j_addr] {
        eventually(&format!("{addr} to reach the last write"), || {
            let (_, body) = xrpc(addr, &format!("getNowPlaying?actor={}", written.fan));
            body.get("status").map(|_| ())
        });
        playable(addr, song);
    }
    let live = playable(&j_addr, song);
    assert_eq!(
        (live["title"].as_str(), live["likeCount"].as_i64()),
        (Some("First Light (remaster)"), Some(1))
    );
    assert_eq!(live["artist"]["handle"], "artist.test", "Jetstream passes the PDS's identity events");
    assert_eq!(xrpc(&j_addr, &format!("getTrack?uri={}", written.deleted)).0, 404);
    let queries = written.queries();
    assert_same_answers(&f_addr, &j_addr, &queries);
    // Compression was on: fewer bytes came over the socket than the frames hold.
    let (wire, frames) =
        (counter(&j_addr, "wire_bytes_received_total"), counter(&j_addr, "bytes_received_total"));
    assert!(wire > 0.0 && wire < frames, "wire {wire} bytes, frames {frames} bytes");
    let (_, history) = xrpc(&j_addr, &format!("getRecordHistory?uri={song}"));
    let sources: Vec<&str> = history["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "commit")
        .map(|e| e["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, [js_url.as_str(), js_url.as_str()], "create and update, from Jetstream");

    // The takedown is an #account event on the firehose: Jetstream passes it on, and its reversal.
    env.call(json!({"op": "takedown", "did": written.artist, "applied": true}));
    for addr in [&f_addr, &j_addr] {
        eventually("the taken-down artist hidden", || {
            (xrpc(addr, &format!("getTrack?uri={song}")).0 == 404).then_some(())
        });
    }
    assert_same_answers(&f_addr, &j_addr, &queries);
    env.call(json!({"op": "takedown", "did": written.artist, "applied": false}));
    for addr in [&f_addr, &j_addr] {
        playable(addr, song);
    }

    // reprise dies mid-stream (SIGKILL) and misses writes while it is down.
    j.signal("KILL");
    j.child.wait().unwrap();
    let first = env.call(json!({"op": "more", "tag": "one"}));
    let mut j = follower(&j_data, &env, &js_url, "live");
    let j_addr = listening_and_connected(&mut j);
    wait_for_like(&j_addr, first["track"].as_str().unwrap());

    // Jetstream stops and misses writes while it is down; it resumes its upstream from the cursor it made
    // durable when it stopped, and reprise reconnects with its own (a time cursor 5 s back, which this
    // Jetstream resolves to its whole active segment: the log drops what it already holds). Graceful:
    // killed with SIGKILL, this Jetstream loses what it had not flushed yet (see the README).
    js.signal("TERM");
    assert!(js.child.wait().unwrap().success());
    let second = env.call(json!({"op": "more", "tag": "two"}));
    let js = jetstream(&js_data, &js_addr, &env);
    for addr in [&f_addr, &j_addr] {
        wait_for_like(addr, second["track"].as_str().unwrap());
    }
    let mut all = queries.clone();
    for more in [&first, &second] {
        let track = more["track"].as_str().unwrap();
        all.extend([
            format!("getTrack?uri={track}"),
            format!("getLikes?uri={track}"),
            format!("getComments?uri={track}"),
        ]);
    }
    assert_same_answers(&f_addr, &j_addr, &all);
    let f_events = log_identities(&f_data);
    assert_eq!(log_identities(&j_data), f_events, "nothing lost or duplicated through Jetstream");

    // A node started now replays everything from Jetstream's disk.
    let late_data = dir.path().join("late-node");
    let mut late = follower(&late_data, &env, &js_url, "oldest");
    let late_addr = listening_and_connected(&mut late);
    wait_for_like(&late_addr, second["track"].as_str().unwrap());
    playable(&late_addr, song);
    assert_same_answers(&f_addr, &late_addr, &all);
    assert_eq!(log_identities(&late_data), f_events, "the late node's log");
    drop((late, js));

    // A new Jetstream that bootstrapped after all the writes has them from getRepo, sealed: the final
    // state of each record as a create at its repo's rev, and no identity or account events.
    let (fresh_data, fresh_addr) = (dir.path().join("jetstream-fresh"), free_addr());
    let _fresh = jetstream(&fresh_data, &fresh_addr, &env);
    let boot_data = dir.path().join("bootstrapped-node");
    let mut boot = follower(&boot_data, &env, &format!("ws://{fresh_addr}/subscribe"), "oldest");
    let boot_addr = listening_and_connected(&mut boot);
    wait_for_like(&boot_addr, second["track"].as_str().unwrap());
    playable(&boot_addr, song);
    let without_handles: Vec<String> = all.iter().filter(|q| !q.contains(".test")).cloned().collect();
    for ((q, sa, va), (_, sb, vb)) in
        answers(&f_addr, &without_handles).into_iter().zip(answers(&boot_addr, &without_handles))
    {
        assert_eq!((sa, unhandled(va)), (sb, unhandled(vb)), "{q}");
    }
    let kinds: BTreeSet<String> =
        log_identities(&boot_data).iter().map(|e| e.split('|').next().unwrap().to_owned()).collect();
    assert_eq!(kinds, BTreeSet::from(["commit".to_owned()]), "no identity or account events");
}

/// A response without the `handle` fields a node learns only from identity events.
fn unhandled(mut v: Value) -> Value {
    match &mut v {
        Value::Object(m) => {
            m.remove("handle");
            for (_, x) in m.iter_mut() {
                *x = unhandled(x.take());
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| *x = unhandled(x.take())),
        _ => {}
    }
    v
}
