//! `reprise media retry CID`: a manual `requested` event in the log. The worker of a running (or the next)
//! `reprise run` picks it up, even for a job that stopped after its last attempt, and the fold starts its
//! attempt count again.

use std::path::Path;

use reprise_events::media::{JobState, MediaEvent};
use reprise_events::{EventLog, now_us};
use reprise_projector::VIEWS_FILE;
use reprise_projector::media_jobs::{MediaReader, OpenJob};

use super::{SOURCE, WorkerError};
use crate::fetch::parse_blob_cid;

/// A retry in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryRequested {
    /// The job as the read models showed it before the retry.
    pub previous: OpenJob,
    /// The log seq of the retry's event.
    pub seq: i64,
}

/// Appends a manual request for the blob `cid` to the log in `data_dir`. The blob must be one an indexed
/// track carries (the read models know a job for it).
pub fn request_retry(data_dir: &Path, cid: &str) -> Result<RetryRequested, WorkerError> {
    parse_blob_cid(cid).map_err(|e| WorkerError::NotABlob { cid: cid.to_owned(), reason: e.to_string() })?;
    let views = data_dir.join(VIEWS_FILE);
    if !views.exists() {
        return Err(WorkerError::NoViews(views));
    }
    let Some(job) = MediaReader::open(&views)?.job(cid)? else {
        return Err(WorkerError::NoJob(cid.to_owned()));
    };
    let mut log = EventLog::open(data_dir)?;
    let event =
        MediaEvent::new(cid, &job.did, JobState::Requested, now_us()).with_uri(job.uri.clone()).manual();
    let out = log.append(SOURCE, &[event.to_log_event()], None)?;
    Ok(RetryRequested { previous: job, seq: out.head })
}
