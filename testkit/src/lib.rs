//! Test and benchmark support: Jetstream v1 frames built by hand or generated in bulk (and the small
//! curated sample in `fixtures/`), a scriptable HTTP
//! server playing a PDS or PLC directory (`http_server`), generated audio (`audio`), and signed repos
//! served by a fake PDS, relay and PLC directory (`repos`, `pds_server`), and a subscribeRepos
//! firehose of real signed commits (`firehose_frames`, `firehose_server`), and WebSocket frames no
//! well-behaved host sends (`ws_frames`).
//!
//! Everything here is deterministic (a seeded generator, no clock), so a failing test or a benchmark
//! fixture can be reproduced exactly.

pub mod audio;
mod dump;
pub mod firehose_frames;
mod firehose_server;
mod frames;
mod generate;
pub mod http_server;
mod ids;
mod jetstream_server;
mod pds_server;
pub mod records;
pub mod repos;
mod sample;
mod tasks;
pub mod ws_frames;

pub use dump::dump_views;
pub use firehose_server::{FirehoseHistory, FirehoseServer, SUBSCRIBE_REPOS_PATH};
pub use frames::{FrameBuilder, account, identity};
pub use generate::{GenerateReport, Mix, generate};
pub use ids::{Rng, did, fake_cid, record_cid, tid};
pub use jetstream_server::{Faults, History, JetstreamServer};
pub use pds_server::{Fault, PdsServer};
pub use sample::sample;
