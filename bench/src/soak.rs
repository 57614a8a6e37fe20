//! Suite `soak`: the real `reprise run` binary, in its own process, follows the Jetstream-compatible test
//! server (v1, zstd on) for `--seconds` (default 600) at 1,000 events/s, and the server drops every
//! connection every 30 s. The child's RSS is read from /proc every second.
//!
//! Reported: RSS growth from the end of the warm-up (the first three minutes, while the bounded SQLite page
//! caches fill) to the end, and the spread (max - min) after the warm-up,
//! each against the target of 20 MiB. The run fails unless the live log holds exactly what the same frames appended from a file give
//! (nothing lost, nothing duplicated).
//! The binary is `reprise` next to this bench's executable (`cargo build --release --bin reprise`), or
//! `BENCH_REPRISE_BIN`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reprise_events::{EventLog, LogReader};
use reprise_ingest::{FixtureOptions, ingest_fixture};
use reprise_testkit::{Faults, History, JetstreamServer, Mix, generate};

use crate::Options;
use crate::measure::emit;

const SEED: u64 = 20_261_122;
const RATE: u64 = 1_000;
const RECONNECT_EVERY: Duration = Duration::from_secs(30);
/// At 1,000 events/s the SQLite page caches (events.db writer 64 MiB, views.db 128 MiB, log reader
/// 16 MiB: the sizes rebuilds need) take about three minutes to fill; after that RSS must stay flat.
const WARM_UP: Duration = Duration::from_secs(180);
const TARGET_MIB: f64 = 20.0;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

pub fn run(opts: &Options) -> Result<(), String> {
    let seconds = opts.seconds.unwrap_or(600).max(WARM_UP.as_secs() + 30);
    let bin = binary()?;
    let dir = opts.dir.join("soak");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(err)?;
    }
    std::fs::create_dir_all(&dir).map_err(err)?;
    let mut frames = Vec::new();
    // Unique frames for the whole run, so every one of them must land in the log.
    generate(&mut frames, seconds * RATE, (seconds * RATE / 250).max(10), SEED, &Mix::default())
        .map_err(err)?;
    let lines: Vec<String> = String::from_utf8(frames).map_err(err)?.lines().map(str::to_owned).collect();

    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(err)?;
    let (samples, complete) = rt.block_on(soak(&bin, &dir, &lines, Duration::from_secs(seconds)))?;

    let after: Vec<f64> = samples.iter().filter(|(t, _)| *t >= WARM_UP).map(|(_, r)| *r).collect();
    let (first, last) = (after.first().copied().unwrap_or(0.0), after.last().copied().unwrap_or(0.0));
    let max = after.iter().copied().fold(f64::MIN, f64::max);
    let min = after.iter().copied().fold(f64::MAX, f64::min);
    emit("soak", "rss_growth_after_warmup_mib", last - first, "MiB", TARGET_MIB);
    emit("soak", "rss_spread_after_warmup_mib", max - min, "MiB", TARGET_MIB);
    emit("soak", "rss_end_mib", last, "MiB", first);
    let samples_path = dir.join("rss.tsv");
    let tsv: String = samples.iter().map(|(t, r)| format!("{}\t{r:.1}\n", t.as_secs())).collect();
    std::fs::write(&samples_path, tsv).map_err(err)?;
    eprintln!("soak: RSS samples in {}", samples_path.display());
    complete
}

fn binary() -> Result<PathBuf, String> {
    let path = match std::env::var_os("BENCH_REPRISE_BIN") {
        Some(p) => PathBuf::from(p),
        None => std::env::current_exe().map_err(err)?.with_file_name("reprise"),
    };
    if !path.is_file() {
        return Err(format!(
            "{} not found: run `cargo build --release --bin reprise` first, or set BENCH_REPRISE_BIN",
            path.display()
        ));
    }
    Ok(path)
}

/// Kills the child on every exit path, so a failed run leaves no node behind.
struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The RSS samples, and whether the log ended up holding every frame exactly once.
type Soaked = (Vec<(Duration, f64)>, Result<(), String>);

async fn soak(bin: &Path, dir: &Path, lines: &[String], length: Duration) -> Result<Soaked, String> {
    let history = History::new();
    let server = JetstreamServer::start(history.clone(), Faults::default()).await;
    let data = dir.join("data");
    let mut command = Command::new(bin);
    // The node runs on its embedded defaults: a REPRISE_* variable of the caller's would change it.
    for (name, _) in std::env::vars_os().filter(|(k, _)| k.to_string_lossy().starts_with("REPRISE_")) {
        command.env_remove(name);
    }
    let child = command
        .args(["run", "--jetstream", &server.v1_url(), "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("reprise.log")).map_err(err)?)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    let node = Node(child);
    server.wait_connections(1).await;

    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / RATE));
    let mut samples = Vec::new();
    let (mut next_sample, mut next_reconnect) = (Duration::ZERO, RECONNECT_EVERY);
    for line in lines {
        tick.tick().await;
        history.push(line);
        let t = start.elapsed();
        if t >= next_sample {
            samples.push((t, rss_mib_of(node.0.id()).ok_or("the node exited during the soak")?));
            next_sample += Duration::from_secs(1);
        }
        if t >= next_reconnect {
            server.disconnect_all();
            next_reconnect += RECONNECT_EVERY;
        }
        if t >= length {
            break;
        }
    }
    // The same frames appended from a file (the path the other suites trust) say what the log must hold:
    // the generator repeats some events on purpose, and those must be dropped as duplicates live too.
    let expected = expected_counts(dir, &lines[..history.len()])?;
    let reader = LogReader::open(&data).map_err(err)?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = kinds_without_gaps(&reader)?;
        if got == expected {
            return Ok((samples, Ok(())));
        }
        if Instant::now() > deadline {
            let complete =
                Err(format!("the live log holds {got:?}, the same frames from a file {expected:?}"));
            return Ok((samples, complete));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn expected_counts(dir: &Path, lines: &[String]) -> Result<Vec<(String, i64)>, String> {
    let file = dir.join("frames.jsonl");
    std::fs::write(&file, lines.join("\n") + "\n").map_err(err)?;
    let scratch = dir.join("from-file");
    let mut log = EventLog::open(&scratch).map_err(err)?;
    ingest_fixture(&mut log, &file, &FixtureOptions::default(), &reprise_events::Shutdown::new())
        .map_err(err)?;
    kinds_without_gaps(&LogReader::open(&scratch).map_err(err)?)
}

/// Events by kind; gaps are the log's own notes, not frames.
fn kinds_without_gaps(reader: &LogReader) -> Result<Vec<(String, i64)>, String> {
    Ok(reader.count_by_kind().map_err(err)?.into_iter().filter(|(k, _)| k != "gap").collect())
}

fn rss_mib_of(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse::<f64>().ok().map(|kib| kib / 1024.0)
}
