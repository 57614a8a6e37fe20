//! Backfill: recover repos Jetstream can no longer replay, straight from their PDSes.
//!
//! A repo is fetched whole (`com.atproto.sync.getRepo`, a CAR), verified (`verify.rs`: block CIDs, the
//! commit's signature against the DID document's key, the MST's structure) and its records in the
//! wanted collections are appended as commit events carrying the repo's rev (`events.rs`), with the
//! source `backfill:<pds>`. The projector orders versions by rev, so a live event newer than the
//! snapshot wins and an older one loses, whichever arrives first. A repo that fails verification
//! contributes only a rejected event naming the reason. Progress per repo is durable (`progress.rs`),
//! so an interrupted run resumes and a repo done at its current rev is skipped. `gaps.rs` plans the
//! repair of gap events: a backfill of every repo the log knows. The network side
//! (`pds.rs`, `run.rs`) needs the `pds` feature.

mod events;
mod gaps;
#[cfg(feature = "pds")]
mod pds;
mod progress;
#[cfg(feature = "pds")]
mod run;
mod verify;

pub use events::{absent_events, backfill_source, identity_event, record_events, rejected_event};
pub use gaps::{GapRepair, plan_gap_repair};
#[cfg(feature = "pds")]
pub use pds::{FetchError, HostLimits, PdsClient, RepoHome};
pub use progress::{PROGRESS_FILE, Progress, RepoProgress, RepoState};
#[cfg(feature = "pds")]
pub use run::{BackfillOptions, BackfillReport, RepoOutcome, Target, run_backfill};
pub use verify::{VerifiedRecord, VerifiedRepo, collection_wanted, verify_repo};
