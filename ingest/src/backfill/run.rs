//! A backfill run: repos from a list or a relay's `listReposByCollection`, each resolved, fetched,
//! verified and appended by its own task, a bounded number at once; one writer appends to the log and
//! marks progress, in that order.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use reprise_events::{EventLog, NewEvent, RecordRev};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::events::{absent_events, backfill_source, identity_event, record_events, rejected_event};
use super::pds::{FetchError, PdsClient};
use super::progress::{Progress, RepoState};
use super::verify::{collection_wanted, verify_repo};
use crate::IngestError;

/// Which repos to backfill.
#[derive(Debug, Clone)]
pub enum Target {
    Dids(Vec<String>),
    /// Every repo a relay lists as holding records of the collection.
    Collection {
        collection: String,
        relay: String,
    },
}

/// How a run behaves.
#[derive(Debug, Clone)]
pub struct BackfillOptions {
    /// Collections whose records are appended (NSIDs or `prefix.*`).
    pub wanted_collections: Vec<String>,
    /// Largest repo CAR fetched, in bytes.
    pub max_repo_bytes: u64,
    /// Repos in progress at once (over all hosts).
    pub concurrency: usize,
    /// Events per log append (one transaction each).
    pub batch_size: usize,
}

/// What happened to one repo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepoOutcome {
    /// Its records are in the log at `rev`: `appended` new, `duplicates` already there; `absent` records
    /// the log held as current were no longer in the repo and are deleted at `rev`.
    Done { rev: String, records: usize, absent: usize, appended: usize, duplicates: usize },
    /// Already done at the repo's current rev.
    Skipped { rev: String },
    /// Refused; a rejected event says why.
    Rejected { reason: String },
    /// Could not be fetched or resolved; the next run tries again.
    Failed { reason: String },
}

/// Totals of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct BackfillReport {
    pub repos: usize,
    pub done: usize,
    pub skipped: usize,
    pub rejected: usize,
    pub failed: usize,
    pub records: usize,
    /// Deletes appended for records the repos no longer hold.
    pub absent: usize,
    pub appended: usize,
    pub duplicates: usize,
}

impl BackfillReport {
    fn add(&mut self, outcome: &RepoOutcome) {
        self.repos += 1;
        match outcome {
            RepoOutcome::Done { records, absent, appended, duplicates, .. } => {
                self.done += 1;
                self.records += records;
                self.absent += absent;
                self.appended += appended;
                self.duplicates += duplicates;
            }
            RepoOutcome::Skipped { .. } => self.skipped += 1,
            RepoOutcome::Rejected { .. } => self.rejected += 1,
            RepoOutcome::Failed { .. } => self.failed += 1,
        }
    }
}

/// The log and the progress table, written by one task at a time.
struct Writer {
    log: EventLog,
    progress: Progress,
}

/// Runs a backfill into `log`, keeping progress in `data_dir`. `on_repo` sees each repo's outcome as it
/// is settled, with how many repos are settled and how many there are (the command prints a line per
/// repo from it). Returns the totals and the log.
pub async fn run_backfill(
    log: EventLog,
    data_dir: &Path,
    client: Arc<PdsClient>,
    target: Target,
    options: BackfillOptions,
    on_repo: impl Fn(&str, &RepoOutcome, (usize, usize)) + Send + Sync + 'static,
) -> Result<(BackfillReport, EventLog), IngestError> {
    let progress = Progress::open(data_dir)?;
    let dids = match target {
        Target::Dids(dids) => dids,
        Target::Collection { collection, relay } => client
            .list_repos_by_collection(&relay, &collection)
            .await
            .map_err(|e| IngestError::Config(format!("listing repos at {relay}: {e}")))?,
    };
    let mut seen = std::collections::HashSet::new();
    let dids: Vec<String> = dids.into_iter().filter(|d| seen.insert(d.clone())).collect();
    let total = dids.len();
    let settled = Arc::new(AtomicUsize::new(0));
    // What the log already holds of these repos, to tell which of its records they no longer have.
    let reader = log.reader()?;
    let wanted: std::collections::HashSet<String> = dids.iter().cloned().collect();
    let known = tokio::task::spawn_blocking(move || reader.record_revs(&wanted))
        .await
        .map_err(|e| IngestError::Config(format!("reading the log: {e}")))??;
    let known = Arc::new(known);
    let writer = Arc::new(Mutex::new(Writer { log, progress }));
    let options = Arc::new(options);
    let slots = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let on_repo = Arc::new(on_repo);
    let mut tasks = JoinSet::new();
    let mut report = BackfillReport::default();
    for did in dids {
        let permit = slots.clone().acquire_owned().await.expect("never closed");
        let (client, writer, options, on_repo, settled) =
            (client.clone(), writer.clone(), options.clone(), on_repo.clone(), settled.clone());
        let known: Vec<RecordRev> = known
            .get(&did)
            .into_iter()
            .flatten()
            .filter(|k| collection_wanted(&options.wanted_collections, &k.collection))
            .cloned()
            .collect();
        tasks.spawn(async move {
            let _permit = permit;
            let outcome = backfill_repo(&client, &writer, &options, &did, known).await;
            if let Ok(o) = &outcome {
                on_repo(&did, o, (settled.fetch_add(1, Ordering::Relaxed) + 1, total));
            }
            outcome
        });
        while let Some(done) = tasks.try_join_next() {
            report.add(&joined(done)?);
        }
    }
    while let Some(done) = tasks.join_next().await {
        report.add(&joined(done)?);
    }
    let writer =
        Arc::try_unwrap(writer).map_err(|_| IngestError::Config("backfill writer still shared".into()))?;
    let writer = writer.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    Ok((report, writer.log))
}

