//! Incremental lag: a writer appends to the log at a paced rate, in batches as live ingest forms
//! them, while the projector follows the log with the loop `reprise run` uses
//! (`reprise_projector::follow`). Lag is the time from an append's commit to the commit of the
//! projector transaction that applied it, for every event.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reprise_events::{EventLog, NewEvent};
use reprise_ingest::now_us;
use reprise_projector::{Catalog, Projector};
use reprise_testkit::{Mix, generate};
use tokio::sync::watch;

/// Events appended per second, and for how long.
pub const RATE: u64 = 1_000;
pub const SECONDS: u64 = 30;
/// `projector.batch_size` in the built-in configuration.
const PROJECTOR_BATCH: usize = 1_000;
/// Live ingest's `ingest.batch_size`: the most one append takes.
const INGEST_BATCH: usize = 1_000;

/// One run's figures, in milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct Lag {
    pub p50: f64,
    pub p99: f64,
    /// How long the appends themselves took (a durable commit each): the baseline.
    pub append_p50: f64,
    pub append_p99: f64,
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// The events the writer will append, decoded as ingest stores them.
fn events(n: u64, seed: u64) -> Result<Vec<NewEvent>, String> {
    let mut fixture = Vec::new();
    generate(&mut fixture, n, (n / 250).max(10), seed, &Mix::default()).map_err(err)?;
    Ok(fixture
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .enumerate()
        .map(|(i, line)| {
            let d = reprise_ingest::decode_v1(line);
            NewEvent {
                envelope: d.envelope,
                frame: line.to_vec(),
                source_cursor: Some(i as i64),
                received_at_us: 0,
            }
        })
        .collect())
}

/// One measurement in a fresh `dir`.
pub fn measure(dir: &Path, seed: u64) -> Result<Lag, String> {
    let mut log = EventLog::open(dir).map_err(err)?;
    let projector = Projector::open(dir, PROJECTOR_BATCH, Arc::new(Catalog::builtin())).map_err(err)?;
    let events = events(RATE * SECONDS, seed)?;
    let total = events.len();
    let mut pending = events.into_iter();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(err)?;
    let stop = reprise_events::Shutdown::new();
    // (checkpoint, when its transaction committed), in order.
    let projected: Arc<Mutex<Vec<(i64, Instant)>>> = Arc::default();
    let (done_tx, mut done_rx) = watch::channel(0i64);
    let following = {
        let projected = projected.clone();
        runtime.spawn(reprise_projector::follow(
            projector,
            vec![log.subscribe()],
            None,
            stop.clone(),
            move |r| {
                projected.lock().expect("lock").push((r.checkpoint, Instant::now()));
                done_tx.send_replace(r.checkpoint);
            },
        ))
    };

    // (first seq, last seq, when the append committed) per append, and each append's duration.
    let mut appended: Vec<(i64, i64, Instant)> = Vec::new();
    let mut append_ms: Vec<f64> = Vec::new();
    let start = Instant::now();
    let mut sent = 0usize;
    while sent < total {
        // Everything due by now goes in one append, as live ingest's writer takes whatever waits.
        let due = ((start.elapsed().as_secs_f64() * RATE as f64) as usize).clamp(sent + 1, total);
        let end = due.min(sent + INGEST_BATCH);
        let now = now_us();
        let batch: Vec<NewEvent> =
            pending.by_ref().take(end - sent).map(|e| NewEvent { received_at_us: now, ..e }).collect();
        let before = log.head();
        let t = Instant::now();
        let outcome = log.append("bench-lag", &batch, Some(end as i64)).map_err(err)?;
        let committed = Instant::now();
        append_ms.push((committed - t).as_secs_f64() * 1e3);
        if outcome.head > before {
            appended.push((before + 1, outcome.head, committed));
        }
        sent = end;
        let next = start + Duration::from_secs_f64((sent + 1) as f64 / RATE as f64);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    let head = log.head();
    runtime.block_on(async {
        let caught_up = done_rx.wait_for(|c| *c >= head);
        tokio::time::timeout(Duration::from_secs(60), caught_up)
            .await
            .map_err(|_| "the projector did not catch up within 60 s".to_owned())?
            .map_err(err)?;
        stop.stop();
        following.await.map_err(err)?.map_err(err)
    })?;

    let projected = projected.lock().expect("lock");
    let mut lags = Vec::with_capacity(total);
    for &(first, last, committed) in &appended {
        for seq in first..=last {
            let i = projected.partition_point(|(c, _)| *c < seq);
            let (_, applied) = projected.get(i).ok_or(format!("seq {seq} was never projected"))?;
            lags.push(applied.saturating_duration_since(committed).as_secs_f64() * 1e3);
        }
    }
    Ok(Lag {
        p50: percentile(&mut lags, 0.50),
        p99: percentile(&mut lags, 0.99),
        append_p50: percentile(&mut append_ms, 0.50),
        append_p99: percentile(&mut append_ms, 0.99),
    })
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() - 1) as f64 * p).round() as usize]
}
