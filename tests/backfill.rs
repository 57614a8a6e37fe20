//! `reprise backfill` against a local PDS + relay + PLC directory serving real signed repos.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use reprise_testkit::repos::{Account, RepoRecord, corrupt_a_record, tracks};
use reprise_testkit::{Fault, FrameBuilder, PdsServer};
use serde_json::{Value, json};
use support::{Running, message, reprise};

struct Env {
    rt: tokio::runtime::Runtime,
    pds: PdsServer,
    dir: tempfile::TempDir,
}

impl Env {
    fn new(page_size: usize) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let pds = rt.block_on(PdsServer::start(page_size));
        Env { rt, pds, dir: tempfile::tempdir().unwrap() }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A config pointing identity at the fake PLC, allowing loopback, with fast retries.
    fn config(&self, extra: &str) -> PathBuf {
        let path = self.dir.path().join("config.toml");
        let text = format!(
            "[identity]\nplc_url = \"{}\"\n[media]\nallow_private_networks = true\n\
             [backfill]\nretries = 3\nbackoff_initial_ms = 10\nread_timeout_ms = 500\n\
             host_requests_per_second = 1000.0\n{extra}",
            self.pds.url()
        );
        std::fs::write(&path, text).unwrap();
        path
    }

    fn backfill(&self, args: &[&str]) -> (Output, Value) {
        self.backfill_with("", args)
    }

    fn backfill_with(&self, extra: &str, args: &[&str]) -> (Output, Value) {
        let out = reprise(&self.data())
            .arg("--config")
            .arg(self.config(extra))
            .arg("backfill")
            .args(args)
            .output()
            .unwrap();
        let summary = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        (out, summary)
    }

    /// `reprise run` with nothing to ingest and a gap repair pass every second.
    fn run_repairing_gaps(&self) -> Running {
        let nothing = self.dir.path().join("nothing.jsonl");
        std::fs::write(&nothing, "").unwrap();
        let mut cmd = reprise(&self.data());
        cmd.arg("--config").arg(self.config("gap_repair_interval_secs = 1\n"));
        Running::spawn(cmd.args(["--listen", "127.0.0.1:0", "run", "--fixture"]).arg(&nothing))
    }

    fn account(&self, n: u64, records: &[RepoRecord]) -> Account {
        let account = Account::new(n);
        self.pds.serve(&account, account.repo(records, 0));
        account
    }
}

