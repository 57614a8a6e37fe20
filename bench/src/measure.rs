//! Timing, medians, memory, and the output line.

use std::time::Instant;

/// Runs `f` `runs` times; returns the median of the values it reports.
pub fn median_of(runs: usize, mut f: impl FnMut() -> Result<f64, String>) -> Result<f64, String> {
    let mut v = Vec::with_capacity(runs);
    for run in 1..=runs {
        v.push(f()?);
        // Each run's figure goes to stderr, so the spread behind a median can be read.
        eprintln!("  run {run}/{runs}: {:.2}", v[run - 1]);
    }
    v.sort_by(|a, b| a.total_cmp(b));
    Ok(v[v.len() / 2])
}

/// Events per second for `events` processed by `f`.
pub fn rate(events: u64, f: impl FnOnce() -> Result<(), String>) -> Result<f64, String> {
    let t = Instant::now();
    f()?;
    Ok(events as f64 / t.elapsed().as_secs_f64())
}

/// Peak resident set size of this process since the last `reset_peak_rss`, in MiB.
pub fn peak_rss_mib() -> f64 {
    status_kib("VmHWM:") / 1024.0
}

pub fn rss_mib() -> f64 {
    status_kib("VmRSS:") / 1024.0
}

/// Resets the kernel's peak-RSS counter (Linux >= 4.0), so the next peak covers one phase only.
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn status_kib(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with(key)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(f64::NAN)
}

pub fn emit(suite: &str, metric: &str, value: f64, unit: &str, baseline: f64) {
    let round = |x: f64| (x * 100.0).round() / 100.0;
    println!(
        "{}",
        serde_json::json!({"suite": suite, "metric": metric, "value": round(value), "unit": unit,
                           "baseline": round(baseline), "ratio": round(value / baseline)})
    );
}
