//! The projector: folds the event log into the read models in `views.db`.
//!
//! Each batch of events is applied in one transaction together with the checkpoint (the last applied
//! seq), so a crash at any point leaves the read models exactly at some checkpoint, and the next run
//! continues from there. The projector does no network IO: read models are a pure function of the
//! log, and `rebuild` replays from seq 0 into a fresh file that gives the same result.
//!
//! This file only declares modules and re-exports: no module inside the crate imports from here, so
//! the modules' `use crate::...` graph has no cycle (a test checks it).

mod accounts;
mod apply;
mod audit;
mod error;
mod follow;
mod heads;
mod incremental;
pub mod media;
pub mod media_jobs;
mod model;
mod ordering;
mod prepare;
mod rebuild;
pub mod schema;
mod store;
mod types;

pub use accounts::{HIDING_STATUSES, NOT_SERVED_SQL};
pub use error::ProjectorError;
pub use follow::follow;
pub use incremental::Projector;
pub use model::plays::name_key;
pub use ordering::{Decision, Head, decide};
pub use rebuild::{RebuildReport, install_views, rebuild};
pub use reprise_lexicons::Catalog;
pub use schema::{VERSION as SCHEMA_VERSION, VIEWS_FILE};
pub use types::{ApplyReport, Ignored, Outcome};
