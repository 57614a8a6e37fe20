//! Command-line arguments, parsed raw here and validated once in `main`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "reprise", version, about = "An AppView for music on the AT Protocol")]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// A config.toml whose keys override the built-in defaults.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where events.db and views.db live (config key `data_dir`).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address the API listens on (config key `api.listen`).
    #[arg(long, global = true, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Log JSON lines instead of readable text (config key `log.format`).
    #[arg(long, global = true)]
    pub log_json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ingest, project and serve in one process.
    Run {
        /// Read Jetstream v1 frames from this file instead of the network, then keep serving.
        #[arg(long, value_name = "FILE.jsonl")]
        fixture: Option<PathBuf>,
        /// Follow this Jetstream URL instead of `ingest.hosts` (repeatable; the path chooses the wire:
        /// `/subscribe` or `/xrpc/network.bsky.jetstream.subscribeEvents`).
        #[arg(long, value_name = "URL", conflicts_with = "fixture")]
        jetstream: Vec<String>,
        /// Follow this `com.atproto.sync.subscribeRepos` URL of a PDS or relay instead of `ingest.firehose`
        /// (repeatable; each followed concurrently). With any firehose, Jetstream is followed only when
        /// `--jetstream` is also given.
        #[arg(long, value_name = "URL", conflicts_with = "fixture")]
        firehose: Vec<String>,
    },
    /// Print the log's state as JSON: cursors per source, head, events by kind.
    Status,
    /// Serve the read models that already exist; ingest nothing.
    Serve,
    /// Append a file of Jetstream v1 frames to the log and exit.
    Ingest {
        #[arg(long, value_name = "FILE.jsonl")]
        fixture: PathBuf,
    },
    /// Apply pending log events to the read models and exit.
    Project,
    /// Validate records and lexicon files.
    Lexicon {
        #[command(subcommand)]
        command: LexiconCommand,
    },
    /// Media jobs (fetching and transcoding track audio).
    Media {
        #[command(subcommand)]
        command: MediaCommand,
    },
    /// Replay the whole log into fresh read models.
    Rebuild {
        /// Stop at this seq, or at the last event received at or before this RFC 3339 time.
        #[arg(long, value_name = "SEQ|TIME")]
        until: Option<String>,
        /// Write views.db into this directory instead of replacing the data directory's.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Snapshots of the read models in the object store (`[storage]`).
    Snapshot {
        #[command(subcommand)]
        command: SnapshotCommand,
    },
    /// The event log archived in the object store as sealed segments.
    Log {
        #[command(subcommand)]
        command: LogCommand,
    },
    /// Fetch whole repos from their PDSes, verify them, and append their records to the log.
    #[command(group(clap::ArgGroup::new("repos").required(true).args(["did", "collection", "gaps"])))]
    Backfill {
        /// A repo to backfill (repeatable).
        #[arg(long, value_name = "DID")]
        did: Vec<String>,
        /// Backfill every repo the relay lists as holding records of this collection.
        #[arg(long, value_name = "NSID", requires = "relay", conflicts_with = "did")]
        collection: Option<String>,
        /// The relay asked for `com.atproto.sync.listReposByCollection`.
        #[arg(long, value_name = "URL")]
        relay: Option<String>,
        /// Repair the log's unrepaired gap events: backfill every repo the log knows.
        #[arg(long, conflicts_with_all = ["did", "collection"])]
        gaps: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Snapshot views.db (safe while `reprise run` is running), then apply `snapshots.retention`.
    Create,
    /// List the snapshots in the store, oldest first, as JSON.
    List,
    /// Replace views.db with a snapshot (the node must be stopped); projection continues from its seq.
    Restore {
        /// A snapshot id from `snapshot list`, or `latest`.
        #[arg(default_value = "latest")]
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// Upload sealed segments of the log that the store does not have yet.
    Export {
        /// Where the first export starts; later ones continue after the last segment.
        #[arg(long, value_name = "SEQ")]
        from: Option<i64>,
        /// Seal the last segment at this seq even if it is not full.
        #[arg(long, value_name = "SEQ")]
        to: Option<i64>,
        /// Events per segment.
        #[arg(long, value_name = "N", default_value_t = 100_000)]
        segment_events: i64,
    },
    /// Load the store's log archive into this (empty) node.
    Import,
}

#[derive(Debug, Subcommand)]
pub enum MediaCommand {
    /// Request a blob's media job again (also one that stopped after its last attempt); a running or the
    /// next `reprise run` does it. Prints the job's previous state as JSON.
    Retry {
        /// The audio blob's CID.
        #[arg(value_name = "CID")]
        cid: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum LexiconCommand {
    /// Validate one record (a JSON object) against its lexicon. Exit 0 valid, 1 invalid, 2 could not run.
    Validate {
        /// Load the lexicons from this directory (recursively) instead of the built-in set.
        #[arg(long, value_name = "DIR")]
        lexicons: Option<PathBuf>,
        /// The record's collection, e.g. fm.plyr.track.
        #[arg(long)]
        nsid: String,
        /// Also check the record key against the lexicon's key type.
        #[arg(long)]
        rkey: Option<String>,
        #[arg(value_name = "FILE.json")]
        file: PathBuf,
    },
    /// Check the lexicon files under DIR. Exit 0 valid, 1 invalid, 2 could not run.
    Check {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}
