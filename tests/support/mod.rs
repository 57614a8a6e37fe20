//! Running the real `reprise` binary: commands, a server on 127.0.0.1:0, and its JSON log lines.

#![allow(dead_code)]

pub mod pds;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// What an install script put in place: `$var` when set (`scripts/test` sets it after running the
/// script), else the path the script prints after installing it (or finding it installed).
pub fn installed(var: &str, script: &str) -> std::path::PathBuf {
    if let Some(path) = std::env::var_os(var) {
        return path.into();
    }
    let out = Command::new(format!("{}/scripts/{script}", env!("CARGO_MANIFEST_DIR")))
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("run scripts/{script}: {e}"));
    assert!(out.status.success(), "scripts/{script} failed");
    std::path::PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// `reprise` with a data dir and no inherited REPRISE_* configuration.
pub fn reprise(data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reprise"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("REPRISE_") || k == "RUST_LOG") {
        cmd.env_remove(k);
    }
    // Generated tracks carry made-up audio blobs: without this, `run` would try to fetch them from
    // plc.directory. The media tests turn it back on against their own local PDS.
    cmd.env("REPRISE_MEDIA__ENABLED", "false");
    cmd.arg("--data-dir").arg(data_dir).arg("--log-json");
    cmd
}

/// Runs to completion, asserts success, and parses the JSON summary it prints.
pub fn ok_json(cmd: &mut Command) -> serde_json::Value {
    let out: Output = cmd.output().expect("spawn reprise");
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// A child process whose stderr (JSON log lines) the test reads to know what it has done.
pub struct Running {
    pub child: Child,
    /// Stderr lines, read on their own thread so that waiting for one can time out.
    lines: Receiver<String>,
    pub seen: Vec<serde_json::Value>,
}

impl Running {
    pub fn spawn(cmd: &mut Command) -> Self {
        let mut child = cmd.stderr(Stdio::piped()).stdout(Stdio::null()).spawn().expect("spawn reprise");
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Running { child, lines, seen: Vec::new() }
    }

    /// Reads log lines until one satisfies `pred`; panics if the process exits first or no such
    /// line comes within `EVENTUALLY` (a hung test would otherwise hold CI until its deadline).
    pub fn wait_for(&mut self, what: &str, pred: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        let deadline = Instant::now() + EVENTUALLY;
        loop {
            let line = match self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => line,
                Err(RecvTimeoutError::Timeout) => {
                    panic!("no {what} within {EVENTUALLY:?}; log: {:#?}", self.seen)
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("reprise exited before {what}; log: {:#?}", self.seen)
                }
            };
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
            self.seen.push(v.clone());
            if pred(&v) {
                return v;
            }
        }
    }

    /// The address from the "listening" line.
    pub fn wait_listening(&mut self) -> String {
        let v = self.wait_for("listening", |v| message(v) == "listening");
        v["fields"]["addr"].as_str().unwrap().to_owned()
    }

    pub fn signal(&self, sig: &str) {
        let status =
            Command::new("kill").arg(format!("-{sig}")).arg(self.child.id().to_string()).status().unwrap();
        assert!(status.success());
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn message(v: &serde_json::Value) -> &str {
    v["fields"]["message"].as_str().unwrap_or("")
}

/// A minimal HTTP/1.1 GET over a std TcpStream: status and JSON body.
pub fn get(addr: &str, path: &str) -> (u16, serde_json::Value) {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").expect("http response");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (status, serde_json::from_str(&body).unwrap_or(serde_json::Value::Null))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        body = &rest[n + 2..];
    }
    out
}

/// Writes a generated fixture of `events` lines and returns its path.
pub fn generated_fixture(dir: &Path, events: u64, seed: u64) -> std::path::PathBuf {
    let path = dir.join(format!("generated-{seed}.jsonl"));
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    reprise_testkit::generate(&mut f, events, 200, seed, &reprise_testkit::Mix::default()).unwrap();
    std::io::Write::flush(&mut f).unwrap();
    path
}

/// The log's rows (everything but receive time) in seq order, for comparing two logs.
pub fn log_rows(data_dir: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(data_dir.join("events.db")).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT seq, source, source_cursor, kind, did, collection, rkey, operation, rev, cid, upstream_seq,
                    reject_reason, hex(frame) FROM events ORDER BY seq",
        )
        .unwrap();
    let n = stmt.column_count();
    stmt.query_map([], |r| {
        Ok((0..n).map(|i| format!("{:?}", r.get_ref(i).unwrap())).collect::<Vec<_>>().join("|"))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// How long `eventually` waits: media jobs and live ingest on a loaded 2-core machine.
pub const EVENTUALLY: Duration = Duration::from_secs(120);

/// Polls `probe` until it returns something, failing after `EVENTUALLY`.
pub fn eventually<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(started.elapsed() < EVENTUALLY, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A raw GET: status, headers (lowercased names) and body bytes.
pub fn fetch(addr: &str, path: &str, range: Option<&str>) -> (u16, HashMap<String, String>, Vec<u8>) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let range = range.map(|r| format!("Range: {r}\r\n")).unwrap_or_default();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{range}Connection: close\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect::<HashMap<_, _>>();
    assert!(!headers.contains_key("transfer-encoding"), "audio is sent with a length");
    (status, headers, raw[split + 4..].to_vec())
}

/// Every event in the log by the identity the log deduplicates on (kind, did, collection, rkey, rev,
/// operation, cid, upstream seq), asserting none appears twice.
pub fn log_identities(data: &Path) -> std::collections::BTreeSet<String> {
    let conn = rusqlite::Connection::open(data.join("events.db")).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT kind, did, collection, rkey, rev, operation, cid, upstream_seq FROM events
             WHERE kind IN ('commit', 'identity', 'account') ORDER BY seq",
        )
        .unwrap();
    let n = stmt.column_count();
    let cell = |v: rusqlite::types::ValueRef<'_>| match v {
        rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
        rusqlite::types::ValueRef::Integer(i) => i.to_string(),
        other => format!("{other:?}"),
    };
    let rows: Vec<String> = stmt
        .query_map([], |r| Ok((0..n).map(|i| cell(r.get_ref(i).unwrap())).collect::<Vec<_>>().join("|")))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let set: std::collections::BTreeSet<String> = rows.iter().cloned().collect();
    assert_eq!(set.len(), rows.len(), "the log holds duplicates");
    set
}
