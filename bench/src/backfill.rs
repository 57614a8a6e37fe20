//! Suite `backfill`: a generated repo of 10,000 `fm.plyr.track` records served by the test PDS over
//! loopback, from `getRepo` to durable append (DID resolution, the fetch, every verification, the record
//! CID check and the log's fsynced transactions), against parsing the same CAR alone (every block read and
//! each record decoded to JSON, nothing checked, nothing written). `verify_records_per_s` is the
//! verification step alone, on the same baseline, to show where the time goes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reprise_atproto_net::{GuardedHttp, IdentityConfig, IdentityResolver, NetPolicy, PublicKey};
use reprise_events::EventLog;
use reprise_ingest::backfill::{BackfillOptions, HostLimits, PdsClient, Target, run_backfill, verify_repo};
use reprise_testkit::PdsServer;
use reprise_testkit::repos::{Account, tracks};

use crate::Options;
use crate::measure::{emit, median_of};

/// Records in the generated repo.
pub const RECORDS: usize = 10_000;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

pub fn run(opts: &Options) -> Result<(), String> {
    std::fs::create_dir_all(&opts.dir).map_err(err)?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(err)?;
    let account = Account::new(1);
    let repo = account.repo(&tracks(RECORDS, 1), 0);
    let car = repo.car.clone();
    let pds = rt.block_on(PdsServer::start(100));
    pds.serve(&account, repo);

    let baseline = median_of(opts.runs, || rate(|| parse_only(&car)))?;
    let wanted = vec!["fm.plyr.*".to_owned()];
    let verify = median_of(opts.runs, || {
        rate(|| {
            let key = PublicKey::multikey(account.multibase()).verifying_key().map_err(err)?;
            Ok(verify_repo(&car, &account.did, key.as_ref(), &wanted)?.records.len())
        })
    })?;
    let end_to_end = median_of(opts.runs, || {
        rate(|| rt.block_on(backfill_once(&opts.dir.join("backfill-run"), &pds, &account.did)))
    })?;
    emit("backfill", "getrepo_to_durable_records_per_s", end_to_end, "records/s", baseline);
    emit("backfill", "verify_records_per_s", verify, "records/s", baseline);
    Ok(())
}

/// Records per second for `f`, which returns how many records it handled (checked to be all of them).
fn rate(f: impl FnOnce() -> Result<usize, String>) -> Result<f64, String> {
    let t = Instant::now();
    let n = f()?;
    if n != RECORDS {
        return Err(format!("handled {n} records, expected {RECORDS}"));
    }
    Ok(n as f64 / t.elapsed().as_secs_f64())
}

/// The baseline: read every block and decode each record block to JSON, checking nothing.
fn parse_only(car: &[u8]) -> Result<usize, String> {
    let reader = shrike::car::SliceReader::new(car).map_err(err)?;
    let mut records = 0;
    let mut json = Vec::new();
    for block in reader {
        let block = block.map_err(err)?;
        json.clear();
        // MST nodes and the commit decode too; only records have a `$type`.
        if shrike::cbor::json::drisl_to_json_into(block.data, &mut json).is_ok()
            && json.starts_with(b"{\"$type\"")
        {
            records += 1;
        }
    }
    Ok(records)
}

async fn backfill_once(data: &std::path::Path, pds: &PdsServer, did: &str) -> Result<usize, String> {
    if data.exists() {
        std::fs::remove_dir_all(data).map_err(err)?;
    }
    let log = EventLog::open(data).map_err(err)?;
    let http = GuardedHttp::new(
        NetPolicy { allow_private_networks: true, allowed_addrs: vec![] },
        Duration::from_secs(10),
        Duration::from_secs(30),
    );
    let identity =
        IdentityResolver::new(&IdentityConfig { plc_url: pds.url(), cache_ttl_secs: 600 }, http.clone())
            .map_err(err)?;
    let limits = HostLimits {
        concurrency: 2,
        requests_per_second: 5.0,
        retries: 0,
        backoff_initial: Duration::from_millis(10),
    };
    let client = Arc::new(PdsClient::new(http, identity, limits));
    let options = BackfillOptions {
        wanted_collections: vec!["fm.plyr.*".to_owned()],
        max_repo_bytes: 256 << 20,
        concurrency: 1,
        batch_size: 1_000,
    };
    let (report, _log) =
        run_backfill(log, data, client, Target::Dids(vec![did.to_owned()]), options, |_, _, _| {})
            .await
            .map_err(err)?;
    // Every record, and the identity event with the handle the DID document claims.
    if report.appended != report.records + 1 {
        return Err(format!("appended {} events for {} records", report.appended, report.records));
    }
    Ok(report.records)
}
