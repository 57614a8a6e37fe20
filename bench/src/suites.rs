//! The suites. Each builds what it needs under `--dir` (reusing a fixture of the same size) and
//! measures the real code paths the binary uses.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use reprise_events::{EventLog, LogReader};
use reprise_ingest::{FixtureOptions, ingest_fixture};
use reprise_testkit::{Mix, generate};

use crate::Options;
use crate::measure::{emit, median_of, peak_rss_mib, rate, reset_peak_rss, rss_mib};

const SEED: u64 = 20_260_101;
/// One repo per ~250 events: a few thousand artists and listeners per million events.
const EVENTS_PER_REPO: u64 = 250;

pub(crate) fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// The generated fixture for `--events`, written once and reused.
fn fixture(opts: &Options) -> Result<PathBuf, String> {
    std::fs::create_dir_all(&opts.dir).map_err(err)?;
    let path = opts.dir.join(format!("fixture-{}.jsonl", opts.events));
    if !path.exists() {
        let tmp = path.with_extension("partial");
        let mut out = BufWriter::new(File::create(&tmp).map_err(err)?);
        let r =
            generate(&mut out, opts.events, (opts.events / EVENTS_PER_REPO).max(10), SEED, &Mix::default())
                .map_err(err)?;
        out.flush().map_err(err)?;
        std::fs::rename(&tmp, &path).map_err(err)?;
        eprintln!("generated {} events ({} MB) into {}", r.events, r.bytes / 1_000_000, path.display());
    }
    Ok(path)
}

pub fn generate_to(opts: &Options) -> Result<(), String> {
    let out = opts.out.clone().ok_or("generate needs --out FILE")?;
    let mut w = BufWriter::new(File::create(&out).map_err(err)?);
    let r = match opts.sample {
        true => reprise_testkit::sample(&mut w),
        false => {
            generate(&mut w, opts.events, (opts.events / EVENTS_PER_REPO).max(10), SEED, &Mix::default())
        }
    }
    .map_err(err)?;
    w.flush().map_err(err)?;
    eprintln!(
        "wrote {} events ({} bytes, {} redelivered) to {}",
        r.events,
        r.bytes,
        r.redeliveries,
        out.display()
    );
    Ok(())
}

pub(crate) fn fresh_dir(path: &Path) -> Result<(), String> {
    if path.exists() {
        std::fs::remove_dir_all(path).map_err(err)?;
    }
    std::fs::create_dir_all(path).map_err(err)
}

/// The same lines appended to a plain file, fdatasync after every 1,000: the ceiling for any log.
fn plain_file_append(fixture: &Path, scratch: &Path) -> Result<(), String> {
    let mut reader = BufReader::with_capacity(1 << 20, File::open(fixture).map_err(err)?);
    let file = File::create(scratch.join("plain.log")).map_err(err)?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut line = Vec::new();
    let mut n = 0u64;
    while reader.read_until(b'\n', &mut line).map_err(err)? > 0 {
        out.write_all(&line).map_err(err)?;
        line.clear();
        n += 1;
        if n.is_multiple_of(1000) {
            out.flush().map_err(err)?;
            out.get_ref().sync_data().map_err(err)?;
        }
    }
    out.flush().map_err(err)?;
    out.get_ref().sync_data().map_err(err)
}

fn ingest_into(fixture: &Path, data: &Path) -> Result<u64, String> {
    let mut log = EventLog::open(data).map_err(err)?;
    let r = ingest_fixture(&mut log, fixture, &FixtureOptions::default(), &reprise_events::Shutdown::new())
        .map_err(err)?;
    Ok(r.appended)
}

pub fn log(opts: &Options) -> Result<(), String> {
    let fixture = fixture(opts)?;
    let scratch = opts.dir.join("scratch");
    let n = opts.events;
    let baseline = median_of(opts.runs, || {
        fresh_dir(&scratch)?;
        rate(n, || plain_file_append(&fixture, &scratch))
    })?;
    let mut peak = 0f64;
    let rss_before = rss_mib();
    let value = median_of(opts.runs, || {
        fresh_dir(&scratch)?;
        reset_peak_rss();
        let r = rate(n, || ingest_into(&fixture, &scratch).map(|_| ()));
        peak = peak.max(peak_rss_mib());
        r
    })?;
    // The log alone: the same events, decoded (and CID-checked) beforehand, appended 1,000 per
    // transaction. The fixture path above also pays for decoding, which issue 3's `ingest` suite owns.
    let batches = decoded_batches(&fixture)?;
    let append = median_of(opts.runs, || {
        fresh_dir(&scratch)?;
        let mut log = EventLog::open(&scratch).map_err(err)?;
        rate(n, || {
            for (i, batch) in batches.iter().enumerate() {
                log.append("bench", batch, Some(i as i64)).map_err(err)?;
            }
            Ok(())
        })
    })?;
    drop(batches);
    emit("log", "append_events_per_s", append, "events/s", baseline);
    emit("log", "fixture_ingest_events_per_s", value, "events/s", baseline);
    emit("log", "ingest_peak_rss", peak, "MiB", rss_before);
    // Leave one complete log behind for the project suite.
    let data = log_dir(opts);
    if !data.join("events.db").exists() {
        fresh_dir(&data)?;
        ingest_into(&fixture, &data)?;
    }
    Ok(())
}

