//! `reprise log export|import`: the event log as sealed segments in the object store.

use anyhow::Context;
use reprise_snapshots::{ExportOptions, export_log, import_log};
use serde_json::json;

use crate::cli::LogCommand;
use crate::config::Config;

pub fn dispatch(config: &Config, command: LogCommand) -> anyhow::Result<()> {
    super::snapshot::with_store(config, |store| async move {
        match command {
            LogCommand::Export { from, to, segment_events } => {
                let opts = ExportOptions { from, to, segment_events };
                let r = export_log(&*store, &config.data_dir, opts).await.context("log export")?;
                let uploaded: Vec<_> = r
                    .uploaded
                    .iter()
                    .map(|s| json!({"first_seq": s.first_seq, "last_seq": s.last_seq, "bytes": s.object.bytes}))
                    .collect();
                anyhow::Ok(
                    json!({"uploaded": uploaded, "kept": r.kept, "next_seq": r.next_seq, "head": r.head}),
                )
            }
            LogCommand::Import => {
                let r = import_log(&*store, &config.data_dir).await.context("log import")?;
                Ok(json!({"segments": r.segments, "events": r.events, "head": r.head}))
            }
        }
    })
}
