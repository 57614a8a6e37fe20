//! `reprise status`: the log's state as one JSON object, for operators and scripts.

use anyhow::bail;
use reprise_events::LogReader;
use serde_json::json;

use crate::config::Config;

pub fn status(config: &Config) -> anyhow::Result<()> {
    if !config.data_dir.join(reprise_events::LOG_FILE).exists() {
        bail!("no event log in {}", config.data_dir.display());
    }
    let reader = LogReader::open(&config.data_dir)?;
    let cursors: Vec<_> = reader
        .cursors()?
        .into_iter()
        .map(|c| json!({"source": c.source, "cursor": c.cursor, "last_seq": c.last_seq, "updated_at_us": c.updated_at_us}))
        .collect();
    let kinds: serde_json::Map<String, serde_json::Value> =
        reader.count_by_kind()?.into_iter().map(|(k, n)| (k, json!(n))).collect();
    println!(
        "{}",
        json!({"data_dir": config.data_dir, "head": reader.head()?, "sources": cursors, "events_by_kind": kinds})
    );
    Ok(())
}