/// Every line of the fixture as the log will store it, in batches of 1,000.
fn decoded_batches(fixture: &Path) -> Result<Vec<Vec<reprise_events::NewEvent>>, String> {
    let reader = BufReader::with_capacity(1 << 20, File::open(fixture).map_err(err)?);
    let mut batches = Vec::new();
    let mut batch = Vec::with_capacity(1000);
    for (i, line) in reader.split(b'\n').enumerate() {
        let frame = line.map_err(err)?;
        let d = reprise_ingest::decode_v1(&frame);
        batch.push(reprise_events::NewEvent {
            envelope: d.envelope,
            frame,
            source_cursor: Some(i as i64),
            received_at_us: 0,
        });
        if batch.len() == 1000 {
            batches.push(std::mem::replace(&mut batch, Vec::with_capacity(1000)));
        }
    }
    if !batch.is_empty() {
        batches.push(batch);
    }
    Ok(batches)
}

fn log_dir(opts: &Options) -> PathBuf {
    opts.dir.join(format!("log-{}", opts.events))
}

/// Reads every event back and parses every commit's record: the projector's work without writes.
fn scan(data: &Path) -> Result<u64, String> {
    let reader = LogReader::open(data).map_err(err)?;
    let (mut after, mut n) = (0, 0u64);
    loop {
        let batch = reader.read_after(after, 20_000).map_err(err)?;
        let Some(last) = batch.last() else { return Ok(n) };
        after = last.seq;
        for e in &batch {
            if e.envelope.cid.is_some()
                && let Ok(raw) = reprise_ingest::commit_record(&e.frame)
            {
                let v: serde_json::Value = serde_json::from_str(raw.get()).map_err(err)?;
                std::hint::black_box(v);
            }
            n += 1;
        }
    }
}

/// The data directory holding a complete log of `--events` events, ingested once and reused.
pub(crate) fn logged_node(opts: &Options) -> Result<PathBuf, String> {
    let data = log_dir(opts);
    if !data.join("events.db").exists() {
        let fixture = fixture(opts)?;
        fresh_dir(&data)?;
        ingest_into(&fixture, &data)?;
    }
    Ok(data)
}

pub fn project(opts: &Options) -> Result<(), String> {
    let data = logged_node(opts)?;
    let events = LogReader::open(&data).map_err(err)?.head().map_err(err)? as u64;
    let baseline = median_of(opts.runs, || rate(events, || scan(&data).map(|_| ())))?;
    let out = opts.dir.join("rebuilt").join("views.db");
    let catalog = reprise_projector::Catalog::builtin();
    let value = median_of(opts.runs, || {
        rate(events, || reprise_projector::rebuild(&data, &out, None, &catalog).map(|_| ()).map_err(err))
    })?;
    emit("project", "rebuild_events_per_s", value, "events/s", baseline);
    let bytes = std::fs::metadata(&out).map_err(err)?.len() as f64;
    let log_bytes = std::fs::metadata(data.join("events.db")).map_err(err)?.len() as f64;
    let per_million = 1_000_000.0 / events as f64;
    emit(
        "project",
        "views_db_bytes_per_million_events",
        bytes * per_million,
        "bytes",
        log_bytes * per_million,
    );
    incremental_lag(opts)
}

/// Lag from append to projection while the log grows at `lag::RATE` events/s for `lag::SECONDS`,
/// against the appends' own commit time.
pub fn incremental_lag(opts: &Options) -> Result<(), String> {
    let dir = opts.dir.join("lag");
    let mut runs = Vec::with_capacity(opts.runs);
    for run in 0..opts.runs {
        fresh_dir(&dir)?;
        runs.push(crate::lag::measure(&dir, SEED + run as u64)?);
    }
    let median = |f: fn(&crate::lag::Lag) -> f64| {
        let mut v: Vec<f64> = runs.iter().map(f).collect();
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    emit("project", "incremental_lag_p50_ms", median(|l| l.p50), "ms", median(|l| l.append_p50));
    emit("project", "incremental_lag_p99_ms", median(|l| l.p99), "ms", median(|l| l.append_p99));
    Ok(())
}
