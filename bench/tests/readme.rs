//! The README's benchmark lines name suites and flags `reprise-bench --help` lists, and the sample
//! fixture the README's quick start uses is exactly what `reprise-bench generate --sample` writes.

use std::process::Command;

const README: &str = include_str!("../../README.md");

fn bench(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_reprise-bench")).args(args).output().unwrap()
}

#[test]
fn every_benchmark_line_names_a_suite_and_flags_that_exist() {
    let out = bench(&["--help"]);
    assert!(out.status.success());
    let usage = String::from_utf8(out.stdout).unwrap();
    let suites = usage.split(['<', '>']).nth(1).expect("usage lists the suites as <a|b|...>");
    let suites: Vec<&str> = suites.split('|').collect();
    let lines: Vec<&str> = README.lines().filter(|l| l.contains("-p reprise-bench -- ")).collect();
    assert!(lines.len() >= 10, "{lines:?}");
    for line in lines {
        let command = line.split(" #").next().unwrap();
        let args = command.split("-p reprise-bench -- ").nth(1).unwrap();
        let mut words = args.split_whitespace();
        let suite = words.next().unwrap();
        assert!(suites.contains(&suite), "{line}: no suite {suite:?} in {suites:?}");
        for flag in words.filter(|w| w.starts_with("--")) {
            assert!(usage.contains(flag), "{line}: reprise-bench has no {flag}");
        }
    }
}

#[test]
fn the_sample_fixture_is_what_generate_writes() {
    let dir = std::env::temp_dir().join(format!("reprise-bench-sample-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("sample.jsonl");
    let run = bench(&["generate", "--sample", "--out", out.to_str().unwrap()]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let written = std::fs::read_to_string(&out).unwrap();
    let kept = include_str!("../../fixtures/plyr-sample.jsonl");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        written == kept,
        "fixtures/plyr-sample.jsonl is stale: rerun `reprise-bench generate --sample --out fixtures/plyr-sample.jsonl`"
    );
}
