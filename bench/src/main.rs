//! `cargo run --release -p reprise-bench -- <suite>`: reprise's performance targets, measured.
//!
//! Each suite prints one JSON object per line: `{"suite", "metric", "value", "unit", "baseline",
//! "ratio"}`, where the baseline is measured in the same run on the same data, so the ratio survives
//! these noisy 2-core machines better than the absolute figure. Figures are medians of `--runs` runs.
//!
//! Suites: `log` (durable append vs a plain file with the same fsync policy, and peak RSS while
//! ingesting), `project` (full rebuild vs a read-only scan of the same log; views.db size vs events.db;
//! lag from append to projection at 1,000 events/s vs the append's own commit time), `lag` (that lag
//! alone), `lexicons` (record validation vs serde_json parsing of the same records), `ingest` (live
//! ingest from the test server), `soak` (the `reprise run` binary's RSS over a long paced run with forced
//! reconnects), `api` (getTracks and getTrack under wrk load vs a trivial axum handler), `media` (blob
//! fetch + verify vs a plain loopback read, MP3 transcode vs ffmpeg, peak RSS while handling a 100 MB
//! blob), `snapshots` (snapshot create and restore, log export and import, each vs a plain copy of the
//! same file), `backfill` (a 10,000-record repo from `getRepo` to durable append vs parsing its CAR). `generate` writes a fixture file.

mod api;
mod backfill;
mod ingest;
mod lag;
mod lexicons;
mod measure;
mod media;
mod snapshots;
mod soak;
mod suites;

use std::path::PathBuf;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return;
    }
    let opts = match Options::parse(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("reprise-bench: {e}\n\n{USAGE}");
            std::process::exit(2);
        }
    };
    let result = match opts.suite.as_str() {
        "log" => suites::log(&opts),
        "project" => suites::project(&opts),
        "lag" => suites::incremental_lag(&opts),
        "lexicons" => lexicons::run(&opts),
        "ingest" => ingest::run(&opts),
        "soak" => soak::run(&opts),
        "backfill" => backfill::run(&opts),
        "api" => api::run(&opts),
        "media" => media::run(&opts),
        "snapshots" => snapshots::run(&opts),
        "all" => suites::log(&opts)
            .and_then(|_| suites::project(&opts))
            .and_then(|_| lexicons::run(&opts))
            .and_then(|_| media::run(&opts)),
        "generate" => suites::generate_to(&opts),
        other => Err(format!("unknown suite {other:?}")),
    };
    if let Err(e) = result {
        eprintln!("reprise-bench: {e}");
        std::process::exit(1);
    }
}

const USAGE: &str =
    "usage: reprise-bench <log|project|lag|lexicons|ingest|soak|api|media|snapshots|backfill|all|generate> [--events N] [--runs N] [--seconds N] [--dir DIR] [--out FILE] [--sample]
  --events N   fixture size (default 1000000); for `api`, the likes (tracks and plays are a tenth)
  --runs N     runs per measurement; the median is reported (default 3)
  --seconds N  for `api`: seconds per wrk run (default 10; needs wrk: scripts/bench-setup); for `soak`:
               the whole run (default 600; needs `cargo build --release --bin reprise`)
  --dir DIR    where fixtures and scratch databases go (default target/bench-data)
  --out FILE   for `generate`: the fixture file to write
  --sample     for `generate`: the small curated sample (fixtures/plyr-sample.jsonl) instead of --events";

#[derive(Debug, Clone)]
pub struct Options {
    pub suite: String,
    pub events: u64,
    pub runs: usize,
    pub dir: PathBuf,
    pub out: Option<PathBuf>,
    /// `--seconds`: each suite that takes a length has its own default.
    pub seconds: Option<u64>,
    /// `--sample`: `generate` writes the curated sample.
    pub sample: bool,
}

impl Options {
    fn parse(args: &[String]) -> Result<Self, String> {
        let mut it = args.iter();
        let suite = it.next().ok_or("missing suite")?.clone();
        let mut o = Options {
            suite,
            events: 1_000_000,
            runs: 3,
            dir: PathBuf::from("target/bench-data"),
            out: None,
            seconds: None,
            sample: false,
        };
        while let Some(flag) = it.next() {
            if flag == "--sample" {
                o.sample = true;
                continue;
            }
            let mut value = || it.next().ok_or(format!("{flag} needs a value"));
            match flag.as_str() {
                "--events" => o.events = value()?.parse().map_err(|e| format!("--events: {e}"))?,
                "--runs" => o.runs = value()?.parse().map_err(|e| format!("--runs: {e}"))?,
                "--dir" => o.dir = PathBuf::from(value()?),
                "--out" => o.out = Some(PathBuf::from(value()?)),
                "--seconds" => o.seconds = Some(value()?.parse().map_err(|e| format!("--seconds: {e}"))?),
                other => return Err(format!("unknown flag {other:?}")),
            }
        }
        if o.events == 0 || o.runs == 0 || o.seconds == Some(0) {
            return Err("--events, --runs and --seconds must be positive".into());
        }
        Ok(o)
    }
}