fn joined(
    r: Result<Result<RepoOutcome, IngestError>, tokio::task::JoinError>,
) -> Result<RepoOutcome, IngestError> {
    r.map_err(|e| IngestError::Config(format!("backfill task: {e}")))?
}

/// One repo, start to finish. Only log and progress errors are errors; everything the network or the
/// repo does wrong is an outcome.
async fn backfill_repo(
    client: &PdsClient,
    writer: &Arc<Mutex<Writer>>,
    options: &BackfillOptions,
    did: &str,
    known: Vec<RecordRev>,
) -> Result<RepoOutcome, IngestError> {
    let home = match client.resolve(did).await {
        Ok(home) => home,
        Err(reason) => return settle(writer, did, "", None, RepoOutcome::Failed { reason }).await,
    };
    let pds = home.pds.clone();
    let owned = did.to_owned();
    let done_rev = locked(writer, move |w| w.progress.done_rev(&owned)).await?;
    if let Some(done_rev) = done_rev
        && let Ok(latest) = client.latest_rev(&pds, did).await
        && latest == done_rev
    {
        return Ok(RepoOutcome::Skipped { rev: latest });
    }
    let car = match client.get_repo(&pds, did, options.max_repo_bytes).await {
        Ok(car) => car,
        Err(FetchError::Failed(reason)) => {
            return settle(writer, did, &pds, None, RepoOutcome::Failed { reason }).await;
        }
        Err(too_large) => {
            let reason = too_large.to_string();
            return settle(writer, did, &pds, None, RepoOutcome::Rejected { reason }).await;
        }
    };
    let Some(key) = home.key else {
        let reason = "DID document has no #atproto signing key".to_owned();
        return settle(writer, did, &pds, None, RepoOutcome::Rejected { reason }).await;
    };
    let (wanted, did_owned, pds_owned) = (options.wanted_collections.clone(), did.to_owned(), pds.clone());
    let handle = home.handle;
    let verified = tokio::task::spawn_blocking(move || {
        let key = key.verifying_key().map_err(|e| e.to_string())?;
        let repo = verify_repo(&car, &did_owned, key.as_ref(), &wanted)?;
        let now = crate::now_us();
        let mut events: Vec<NewEvent> =
            handle.iter().map(|h| identity_event(&repo.did, &repo.rev, h, &pds_owned, now)).collect();
        events.extend(record_events(&repo, &pds_owned, now));
        let absent = absent_events(&repo, &known, &pds_owned, now);
        let counts = (repo.records.len(), absent.len());
        events.extend(absent);
        Ok::<_, String>((repo.rev, counts, events))
    })
    .await
    .map_err(|e| IngestError::Config(format!("verify task: {e}")))?;
    match verified {
        Err(reason) => settle(writer, did, &pds, None, RepoOutcome::Rejected { reason }).await,
        Ok((rev, (records, absent), events)) => {
            let batch = options.batch_size.max(1);
            let source = backfill_source(&pds);
            let (appended, duplicates) = locked(writer, move |w| {
                let (mut appended, mut duplicates) = (0, 0);
                for chunk in events.chunks(batch) {
                    let o = w.log.append(&source, chunk, None)?;
                    appended += o.appended;
                    duplicates += o.duplicates;
                }
                Ok::<_, IngestError>((appended, duplicates))
            })
            .await?;
            let outcome = RepoOutcome::Done { rev: rev.clone(), records, absent, appended, duplicates };
            settle(writer, did, &pds, Some(&rev), outcome).await
        }
    }
}

/// Records the outcome: a rejected event first for a refused repo, then the progress row.
async fn settle(
    writer: &Arc<Mutex<Writer>>,
    did: &str,
    pds: &str,
    rev: Option<&str>,
    outcome: RepoOutcome,
) -> Result<RepoOutcome, IngestError> {
    let (did, pds, rev) = (did.to_owned(), pds.to_owned(), rev.map(str::to_owned));
    let o = outcome.clone();
    locked(writer, move |w| {
        let (state, records, reason) = match &o {
            RepoOutcome::Done { records, .. } => (RepoState::Done, *records, None),
            RepoOutcome::Rejected { reason } => {
                let event: NewEvent = rejected_event(&did, &pds, reason, crate::now_us());
                w.log.append(&backfill_source(&pds), &[event], None)?;
                (RepoState::Rejected, 0, Some(reason.as_str()))
            }
            RepoOutcome::Failed { reason } => (RepoState::Failed, 0, Some(reason.as_str())),
            RepoOutcome::Skipped { .. } => return Ok(()),
        };
        w.progress.mark(&did, &pds, state, rev.as_deref(), records, reason)?;
        Ok::<_, IngestError>(())
    })
    .await?;
    Ok(outcome)
}

/// Runs `f` on the writer in a blocking thread (SQLite writes fsync).
async fn locked<T: Send + 'static, E>(
    writer: &Arc<Mutex<Writer>>,
    f: impl FnOnce(&mut Writer) -> Result<T, E> + Send + 'static,
) -> Result<T, IngestError>
where
    E: Into<IngestError> + Send + 'static,
{
    let writer = writer.clone();
    tokio::task::spawn_blocking(move || {
        let mut w = writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut w).map_err(Into::into)
    })
    .await
    .map_err(|e| IngestError::Config(format!("writer task: {e}")))?
}
