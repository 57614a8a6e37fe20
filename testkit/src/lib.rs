//! Test and benchmark support: Jetstream v1 frames built by hand or generated in bulk, and signed repos
//! served by a fake PDS.
//!
//! Everything here is deterministic (a seeded generator, no clock), so a failing test or a benchmark
//! fixture can be reproduced exactly.

mod dump;
mod frames;
mod generate;
mod ids;
mod jetstream_server;
mod pds_server;
pub mod records;
pub mod repos;

pub use dump::dump_views;
pub use frames::{FrameBuilder, account, identity};
pub use generate::{GenerateReport, Mix, generate};
pub use ids::{Rng, did, fake_cid, record_cid, tid};
pub use jetstream_server::{Faults, History, JetstreamServer};
pub use pds_server::{Fault, PdsServer};
