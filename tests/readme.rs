//! The README, as a newcomer runs it: the "Try it offline" commands as written (the binary started with
//! the documented flags on the sample fixture, the documented URLs fetched, Ctrl-C), which must show a
//! feed; and every `reprise` command and flag the README names (its shell blocks, the command table, the
//! inline examples) must exist. The benchmark lines are checked by `bench/tests/readme.rs`.

mod support;

use std::collections::BTreeSet;
use std::process::Command;

use support::{Running, get, message};

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

/// The ```sh blocks, each as its lines (comments stripped, empty lines dropped).
fn sh_blocks(text: &str) -> Vec<Vec<String>> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in text.lines() {
        match (&mut current, line.trim()) {
            (None, "```sh") => current = Some(Vec::new()),
            (Some(_), "```") => blocks.extend(current.take()),
            (Some(block), l) => {
                let command = l.split(" #").next().unwrap_or_default().trim();
                if !command.is_empty() && !command.starts_with('#') {
                    block.push(command.to_owned());
                }
            }
            _ => {}
        }
    }
    blocks
}

/// The block whose first line starts with `prefix`.
fn block<'a>(blocks: &'a [Vec<String>], prefix: &str) -> &'a [String] {
    let found = blocks.iter().find(|b| b.first().is_some_and(|l| l.starts_with(prefix)));
    found.unwrap_or_else(|| panic!("no ```sh block starting {prefix:?} in the README"))
}

/// `cargo run --release -- ARGS` as the arguments the binary gets.
fn binary_args(line: &str) -> Vec<String> {
    let args =
        line.strip_prefix("cargo run --release --").unwrap_or_else(|| panic!("not a cargo run line: {line}"));
    args.split_whitespace().map(str::to_owned).collect()
}

/// The single-quoted URL of a `curl -s '...'` line.
fn curl_url(line: &str) -> &str {
    assert!(line.starts_with("curl -s '"), "{line}");
    line.split('\'').nth(1).unwrap()
}

#[test]
fn the_first_two_commands_exist() {
    let blocks = sh_blocks(&readme());
    let first = &blocks[0];
    assert_eq!(first, &["cargo run --release -- run".to_owned(), "./scripts/test".to_owned()]);
    help(&binary_args(&first[0]));
    let script = std::fs::metadata(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/test")).unwrap();
    assert!(std::os::unix::fs::PermissionsExt::mode(&script.permissions()) & 0o111 != 0);
}

#[test]
fn try_it_offline_as_written_shows_a_feed() {
    let blocks = sh_blocks(&readme());
    let lines = block(&blocks, "cargo run --release -- run --fixture");
    let dir = tempfile::tempdir().unwrap();
    // The command as written, except that the data goes to a fresh directory and the API listens on a
    // free port (the documented URLs are then asked at that port).
    let mut args = binary_args(&lines[0]);
    let data = args.iter().position(|a| a == "--data-dir").expect("the example names --data-dir") + 1;
    args[data] = dir.path().join("data").display().to_string();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reprise"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("REPRISE_") || k == "RUST_LOG") {
        cmd.env_remove(k);
    }
    cmd.current_dir(env!("CARGO_MANIFEST_DIR")).args(&args).args(["--log-json", "--listen", "127.0.0.1:0"]);
    let mut run = Running::spawn(&mut cmd);
    let addr = run.wait_listening();
    let ingested = run.wait_for("the fixture", |v| message(v).starts_with("fixture ingested"));
    let appended = ingested["fields"]["appended"].as_i64().unwrap();
    support::eventually("the fixture projected", || {
        let (_, stats) = get(&addr, "/xrpc/fm.reprise.getStats");
        (stats["projectedSeq"].as_i64() >= Some(appended)).then_some(())
    });

    let mut first_uri: Option<String> = None;
    for line in &lines[1..] {
        let url = curl_url(line);
        let path = url
            .strip_prefix("http://127.0.0.1:8080")
            .unwrap_or_else(|| panic!("{url}: not the documented address"));
        // "a uri from the feed"
        let path = match (path.contains("at://..."), &first_uri) {
            (true, Some(uri)) => path.replace("at://...", uri),
            (true, None) => panic!("{line}: asks for a uri from the feed before the feed"),
            (false, _) => path.to_owned(),
        };
        let (status, body) = get(&addr, &path);
        assert_eq!(status, 200, "{line}: {body}");
        if let Some(tracks) = body.get("tracks") {
            let tracks = tracks.as_array().unwrap();
            assert!(!tracks.is_empty(), "{line}: the feed is empty");
            first_uri = Some(format!(
                "at://{}/fm.plyr.track/{}",
                tracks[0]["did"].as_str().unwrap(),
                tracks[0]["rkey"].as_str().unwrap()
            ));
        }
        if let Some(track) = body.get("track") {
            assert!(track["title"].is_string(), "{line}: {body}");
        }
    }
    assert!(first_uri.is_some(), "the example never asked for the feed");
    let (_, stats) = get(&addr, "/xrpc/fm.reprise.getStats");
    assert!(stats["tracks"].as_i64() > Some(20) && stats["plays"].as_i64() > Some(20), "{stats}");
    // "Ctrl-C stops it cleanly"
    run.signal("INT");
    assert_eq!(run.child.wait().unwrap().code(), Some(0));
}

