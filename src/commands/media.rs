//! The media stage of `reprise run`, and `reprise media retry`: the configuration wired to
//! `reprise_media::worker` (which owns the loop, the log writer and the retry request).

use std::sync::Arc;

use reprise_atproto_net::{GuardedHttp, IdentityResolver, NetPolicy};
use reprise_media::pipeline::MediaPipeline;
use reprise_media::transcode::{Limits, Transcoder};
use reprise_media::worker::{self, MediaWorker};
use serde_json::json;
use tokio::sync::watch;

use crate::config::Config;

/// `reprise media retry CID`: prints the job's previous state and the retry's seq.
pub fn retry(config: &Config, cid: &str) -> anyhow::Result<()> {
    let done = worker::request_retry(&config.data_dir, cid)?;
    let job = done.previous;
    println!(
        "{}",
        json!({"cid": cid, "did": job.did, "uri": job.uri, "previous_state": job.state,
               "attempts": job.attempts, "seq": done.seq})
    );
    Ok(())
}

/// The pipeline the configuration describes. The PLC directory is the operator's choice, so its address
/// is allowed even when private; PDS endpoints come from DID documents and get the strict policy.
async fn pipeline(config: &Config) -> anyhow::Result<MediaPipeline> {
    let media = &config.media;
    let plc = url::Url::parse(&config.identity.plc_url)?;
    let plc_host = plc.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
    let plc_port = plc.port_or_known_default().unwrap_or(443);
    let plc_addrs: Vec<_> = match tokio::net::lookup_host((plc_host, plc_port)).await {
        Ok(addrs) => addrs.collect(),
        Err(e) => {
            tracing::warn!(error = %e, plc = %plc, "cannot resolve the PLC directory now");
            Vec::new()
        }
    };
    let identity_policy =
        NetPolicy { allow_private_networks: media.allow_private_networks, allowed_addrs: plc_addrs };
    let http = GuardedHttp::new(identity_policy, media.connect_timeout(), media.read_timeout());
    let identity =
        IdentityResolver::new(&config.identity, http).map_err(|e| anyhow::anyhow!("identity: {e}"))?;
    Ok(MediaPipeline {
        identity: Arc::new(identity),
        fetcher: reprise_media::fetch::BlobFetcher::new(media),
        transcoder: Transcoder::new(media.transcoder, Limits::default()),
        store: crate::config::open_store(config)?,
    })
}

/// Starts the media worker. `checkpoint` moves when the projector has applied more of the log.
pub async fn start(
    config: &Config,
    checkpoint: watch::Receiver<i64>,
    stop: reprise_events::Shutdown,
) -> anyhow::Result<MediaWorker> {
    let pipeline = pipeline(config).await?;
    Ok(worker::start(&config.data_dir, pipeline, config.media.runner(), checkpoint, stop)?)
}