fn query(data: &Path, file: &str, sql: &str, params: &[&str]) -> Vec<Vec<String>> {
    let conn = rusqlite::Connection::open(data.join(file)).unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    let n = stmt.column_count();
    stmt.query_map(rusqlite::params_from_iter(params), |r| {
        Ok((0..n)
            .map(|i| match r.get_ref(i).unwrap() {
                rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                v => format!("{v:?}"),
            })
            .collect())
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn project(data: &Path) {
    let out = reprise(data).arg("project").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn commit_count(data: &Path, did: &str) -> usize {
    query(data, "events.db", "SELECT COUNT(*) FROM events WHERE kind = 'commit' AND did = ?1", &[did])[0][0]
        .trim_start_matches("Integer(")
        .trim_end_matches(')')
        .parse()
        .unwrap()
}

fn now_us() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros() as u64
}

#[test]
fn a_good_repo_lands_in_the_log_and_read_models_once() {
    let env = Env::new(100);
    let mut records = tracks(5, 1);
    records.push(RepoRecord::new("app.bsky.feed.post", "3kpost", json!({"text": "not music"})));
    let alice = env.account(1, &records);
    let (out, summary) = env.backfill(&["--did", &alice.did]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Five records and the handle the DID document claims.
    assert_eq!((summary["done"].as_u64(), summary["appended"].as_u64()), (Some(1), Some(6)), "{summary}");
    assert_eq!(summary["records"].as_u64(), Some(5), "{summary}");

    let data = env.data();
    let rows = query(
        &data,
        "events.db",
        "SELECT source, collection, operation, cid_check FROM events WHERE did = ?1 AND kind = 'commit' ORDER BY seq",
        &[&alice.did],
    );
    assert_eq!(rows.len(), 5, "only the wanted collection: {rows:?}");
    for row in &rows {
        assert_eq!(
            row,
            &[format!("backfill:{}", env.pds.url()), "fm.plyr.track".into(), "create".into(), "match".into()]
        );
    }
    project(&data);
    let titles =
        query(&data, "views.db", "SELECT title FROM tracks WHERE did = ?1 ORDER BY title", &[&alice.did]);
    let expected: Vec<Vec<String>> = (0..5).map(|i| vec![format!("Track {i}")]).collect();
    assert_eq!(titles, expected);
    let audit = query(&data, "views.db", "SELECT outcome FROM audit WHERE did = ?1", &[&alice.did]);
    assert_eq!(audit.len(), 6);
    let handle = query(&data, "views.db", "SELECT handle FROM actors WHERE did = ?1", &[&alice.did]);
    assert_eq!(handle, [[format!("{}.test", &alice.did[8..16])]]);
    assert!(audit.iter().all(|r| r[0] == "applied"), "{audit:?}");

    // Done at the repo's current rev: skipped without fetching.
    let (_, again) = env.backfill(&["--did", &alice.did]);
    assert_eq!((again["skipped"].as_u64(), again["appended"].as_u64()), (Some(1), Some(0)), "{again}");
    assert_eq!(env.pds.requests(&alice.did), 1);
    // Without the progress file, the repo is fetched again and the log's duplicate check drops it all.
    std::fs::remove_file(data.join("backfill.db")).unwrap();
    let (_, refetched) = env.backfill(&["--did", &alice.did]);
    assert_eq!(
        (refetched["appended"].as_u64(), refetched["duplicates"].as_u64()),
        (Some(0), Some(6)),
        "{refetched}"
    );
    assert_eq!(commit_count(&data, &alice.did), 5);
}

#[test]
fn a_collection_is_enumerated_through_the_relay_page_by_page() {
    let env = Env::new(2);
    let accounts: Vec<Account> = (10..15).map(|n| env.account(n, &tracks(3, n))).collect();
    let _other = env.account(20, &[RepoRecord::new("app.bsky.feed.post", "3kpost", json!({"text": "x"}))]);
    let relay = env.pds.url();
    let (out, summary) = env.backfill(&["--collection", "fm.plyr.track", "--relay", &relay]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!((summary["repos"].as_u64(), summary["appended"].as_u64()), (Some(5), Some(20)), "{summary}");
    for a in &accounts {
        assert_eq!(commit_count(&env.data(), &a.did), 3);
    }
}

#[test]
fn refused_repos_leave_only_a_rejected_event_naming_why() {
    let env = Env::new(100);
    let records = tracks(30, 2);
    let (bad_sig, flat_mst, bad_block, truncated) =
        (Account::new(30), Account::new(31), Account::new(32), Account::new(33));
    let stranger = Account::new(99);
    env.pds.serve(&bad_sig, bad_sig.repo_signed_by(&records, 0, &stranger.key));
    env.pds.serve(&flat_mst, flat_mst.repo_with_flat_mst(&records, now_us()));
    let mut corrupted = bad_block.repo(&records, 0);
    corrupted.car = corrupt_a_record(&corrupted);
    env.pds.serve(&bad_block, corrupted);
    env.pds.serve(&truncated, truncated.repo(&records, 0));
    env.pds.set_fault(&truncated.did, Fault::Truncate);
    let (big, big_records) = (Account::new(34), tracks(60, 9));
    let big_repo = big.repo(&big_records, 0);
    let cap = (big_repo.car.len() + bad_block.repo(&records, 0).car.len()) / 2;
    env.pds.serve(&big, big_repo);
    let good = env.account(35, &tracks(2, 3));

    let dids = [&bad_sig, &flat_mst, &bad_block, &truncated, &big, &good];
    let mut args = vec![];
    for a in dids {
        args.extend(["--did", a.did.as_str()]);
    }
    let (out, summary) = env.backfill_with(&format!("max_repo_bytes = {cap}\n"), &args);
    assert!(!out.status.success());
    assert_eq!((summary["rejected"].as_u64(), summary["done"].as_u64()), (Some(5), Some(1)), "{summary}");

    let data = env.data();
    let expect = [
        (&bad_sig, "bad commit signature"),
        (&flat_mst, "broken MST"),
        (&bad_block, "does not match its CID"),
        (&truncated, "malformed CAR"),
        (&big, "larger than"),
    ];
    for (account, reason) in expect {
        assert_eq!(commit_count(&data, &account.did), 0, "{reason}");
        let rejected = query(
            &data,
            "events.db",
            "SELECT reject_reason FROM events WHERE kind = 'rejected' AND did = ?1",
            &[&account.did],
        );
        assert_eq!(rejected.len(), 1, "{reason}: {rejected:?}");
        assert!(
            rejected[0][0].starts_with("backfill: ") && rejected[0][0].contains(reason),
            "{reason}: {rejected:?}"
        );
        let state = query(&data, "backfill.db", "SELECT state FROM repos WHERE did = ?1", &[&account.did]);
        assert_eq!(state, vec![vec!["rejected".to_owned()]]);
    }
    assert_eq!(commit_count(&data, &good.did), 2);
    // The refusal is in the audit trail, and refusing the same repos again appends nothing.
    project(&data);
    let audit = query(&data, "views.db", "SELECT reason FROM audit WHERE did = ?1", &[&bad_sig.did]);
    assert!(audit.len() == 1 && audit[0][0].contains("bad commit signature"), "{audit:?}");
    let head = query(&data, "events.db", "SELECT MAX(seq) FROM events", &[]);
    env.backfill_with(&format!("max_repo_bytes = {cap}\n"), &args);
    assert_eq!(query(&data, "events.db", "SELECT MAX(seq) FROM events", &[]), head);
}

#[test]
fn server_errors_and_timeouts_are_retried_and_failures_are_recorded() {
    let env = Env::new(100);
    let flaky = env.account(40, &tracks(3, 4));
    let slow = env.account(41, &tracks(3, 5));
    let down = env.account(42, &tracks(3, 6));
    env.pds.set_fault(&flaky.did, Fault::Status { status: 500, times: 2 });
    env.pds.set_fault(&slow.did, Fault::Hang { times: 1 });
    env.pds.set_fault(&down.did, Fault::Status { status: 503, times: 1000 });
    let (out, summary) = env.backfill(&["--did", &flaky.did, "--did", &slow.did, "--did", &down.did]);
    assert!(!out.status.success());
    assert_eq!((summary["done"].as_u64(), summary["failed"].as_u64()), (Some(2), Some(1)), "{summary}");
    assert_eq!(env.pds.requests(&flaky.did), 3);
    assert_eq!(env.pds.requests(&slow.did), 2);
    assert_eq!(env.pds.requests(&down.did), 4, "the first try and three retries");
    let data = env.data();
    assert_eq!((commit_count(&data, &flaky.did), commit_count(&data, &slow.did)), (3, 3));
    assert_eq!(commit_count(&data, &down.did), 0);
    let failed = query(&data, "backfill.db", "SELECT state, reason FROM repos WHERE did = ?1", &[&down.did]);
    assert_eq!(failed[0][0], "failed");
    assert!(failed[0][1].contains("503"), "{failed:?}");
    // A failure is not a refusal: nothing about it enters the log, and the next run tries again.
    env.pds.set_fault(&down.did, Fault::Status { status: 503, times: 0 });
    let (out, summary) = env.backfill(&["--did", &down.did]);
    assert!(out.status.success(), "{summary}");
    assert_eq!(commit_count(&data, &down.did), 3);
}

#[test]
fn kill_9_mid_backfill_then_resume_completes_without_duplicates() {
    let env = Env::new(100);
    let accounts: Vec<Account> = (50..56).map(|n| env.account(n, &tracks(20, n))).collect();
    for a in &accounts[2..] {
        env.pds.set_fault(&a.did, Fault::Hold);
    }
    let mut cmd = reprise(&env.data());
    // Enough permits per host that held requests do not block the others.
    cmd.arg("--config").arg(env.config("host_concurrency = 8\n")).arg("backfill");
    for a in &accounts {
        cmd.args(["--did", &a.did]);
    }
    let mut running = Running::spawn(&mut cmd);
    // Two repos settle concurrently, so their lines may come in either order.
    let mut settled: Vec<_> = (0..2)
        .map(|_| {
            let line = running.wait_for("a repo backfilled", |v| message(v) == "repo backfilled");
            (line["fields"]["n"].as_u64(), line["fields"]["of"].as_u64())
        })
        .collect();
    settled.sort();
    assert_eq!(settled, [(Some(1), Some(6)), (Some(2), Some(6))]);
    env.rt.block_on(env.pds.wait_get_repo_requests(6));
    running.signal("KILL");
    let _ = running.child.wait();

    let data = env.data();
    let done = query(&data, "backfill.db", "SELECT did FROM repos WHERE state = 'done'", &[]);
    assert_eq!(done.len(), 2, "{done:?}");
    env.pds.release();
    let (out, summary) =
        env.backfill(&accounts.iter().flat_map(|a| ["--did", a.did.as_str()]).collect::<Vec<_>>());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!((summary["skipped"].as_u64(), summary["done"].as_u64()), (Some(2), Some(4)), "{summary}");
    let totals = query(
        &data,
        "events.db",
        "SELECT COUNT(*), COUNT(DISTINCT did || collection || rkey || rev) FROM events WHERE kind = 'commit'",
        &[],
    );
    assert_eq!(totals, vec![vec!["Integer(120)".to_owned(), "Integer(120)".to_owned()]]);
}

#[test]
fn a_newer_live_version_wins_over_the_backfill_in_either_order_and_an_older_one_loses() {
    let env = Env::new(100);
    let records = tracks(1, 7);
    let rkey = records[0].rkey.clone();
    let account = env.account(60, &records);
    let live = |rev: &str, title: &str, name: &str| {
        let path = env.dir.path().join(name);
        let frame =
            FrameBuilder::new(&account.did).track("update", &rkey, rev, title, "2026-01-02T03:04:05.000Z");
        std::fs::write(&path, frame + "\n").unwrap();
        path
    };
    let newer = live(&reprise_testkit::tid(now_us() + 3_600_000_000, 1), "Live and newer", "newer.jsonl");
    let older = live(&reprise_testkit::tid(1_600_000_000_000_000, 1), "Live and older", "older.jsonl");
    let title =
        |data: &Path| query(data, "views.db", "SELECT title FROM tracks WHERE did = ?1", &[&account.did]);
    let ingest = |data: &Path, file: &Path| {
        let out = reprise(data).arg("ingest").arg("--fixture").arg(file).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    let backfill = |data: &Path| {
        let out = reprise(data)
            .arg("--config")
            .arg(env.config(""))
            .args(["backfill", "--did", &account.did])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };

    // Live first, projected before the backfill arrives.
    let a = env.dir.path().join("live-first");
    ingest(&a, &newer);
    project(&a);
    backfill(&a);
    project(&a);
    assert_eq!(title(&a), vec![vec!["Live and newer".to_owned()]]);
    // Backfill first.
    let b = env.dir.path().join("backfill-first");
    backfill(&b);
    project(&b);
    ingest(&b, &newer);
    project(&b);
    assert_eq!(title(&b), vec![vec!["Live and newer".to_owned()]]);
    // An older live version, before or after, never replaces the snapshot.
    let c = env.dir.path().join("older");
    ingest(&c, &older);
    backfill(&c);
    ingest(&c, &older);
    project(&c);
    assert_eq!(title(&c), vec![vec!["Track 0".to_owned()]]);
}

/// A live track of 2020, long before any repo snapshot the tests fetch, and one of 2096, after all of them.
const OLD_REV_US: u64 = 1_600_000_000_000_000;
const FUTURE_REV_US: u64 = 4_000_000_000_000_000;

/// Live track creates of `did`'s into the log, as ingest would append them: (rkey, rev time, title).
fn heard_live(env: &Env, did: &str, tracks: &[(&str, u64, &str)]) {
    let live = env.dir.path().join("live.jsonl");
    let mut b = FrameBuilder::new(did);
    let frames: Vec<String> = tracks
        .iter()
        .map(|(rkey, rev_us, title)| {
            b.track("create", rkey, &reprise_testkit::tid(*rev_us, 1), title, "2026-01-02T03:04:05.000Z")
        })
        .collect();
    std::fs::write(&live, frames.join("\n") + "\n").unwrap();
    let out = reprise(&env.data()).arg("ingest").arg("--fixture").arg(&live).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A gap event, as live ingest appends one when a host can no longer replay what it missed.
fn gap_recorded(data: &Path) {
    let mut log = reprise_events::EventLog::open(data).unwrap();
    let gap = reprise_events::NewEvent {
        envelope: reprise_events::Envelope::gap(reprise_events::GapRange { from: 10, to: 20 }),
        frame: br#"{"gap":{"reason":"CursorTooOld"}}"#.to_vec(),
        source_cursor: None,
        received_at_us: 1,
    };
    log.append("wss://jetstream.test/subscribe", &[gap], None).unwrap();
}

#[test]
fn a_gap_in_the_log_backfills_every_repo_the_log_knows_once() {
    let env = Env::new(100);
    let known = env.account(70, &tracks(3, 70));
    let unknown = env.account(71, &tracks(3, 71));
    let data = env.data();
    heard_live(&env, &known.did, &[("3kliveliveli2", OLD_REV_US, "Heard live")]);

    let (_, nothing) = env.backfill(&["--gaps"]);
    assert_eq!((nothing["gaps"].as_u64(), nothing["repos"].as_u64()), (Some(0), Some(0)), "{nothing}");
    gap_recorded(&data);
    let (out, repaired) = env.backfill(&["--gaps"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(repaired["gaps"].as_u64(), Some(1), "{repaired}");
    // Three records, the handle, and a delete of the live record the repo no longer has.
    assert_eq!((repaired["done"].as_u64(), repaired["appended"].as_u64()), (Some(1), Some(5)), "{repaired}");
    assert_eq!(repaired["absent"].as_u64(), Some(1), "{repaired}");
    assert_eq!(repaired["gaps_repaired"], json!(true));
    assert_eq!((commit_count(&data, &known.did), env.pds.requests(&unknown.did)), (5, 0));
    let (_, again) = env.backfill(&["--gaps"]);
    assert_eq!(again["gaps"].as_u64(), Some(0), "{again}");
    assert_eq!(env.pds.requests(&known.did), 1);
}

#[test]
fn run_repairs_recorded_gaps_by_itself_and_serves_what_it_recovered() {
    let env = Env::new(100);
    let known = env.account(72, &tracks(3, 72));
    let data = env.data();
    // One record deleted while nobody listened (older than the repo, absent from it), one written since.
    heard_live(
        &env,
        &known.did,
        &[("3kliveliveli2", OLD_REV_US, "Heard live"), ("3knewernewer2", FUTURE_REV_US, "Written since")],
    );
    gap_recorded(&data);
    let mut running = env.run_repairing_gaps();
    let addr = running.wait_listening();
    let pass = running.wait_for("a gap repair pass", |v| message(v) == "gap repair pass");
    // Three records, the handle, and the delete of the record the repo no longer has.
    assert_eq!(
        (pass["fields"]["repaired"].as_bool(), pass["fields"]["appended"].as_u64()),
        (Some(true), Some(5)),
        "{pass}"
    );
    let mut titles = support::eventually("the backfilled tracks to be served", || {
        let (_, body) = support::get(&addr, &format!("/xrpc/fm.reprise.getTracks?artist={}", known.did));
        let titles: Vec<String> =
            body["tracks"].as_array()?.iter().map(|t| t["title"].as_str().unwrap_or("").to_owned()).collect();
        titles.iter().any(|t| t.starts_with("Track")).then_some(titles)
    });
    titles.sort();
    assert_eq!(titles, ["Track 0", "Track 1", "Track 2", "Written since"]);
    let deleted = format!("at://{}/fm.plyr.track/3kliveliveli2", known.did);
    let (_, history) = support::get(&addr, &format!("/xrpc/fm.reprise.getRecordHistory?uri={deleted}"));
    let last = history["entries"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (&last["operation"], &last["source"]),
        (&json!("delete"), &json!(format!("backfill:{}", env.pds.url()))),
        "{history}"
    );
    assert_eq!(env.pds.requests(&known.did), 1);
    // Repaired once: later passes find nothing to do, and the node stops cleanly.
    running.signal("TERM");
    let status = running.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert_eq!(env.pds.requests(&known.did), 1);
}

#[test]
fn run_holds_back_a_repo_that_keeps_failing_and_repairs_the_gap_once_it_answers() {
    let env = Env::new(100);
    let fine = env.account(73, &tracks(1, 73));
    let down = env.account(74, &tracks(2, 74));
    let data = env.data();
    for did in [&fine.did, &down.did] {
        heard_live(&env, did, &[("3kliveliveli2", OLD_REV_US, "Heard live")]);
    }
    gap_recorded(&data);
    env.pds.set_fault(&down.did, Fault::Status { status: 503, times: 1000 });
    let mut running = env.run_repairing_gaps();
    // Each pass as (repos tried, failed, held back, gap repaired). Waits are counted in passes, not
    // time, so a broken backoff fails here rather than hanging.
    let mut next_pass = || {
        let f = running.wait_for("a gap repair pass", |v| message(v) == "gap repair pass")["fields"].clone();
        let n = |k: &str| f[k].as_u64().unwrap_or_else(|| panic!("{k} in {f}"));
        (n("repos"), n("failed"), n("deferred"), f["repaired"] == true)
    };
    assert_eq!(next_pass(), (2, 1, 0, false));
    // Tried again one interval later, then held back for longer; the repo that answered is no reason to
    // call the gap repaired while another was not tried.
    let held = (0..8).map(|_| next_pass()).find(|p| p.2 == 1).expect("the failing repo held back");
    assert_eq!(held, (1, 0, 1, false));
    env.pds.set_fault(&down.did, Fault::Status { status: 503, times: 0 });
    let repaired =
        (0..16).map(|_| next_pass()).find(|p| p.3).expect("the gap repaired once the repo answers");
    assert_eq!(repaired, (2, 0, 0, true));
    // The live record, the repo's two, and the delete of the live one it no longer has.
    assert_eq!(commit_count(&data, &down.did), 4);
    running.signal("TERM");
    assert!(running.child.wait().unwrap().success());
}

#[test]
fn bad_command_lines_and_limits_are_refused_before_anything_runs() {
    let env = Env::new(100);
    let data = env.data();
    for (args, expected) in [
        (vec!["backfill"], "required"),
        (vec!["backfill", "--collection", "fm.plyr.track"], "--relay"),
        (vec!["backfill", "--gaps", "--did", "did:plc:x"], "cannot be used with"),
    ] {
        let out = reprise(&data).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(expected),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = reprise(&data)
        .arg("--config")
        .arg(env.config("concurrency = 0\n"))
        .args(["backfill", "--did", "did:plc:x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`backfill.concurrency`"));
    assert!(!data.join("events.db").exists(), "nothing was opened");
}
