//! The real network, end to end: a PLC directory and a PDS from `@atproto/dev-env` (installed by
//! `scripts/install-pds`, driven by `tests/pds/network.mjs`) on loopback. Two accounts write tracks (one
//! with a real WAV blob), likes, comments, a playlist, a teal play and a now-playing status through the
//! PDS's own XRPC API, updating and deleting some. Node A follows the PDS's `subscribeRepos` firehose
//! live; node B backfills the same repos with `getRepo` afterwards. Both must answer the API identically,
//! each must have fetched the blob through the PDS's real `getBlob`, verified, transcoded and served it,
//! and the read models must show the final state of every record.

mod support;

use reprise_testkit::audio::write_sine_wav;
use serde_json::json;
use support::pds::{DevEnv, Written, node, playable, portable, served_audio, xrpc};
use support::{Running, eventually, ok_json};

#[test]
fn a_live_node_and_a_backfilled_node_agree_on_everything_the_real_pds_holds() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = DevEnv::start();
    let wav = dir.path().join("song.wav");
    write_sine_wav(&wav, 44_100, 1, 2.0, 440.0, 0.5);

    // Node A follows the firehose from before the first write.
    let a_data = dir.path().join("a");
    let mut a = Running::spawn(
        node(&a_data, &env).args(["--listen", "127.0.0.1:0", "run", "--firehose"]).arg(env.firehose()),
    );
    let a_addr = a.wait_listening();
    a.wait_for("the firehose connection", |v| support::message(v) == "connected to firehose");

    let written = Written::of(&env.call(json!({"op": "scenario", "wav": wav})));
    let song = &written.tracks[0];

    // The fan's now-playing status is the last write; one PDS's firehose is in commit order, so once A
    // shows it, A has everything before it.
    eventually("node A to reach the last write", || {
        let (_, body) = xrpc(&a_addr, &format!("getNowPlaying?actor={}", written.fan));
        body.get("status").map(|_| ())
    });
    let live = playable(&a_addr, song);
    assert_eq!(live["title"], "First Light (remaster)");
    assert_eq!(live["description"], "now louder");
    assert_eq!(
        (live["likeCount"].as_i64(), live["commentCount"].as_i64(), live["playCount"].as_i64()),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(live["artist"]["handle"], "artist.test");
    assert_eq!(xrpc(&a_addr, &format!("getTrack?uri={}", written.deleted)).0, 404);
    let (_, comments) = xrpc(&a_addr, &format!("getComments?uri={song}"));
    assert_eq!(comments["comments"][0]["text"], "lovely intro");
    let (_, list) = xrpc(&a_addr, &format!("getList?uri={}", written.list));
    let missing: Vec<bool> = list["items"].as_array().unwrap().iter().map(|i| i["missing"] == true).collect();
    assert_eq!(missing, [false, true, false]);
    let (_, unliked) = xrpc(&a_addr, &format!("getLikes?uri={}", written.tracks[1]));
    assert_eq!(unliked["likes"], json!([]));

    // Node B starts afterwards from the repos alone.
    let b_data = dir.path().join("b");
    let report =
        ok_json(node(&b_data, &env).args(["backfill", "--did", &written.artist, "--did", &written.fan]));
    assert_eq!(
        (report["done"].as_i64(), report["failed"].as_i64(), report["rejected"].as_i64()),
        (Some(2), Some(0), Some(0)),
        "{report}"
    );
    let nothing = dir.path().join("nothing.jsonl");
    std::fs::write(&nothing, "").unwrap();
    let mut b = Running::spawn(
        node(&b_data, &env).args(["--listen", "127.0.0.1:0", "run", "--fixture"]).arg(&nothing),
    );
    let b_addr = b.wait_listening();
    playable(&b_addr, song);

    for q in written.queries() {
        let (sa, va) = xrpc(&a_addr, &q);
        let (sb, vb) = xrpc(&b_addr, &q);
        assert_eq!((sa, portable(va)), (sb, portable(vb)), "{q}");
    }
    let (_, stats_a) = xrpc(&a_addr, "getStats");
    let (_, stats_b) = xrpc(&b_addr, "getStats");
    for total in ["tracks", "artists", "likes", "comments", "plays", "totalDurationSeconds"] {
        assert_eq!(stats_a[total], stats_b[total], "getStats {total}: {stats_a} vs {stats_b}");
    }
    assert_eq!(served_audio(&a_addr, &written.blob), served_audio(&b_addr, &written.blob));

    // What each node holds came the way it should: A's versions from the firehose, B's from getRepo.
    let sources = |addr: &str| -> Vec<String> {
        let (_, h) = xrpc(addr, &format!("getRecordHistory?uri={song}"));
        h["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "commit")
            .map(|e| e["source"].as_str().unwrap().to_owned())
            .collect()
    };
    let (a_sources, b_sources) = (sources(&a_addr), sources(&b_addr));
    assert_eq!(a_sources.len(), 2, "create and update: {a_sources:?}");
    assert!(a_sources.iter().all(|s| s == &env.firehose()), "{a_sources:?}");
    assert_eq!(b_sources, [format!("backfill:{}", env.pds)]);

    // A moderator takes the artist down on the PDS: the firehose's #account event hides the artist's
    // content on A (the history still shows it), and restoring the account brings it back.
    env.call(json!({"op": "takedown", "did": written.artist, "applied": true}));
    eventually("node A to hide the taken-down artist", || {
        (xrpc(&a_addr, &format!("getTrack?uri={song}")).0 == 404).then_some(())
    });
    let (_, feed) = xrpc(&a_addr, "getTracks");
    assert_eq!(feed["tracks"], json!([]), "{feed}");
    let (_, artist) = xrpc(&a_addr, &format!("getArtist?actor={}", written.artist));
    assert_eq!(artist["artist"]["status"], "takendown", "{artist}");
    assert_eq!(sources(&a_addr).len(), 2, "the history keeps everything");
    env.call(json!({"op": "takedown", "did": written.artist, "applied": false}));
    let restored = playable(&a_addr, song);
    assert_eq!(restored["title"], "First Light (remaster)");
}
