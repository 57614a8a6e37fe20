//! `api`: getTracks (first page) and getTrack under load from a second process (wrk, 64
//! connections, 2 threads), against a trivial axum handler served by the same process in the same
//! run. The read models come from generated log events folded by the real projector: `--events`
//! likes, a tenth as many tracks and as many plays (the issue's 1,000,000 / 100,000 / 100,000).
//! views.db is read through once before the warm-up, so the figures are the API's in steady state
//! (its pages in the OS cache), not those of a disk shared with other work.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use reprise_events::EventLog;
use reprise_ingest::{FixtureOptions, ingest_fixture};
use reprise_query_api::{ApiOptions, AppState};
use reprise_testkit::{Mix, generate};
use tokio::net::TcpListener;

use crate::Options;
use crate::measure::{emit, median_of};

const SEED: u64 = 20_260_606;
const CONNECTIONS: &str = "64";
const THREADS: &str = "2";
/// How many distinct tracks getTrack cycles through: enough that no cache holds one hot answer.
const TRACK_SAMPLE: usize = 10_000;

/// Picks a path per request (from the file given after `--`, or the URL's own path), and prints
/// the figures as one JSON line when done, so nothing depends on wrk's human-readable report.
const WRK_SCRIPT: &str = r#"
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end
local paths, n = {}, 0
function init(args)
  math.randomseed(id * 7919 + os.time())
  if args[1] then
    for line in io.lines(args[1]) do n = n + 1; paths[n] = line end
  end
end
function request()
  if n == 0 then return wrk.format("GET") end
  return wrk.format("GET", paths[math.random(n)])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"socket_errors":%d,"status_errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"#;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

pub fn run(opts: &Options) -> Result<(), String> {
    if Command::new("wrk").arg("--version").output().is_err() {
        return Err(
            "the api suite loads the server with wrk, which is not installed: run scripts/bench-setup \
                    (or `apt-get install wrk`)"
                .into(),
        );
    }
    let data = read_models(opts)?;
    read_through(&data.join(reprise_projector::VIEWS_FILE))?;
    let script = opts.dir.join("api.lua");
    std::fs::write(&script, WRK_SCRIPT).map_err(err)?;
    let uris = opts.dir.join(format!("api-{}-tracks.txt", opts.events));
    write_track_paths(&data, &uris)?;

    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(err)?;
    let (api, trivial) = rt.block_on(async {
        // The options `reprise serve` builds from the default configuration, with the rate limit off.
        let options = ApiOptions { rate_limit_per_minute: 0, ..ApiOptions::default() };
        let state = AppState::with_options(
            data.join(reprise_projector::VIEWS_FILE),
            data.join(reprise_events::LOG_FILE),
            options,
            None,
        )
        .map_err(err)?;
        let api = TcpListener::bind("127.0.0.1:0").await.map_err(err)?;
        let trivial = TcpListener::bind("127.0.0.1:0").await.map_err(err)?;
        let addrs = (api.local_addr().map_err(err)?, trivial.local_addr().map_err(err)?);
        tokio::spawn(reprise_query_api::serve(api, state, std::future::pending()));
        let ok = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
        tokio::spawn(async move { axum::serve(trivial, ok).await });
        Ok::<_, String>(addrs)
    })?;

    let seconds = opts.seconds.unwrap_or(10).to_string();
    let tracks_url = format!("http://{api}/xrpc/fm.reprise.getTracks");
    let track_url = format!("http://{api}/xrpc/fm.reprise.getTrack");
    let trivial_url = format!("http://{trivial}/");
    let load = |url: &str, paths: Option<&Path>, secs: &str| wrk(&script, url, paths, secs);
    // Warm the page cache and the connection pool before anything is measured.
    for (url, paths) in [(&tracks_url, None), (&track_url, Some(uris.as_path())), (&trivial_url, None)] {
        load(url, paths, "2")?;
    }
    let mut figures: Vec<[Load; 3]> = Vec::new();
    for _ in 0..opts.runs {
        // Interleaved, so a noisy neighbour slows all three alike.
        figures.push([
            load(&trivial_url, None, &seconds)?,
            load(&tracks_url, None, &seconds)?,
            load(&track_url, Some(&uris), &seconds)?,
        ]);
    }
    drop(rt);
    let median = |i: usize, f: fn(&Load) -> f64| {
        let mut it = figures.iter();
        median_of(figures.len(), || Ok(f(&it.next().expect("one per run")[i])))
    };
    let (base_rps, base_p99) = (median(0, |l| l.rps)?, median(0, |l| l.p99_ms)?);
    emit("api", "trivial_requests_per_s", base_rps, "requests/s", base_rps);
    emit("api", "trivial_p99", base_p99, "ms", base_p99);
    for (i, name) in [(1, "getTracks"), (2, "getTrack")] {
        emit("api", &format!("{name}_requests_per_s"), median(i, |l| l.rps)?, "requests/s", base_rps);
        emit("api", &format!("{name}_p99"), median(i, |l| l.p99_ms)?, "ms", base_p99);
    }
    Ok(())
}