/// `reprise ARGS --help` succeeds; its text.
fn help(args: &[String]) -> String {
    let words: Vec<&String> = args.iter().take_while(|a| !a.starts_with('-')).collect();
    let out = Command::new(env!("CARGO_BIN_EXE_reprise")).args(&words).arg("--help").output().unwrap();
    assert!(out.status.success(), "reprise {words:?} --help: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// A `reprise ...` example: its subcommand words (up to the first flag or placeholder) and its flags.
fn command_and_flags(example: &str) -> (Vec<String>, BTreeSet<String>) {
    let rest = example.strip_prefix("reprise").unwrap();
    let words = rest
        .split_whitespace()
        .take_while(|w| w.chars().all(|c| c.is_ascii_lowercase()))
        .map(str::to_owned)
        .collect();
    let flags = rest
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(str::to_owned)
        .collect();
    (words, flags)
}

#[test]
fn every_documented_command_and_flag_exists() {
    let text = readme();
    // The command table's first column, the inline `reprise ...` examples, and the shell blocks.
    let mut examples: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("| `reprise"))
        .map(|l| format!("reprise{}", l.split('`').next().unwrap()))
        .collect();
    examples
        .extend(text.split('`').skip(1).step_by(2).filter(|s| s.starts_with("reprise ")).map(str::to_owned));
    for line in sh_blocks(&text).concat() {
        if let Some(args) = line.strip_prefix("cargo run --release -- ") {
            examples.push(format!("reprise {args}"));
        }
    }
    assert!(examples.len() > 20, "{examples:?}");
    let mut checked = BTreeSet::new();
    for example in &examples {
        let (words, flags) = command_and_flags(example);
        let text = help(&words);
        for flag in &flags {
            assert!(text.contains(flag.as_str()), "`{example}`: reprise {words:?} has no {flag}\n{text}");
        }
        checked.insert(words.join(" "));
    }
    for must in [
        "run",
        "status",
        "serve",
        "rebuild",
        "backfill",
        "lexicon validate",
        "snapshot restore",
        "log import",
    ] {
        assert!(checked.contains(must), "the README no longer documents `reprise {must}`: {checked:?}");
    }
    // "Every command takes --config FILE, --data-dir DIR, --listen ADDR and --log-json."
    let global = help(&[]);
    for flag in ["--config", "--data-dir", "--listen", "--log-json"] {
        assert!(global.contains(flag), "reprise --help has no {flag}");
    }
}
