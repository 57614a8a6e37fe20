//! Suite `ingest`: live ingest from the Jetstream-compatible test server over loopback, zstd on.
//!
//! - throughput: decode + envelope (with the record CID check) + durable append of `--events` frames
//!   replayed by the server, against the same frames appended from a file with `ingest_fixture`;
//! - latency: frame receipt to durable append at 1,000 events/s (p50, p99);
//! - memory: RSS growth over the paced run with a forced reconnect every 5 s, against the growth of the
//!   server's own history in the same process (a leak in the client shows as a ratio well above 1).

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use reprise_events::{EventLog, LogReader, Shutdown};
use reprise_ingest::{FixtureOptions, IngestMetrics, LiveOptions, ingest_fixture, now_us, run_live};
use reprise_testkit::{Faults, History, JetstreamServer, Mix, generate};

use crate::Options;
use crate::measure::{emit, median_of, rss_mib};

const SEED: u64 = 20_260_303;
/// The paced phase: 1,000 events/s for this long.
const PACED_SECONDS: u64 = 20;
const PACED_RATE: u64 = 1_000;
const RECONNECT_EVERY: Duration = Duration::from_secs(5);

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

pub fn run(opts: &Options) -> Result<(), String> {
    std::fs::create_dir_all(&opts.dir).map_err(err)?;
    let fixture = opts.dir.join(format!("ingest-fixture-{}.jsonl", opts.events));
    if !fixture.exists() {
        let mut out = BufWriter::new(File::create(&fixture).map_err(err)?);
        generate(&mut out, opts.events, (opts.events / 250).max(10), SEED, &Mix::default()).map_err(err)?;
        out.flush().map_err(err)?;
    }
    let lines: Vec<String> =
        BufReader::new(File::open(&fixture).map_err(err)?).lines().collect::<Result<_, _>>().map_err(err)?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(err)?;

    let baseline = median_of(opts.runs, || from_file(&opts.dir.join("ingest-file"), &fixture, lines.len()))?;
    let live = median_of(opts.runs, || rt.block_on(from_server(&opts.dir.join("ingest-live"), &lines)))?;
    emit("ingest", "live_zstd_events_per_s", live, "events/s", baseline);

    let (p50, p99, rss_growth, history_growth) =
        rt.block_on(paced(&opts.dir.join("ingest-paced"), &lines))?;
    emit("ingest", "receipt_to_durable_p50_ms", p50, "ms", 20.0);
    emit("ingest", "receipt_to_durable_p99_ms", p99, "ms", 20.0);
    emit("ingest", "paced_rss_growth_mib", rss_growth, "MiB", history_growth);
    Ok(())
}

fn fresh(dir: &Path) -> Result<(), String> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(err)?;
    }
    std::fs::create_dir_all(dir).map_err(err)
}

fn from_file(dir: &Path, fixture: &Path, n: usize) -> Result<f64, String> {
    fresh(dir)?;
    let mut log = EventLog::open(dir).map_err(err)?;
    let t = Instant::now();
    ingest_fixture(&mut log, fixture, &FixtureOptions::default(), &Shutdown::new()).map_err(err)?;
    Ok(n as f64 / t.elapsed().as_secs_f64())
}

fn options(url: String, start: Option<i64>) -> LiveOptions {
    LiveOptions {
        hosts: vec![url],
        filters: reprise_ingest::Filters { wanted_collections: Vec::new(), wanted_dids: Vec::new() },
        compress: true,
        start_cursor_us: start,
        rewind: Duration::ZERO,
        ..Default::default()
    }
}

/// Replays every frame from the server and returns events/s from connect to the last durable append.
async fn from_server(dir: &Path, lines: &[String]) -> Result<f64, String> {
    fresh(dir)?;
    let history = History::with_clock(now_us() - 3_600_000_000, 1);
    for l in lines {
        history.push(l);
    }
    history.precompress();
    let server = JetstreamServer::start(history.clone(), Faults::default()).await;
    let log = EventLog::open(dir).map_err(err)?;
    let metrics = Arc::new(IngestMetrics::default());
    let shutdown = Shutdown::new();
    let t = Instant::now();
    let task = tokio::spawn(run_live(
        log,
        options(server.v1_url(), Some(history.time_of(1))),
        metrics.clone(),
        shutdown.clone(),
    ));
    while metrics.events_received.load(Relaxed) < lines.len() as u64 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    shutdown.stop();
    task.await.map_err(err)?.map_err(err)?; // returns once the writer has appended everything
    let rate = lines.len() as f64 / t.elapsed().as_secs_f64();
    let appended = metrics.events_appended.load(Relaxed) + metrics.duplicates_dropped.load(Relaxed);
    if appended != lines.len() as u64 {
        return Err(format!("appended {appended} of {} frames", lines.len()));
    }
    Ok(rate)
}

/// 1,000 events/s live for PACED_SECONDS with a forced reconnect every RECONNECT_EVERY: receipt-to-durable
/// latency percentiles (ms) and RSS growth vs the history's growth (MiB).
async fn paced(dir: &Path, lines: &[String]) -> Result<(f64, f64, f64, f64), String> {
    fresh(dir)?;
    let history = History::new();
    let server = JetstreamServer::start(history.clone(), Faults::default()).await;
    let log = EventLog::open(dir).map_err(err)?;
    let mut head = log.subscribe();
    let metrics = Arc::new(IngestMetrics::default());
    let shutdown = Shutdown::new();
    let task = tokio::spawn(run_live(log, options(server.v1_url(), None), metrics, shutdown.clone()));
    server.wait_connections(1).await;
    let reader = LogReader::open(dir).map_err(err)?;
    let (rss0, hist0) = (rss_mib(), history.bytes());
    let total = (PACED_SECONDS * PACED_RATE) as usize;
    let pusher = {
        let history = history.clone();
        let lines: Vec<String> = lines.iter().cycle().take(total).cloned().collect();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / PACED_RATE));
            for l in lines {
                tick.tick().await;
                history.push(&l);
            }
        })
    };
    let mut latencies_us = Vec::with_capacity(total);
    let (mut seen, mut last_reconnect) = (0i64, Instant::now());
    while latencies_us.len() < total * 95 / 100 || !pusher.is_finished() {
        if tokio::time::timeout(Duration::from_secs(10), head.changed()).await.is_err() {
            break; // the rest were duplicates in the generated fixture
        }
        let now = now_us();
        for e in reader.read_after(seen, 100_000).map_err(err)? {
            latencies_us.push(now - e.received_at_us);
            seen = e.seq;
        }
        if last_reconnect.elapsed() >= RECONNECT_EVERY {
            server.disconnect_all();
            last_reconnect = Instant::now();
        }
    }
    let (rss1, hist1) = (rss_mib(), history.bytes());
    shutdown.stop();
    task.await.map_err(err)?.map_err(err)?;
    latencies_us.sort_unstable();
    let pct = |p: f64| {
        latencies_us[((latencies_us.len() as f64 * p) as usize).min(latencies_us.len() - 1)] as f64 / 1000.0
    };
    Ok((pct(0.50), pct(0.99), rss1 - rss0, (hist1 - hist0) as f64 / (1 << 20) as f64))
}