/// One wrk run's figures.
#[derive(Debug, Clone, Copy)]
struct Load {
    rps: f64,
    p99_ms: f64,
}

fn wrk(script: &Path, url: &str, paths: Option<&Path>, seconds: &str) -> Result<Load, String> {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t", THREADS, "-c", CONNECTIONS, "-d", &format!("{seconds}s"), "--latency", "-s"])
        .arg(script)
        .arg(url);
    if let Some(p) = paths {
        cmd.arg("--").arg(p);
    }
    let out = cmd.output().map_err(|e| format!("wrk: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!("wrk failed on {url}: {stdout}{}", String::from_utf8_lossy(&out.stderr)));
    }
    let line = stdout
        .lines()
        .find(|l| l.starts_with("{\"requests\""))
        .ok_or_else(|| format!("wrk printed no summary for {url}: {stdout}"))?;
    let v: serde_json::Value = serde_json::from_str(line).map_err(err)?;
    let num = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    // Every answer must be a 200: a fast stream of errors would measure nothing.
    if num("status_errors") > 0.0 || num("socket_errors") > 0.0 {
        return Err(format!("{url}: requests failed under load: {line}"));
    }
    Ok(Load { rps: num("requests") / (num("duration_us") / 1e6), p99_ms: num("p99_us") / 1000.0 })
}

/// The log and read models for `--events` likes, built once (generate → ingest → rebuild) and kept.
fn read_models(opts: &Options) -> Result<PathBuf, String> {
    let dir = opts.dir.join(format!("api-{}", opts.events));
    let ready = dir.join("ready");
    if ready.exists() {
        return Ok(dir);
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(err)?;
    }
    std::fs::create_dir_all(&dir).map_err(err)?;
    // Weights per 1,204: 100 track creations, 1,000 likes, 100 plays, and a few handles and
    // profiles, so `1.204 × --events` events hold (in expectation) the issue's proportions.
    let mix = Mix {
        track_create: 100,
        track_update: 0,
        track_delete: 0,
        like: 1000,
        comment: 0,
        list: 0,
        play: 100,
        profile: 2,
        account: 0,
        identity: 2,
        redelivery: 0,
    };
    let events = opts.events * 1204 / 1000;
    let fixture = opts.dir.join(format!("api-fixture-{}.jsonl", opts.events));
    let t = std::time::Instant::now();
    {
        let mut out = BufWriter::new(std::fs::File::create(&fixture).map_err(err)?);
        generate(&mut out, events, (events / 250).max(10), SEED, &mix).map_err(err)?;
        out.flush().map_err(err)?;
    }
    let mut log = EventLog::open(&dir).map_err(err)?;
    ingest_fixture(&mut log, &fixture, &FixtureOptions::default(), &reprise_events::Shutdown::new())
        .map_err(err)?;
    drop(log);
    let catalog = reprise_projector::Catalog::builtin();
    reprise_projector::rebuild(&dir, &dir.join(reprise_projector::VIEWS_FILE), None, &catalog)
        .map_err(err)?;
    std::fs::remove_file(&fixture).map_err(err)?;
    let conn = table_counts(&dir)?;
    eprintln!("built read models in {:.0} s: {conn}", t.elapsed().as_secs_f64());
    std::fs::write(&ready, conn).map_err(err)?;
    Ok(dir)
}

/// Reads `path` once, sequentially, so its pages are in the OS cache before anything is timed.
fn read_through(path: &Path) -> Result<(), String> {
    let mut file = std::fs::File::open(path).map_err(err)?;
    std::io::copy(&mut file, &mut std::io::sink()).map_err(err)?;
    Ok(())
}

/// Row counts of the tables the targets name, as one line.
fn table_counts(dir: &Path) -> Result<String, String> {
    let conn =
        reprise_projector::schema::open_read_only(&dir.join(reprise_projector::VIEWS_FILE)).map_err(err)?;
    let mut parts = Vec::new();
    for table in ["tracks", "likes", "plays", "actors"] {
        let n: i64 =
            conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0)).map_err(err)?;
        parts.push(format!("{n} {table}"));
    }
    Ok(parts.join(", "))
}

/// getTrack paths for a random sample of tracks, one per line, for the wrk script.
fn write_track_paths(data: &Path, out: &Path) -> Result<(), String> {
    let conn =
        reprise_projector::schema::open_read_only(&data.join(reprise_projector::VIEWS_FILE)).map_err(err)?;
    let mut stmt = conn
        .prepare(&format!("SELECT uri FROM tracks ORDER BY random() LIMIT {TRACK_SAMPLE}"))
        .map_err(err)?;
    let uris: Vec<String> =
        stmt.query_map([], |r| r.get(0)).map_err(err)?.collect::<Result<_, _>>().map_err(err)?;
    if uris.is_empty() {
        return Err("the read models hold no tracks".into());
    }
    let mut w = BufWriter::new(std::fs::File::create(out).map_err(err)?);
    for uri in uris {
        writeln!(w, "/xrpc/fm.reprise.getTrack?uri={uri}").map_err(err)?;
    }
    w.flush().map_err(err)
}
