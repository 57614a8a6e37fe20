//! One media job's work: resolve the owner's PDS, fetch and verify the blob, keep the original, transcode
//! it, and store the rendition, reporting each step. A job always does the whole work: whoever submits it
//! (the binary's media worker) decides from the log whether a blob still needs it, and a rendition left
//! without its `stored` event (a crash between the two) is simply made again.

use std::sync::Arc;

use async_trait::async_trait;

use reprise_atproto_net::{IdentityError, IdentityResolver};
use reprise_store::{ObjectStore, StoreError};

use crate::fetch::{BlobFetcher, FetchError};
use crate::jobs::{JobError, JobEvents, JobState, JobWork, MediaJob, RenditionInfo};
use crate::keys;
use crate::transcode::{TranscodeError, Transcoder};

/// Everything a media job needs.
#[derive(Debug, Clone)]
pub struct MediaPipeline {
    pub identity: Arc<IdentityResolver>,
    pub fetcher: BlobFetcher,
    pub transcoder: Transcoder,
    pub store: Arc<dyn ObjectStore>,
}

fn fatal(reason: impl std::fmt::Display) -> JobError {
    JobError { reason: reason.to_string(), retryable: false }
}

fn from_identity(e: IdentityError) -> JobError {
    let retryable = match &e {
        IdentityError::Net(net) => net.is_retryable(),
        IdentityError::Status { status } => *status >= 500 || *status == 429,
        _ => false,
    };
    JobError { reason: format!("identity: {e}"), retryable }
}

fn from_fetch(e: FetchError) -> JobError {
    JobError { retryable: e.is_retryable(), reason: format!("fetch: {e}") }
}

fn from_store(e: StoreError) -> JobError {
    JobError { reason: format!("store: {e}"), retryable: true }
}

fn from_transcode(e: TranscodeError) -> JobError {
    let retryable = matches!(e, TranscodeError::Io(_));
    JobError { reason: format!("transcode: {e}"), retryable }
}

/// The content type kept with an original: the PDS's if it is audio, else from the sniffed container.
fn original_content_type(declared: Option<&str>, container: &str) -> String {
    let declared = declared.map(|d| d.split(';').next().unwrap_or(d).trim().to_ascii_lowercase());
    if let Some(d) = declared.filter(|d| d.starts_with("audio/") && d.len() < 64) {
        return d;
    }
    match container {
        "wav" => "audio/wav",
        "flac" => "audio/flac",
        "mp3" => "audio/mpeg",
        "mp4" => "audio/mp4",
        "ogg" => "audio/ogg",
        "webm" => "audio/webm",
        "aiff" => "audio/aiff",
        "aac" => "audio/aac",
        _ => "application/octet-stream",
    }
    .to_owned()
}

#[async_trait]
impl JobWork for MediaPipeline {
    async fn run(&self, job: &MediaJob, events: &dyn JobEvents) -> Result<(), JobError> {
        let rendition_key = keys::rendition(&job.cid).map_err(fatal)?;
        let original_key = keys::original(&job.cid).map_err(fatal)?;
        let identity = self.identity.resolve(&job.did).await.map_err(from_identity)?;
        let blob = match self.fetcher.fetch(&identity.pds, &job.did, &job.cid).await {
            Err(FetchError::Net(net)) if net.is_retryable() => {
                // The PDS may have moved: resolve afresh next time.
                self.identity.invalidate(&job.did);
                return Err(from_fetch(FetchError::Net(net)));
            }
            other => other.map_err(from_fetch)?,
        };
        events.record(&job.cid, JobState::Fetched { size: blob.size });

        let transcoded = self.transcoder.transcode(blob.path()).await.map_err(from_transcode)?;
        events.record(
            &job.cid,
            JobState::Transcoded {
                duration_secs: transcoded.probe.duration_secs,
                loudness_lufs: transcoded.loudness_lufs,
            },
        );
        let original_type = original_content_type(blob.content_type.as_deref(), &transcoded.probe.container);
        self.store.put_file(&original_key, blob.path(), &original_type).await.map_err(from_store)?;
        let rendition = &transcoded.rendition;
        self.store
            .put_file(&rendition_key, rendition.path(), rendition.content_type)
            .await
            .map_err(from_store)?;
        let info = RenditionInfo {
            format: rendition.format.to_owned(),
            content_type: rendition.content_type.to_owned(),
            bitrate_kbps: rendition.bitrate_kbps,
            size: rendition.size,
            duration_secs: transcoded.probe.duration_secs,
            loudness_lufs: transcoded.loudness_lufs,
            waveform: transcoded.waveform.clone(),
            original: transcoded.probe.clone(),
        };
        events.record(&job.cid, JobState::Stored { rendition: Box::new(info) });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::original_content_type;

    #[test]
    fn originals_keep_an_audio_content_type_only() {
        assert_eq!(original_content_type(Some("audio/FLAC; x=1"), "flac"), "audio/flac");
        assert_eq!(original_content_type(Some("text/html"), "mp3"), "audio/mpeg");
        assert_eq!(original_content_type(None, "unknown"), "application/octet-stream");
    }
}
