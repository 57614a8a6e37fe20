//! Fetching a blob from its owner's PDS (`com.atproto.sync.getBlob`) into a temporary file: size-capped,
//! behind the SSRF guard, hashed while streaming and checked against the blob CID. A blob whose bytes do
//! not hash to its CID is never handed on, so nothing unverified can be stored.

use std::path::Path;

use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use shrike::cbor::{Cid, Codec};
use tokio::io::AsyncWriteExt;
use url::Url;

use crate::config::MediaConfig;
use reprise_atproto_net::{GuardedHttp, NetError, NetPolicy};

/// Buffer between the socket and the temporary file.
const WRITE_BUFFER_BYTES: usize = 256 * 1024;

/// Errors of a blob fetch.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("invalid blob cid: {0}")]
    InvalidCid(String),
    #[error("blob cid is not a raw sha2-256 cidv1")]
    NotRawCid,
    #[error("invalid pds url: {0}")]
    InvalidPds(String),
    #[error(transparent)]
    Net(#[from] NetError),
    #[error("pds answered {status}")]
    Status { status: u16 },
    #[error("blob is larger than {cap} bytes")]
    TooLarge { cap: u64 },
    #[error("blob bytes hash to {actual}, not to its cid {expected}")]
    CidMismatch { expected: String, actual: String },
    #[error("io error: {0}")]
    Io(#[from] std::io::Error),
}

impl FetchError {
    /// Whether a later attempt may succeed (timeouts, connection failures, 5xx, 429).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Net(e) => e.is_retryable(),
            Self::Status { status } => *status >= 500 || *status == 429 || *status == 408,
            Self::Io(_) => true,
            _ => false,
        }
    }
}

/// A verified blob in a temporary file, deleted when this is dropped.
#[derive(Debug)]
pub struct FetchedBlob {
    pub cid: String,
    pub size: u64,
    /// The `Content-Type` the PDS sent, if any (untrusted; the transcoder probes the bytes).
    pub content_type: Option<String>,
    file: tempfile::TempPath,
}

impl FetchedBlob {
    pub fn path(&self) -> &Path {
        &self.file
    }
}

/// Parse a blob CID, accepting only CIDv1 raw (0x55) sha2-256.
pub fn parse_blob_cid(cid: &str) -> Result<Cid, FetchError> {
    let parsed: Cid = cid.parse().map_err(|_| FetchError::InvalidCid(cid.chars().take(80).collect()))?;
    if parsed.codec() != Codec::Raw {
        return Err(FetchError::NotRawCid);
    }
    Ok(parsed)
}

/// The blob CID of `bytes`.
pub fn blob_cid_of(bytes: &[u8]) -> String {
    Cid::compute(Codec::Raw, bytes).to_string()
}

/// Fetches blobs from PDSes.
#[derive(Debug, Clone)]
pub struct BlobFetcher {
    http: GuardedHttp,
    cap: u64,
}

impl BlobFetcher {
    pub fn new(config: &MediaConfig) -> Self {
        let policy =
            NetPolicy { allow_private_networks: config.allow_private_networks, allowed_addrs: vec![] };
        Self::with_policy(config, policy)
    }

    /// A fetcher with an explicit network policy (e.g. to allow one known address).
    pub fn with_policy(config: &MediaConfig, policy: NetPolicy) -> Self {
        let http = GuardedHttp::new(policy, config.connect_timeout(), config.read_timeout());
        Self { http, cap: config.blob_cap() }
    }

    /// The largest blob this fetcher accepts.
    pub fn cap(&self) -> u64 {
        self.cap
    }

    /// `GET <pds>/xrpc/com.atproto.sync.getBlob?did=..&cid=..` into a verified temporary file.
    pub async fn fetch(&self, pds: &str, did: &str, cid: &str) -> Result<FetchedBlob, FetchError> {
        let expected = parse_blob_cid(cid)?;
        let url = get_blob_url(pds, did, cid)?;
        let response = self.http.get(url).await?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(FetchError::Status { status });
        }
        if response.content_length().is_some_and(|len| len > self.cap) {
            return Err(FetchError::TooLarge { cap: self.cap });
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);

        let temp = tempfile::NamedTempFile::new()?.into_temp_path();
        let file = tokio::fs::OpenOptions::new().write(true).truncate(true).open(&temp).await?;
        let mut writer = tokio::io::BufWriter::with_capacity(WRITE_BUFFER_BYTES, file);
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(NetError::from_reqwest)?;
            size += chunk.len() as u64;
            if size > self.cap {
                return Err(FetchError::TooLarge { cap: self.cap });
            }
            hasher.update(&chunk);
            writer.write_all(&chunk).await?;
        }
        writer.flush().await?;
        let digest: [u8; 32] = hasher.finalize().into();
        if &digest != expected.hash() {
            let actual = cid_from_digest(digest);
            return Err(FetchError::CidMismatch { expected: cid.to_owned(), actual });
        }
        Ok(FetchedBlob { cid: cid.to_owned(), size, content_type, file: temp })
    }
}

fn cid_from_digest(digest: [u8; 32]) -> String {
    let mut bytes = vec![0x01, 0x55, 0x12, 0x20];
    bytes.extend_from_slice(&digest);
    Cid::from_bytes(&bytes).map(|c| c.to_string()).unwrap_or_default()
}

/// The getBlob URL on `pds` (an origin, possibly with a base path).
pub fn get_blob_url(pds: &str, did: &str, cid: &str) -> Result<Url, FetchError> {
    let mut base = Url::parse(pds).map_err(|e| FetchError::InvalidPds(e.to_string()))?;
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    let mut url =
        base.join("xrpc/com.atproto.sync.getBlob").map_err(|e| FetchError::InvalidPds(e.to_string()))?;
    url.query_pairs_mut().append_pair("did", did).append_pair("cid", cid);
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_cids_must_be_raw_sha256() {
        let cid = blob_cid_of(b"hello");
        assert!(cid.starts_with("bafkrei"), "{cid}");
        assert!(parse_blob_cid(&cid).is_ok());
        assert!(matches!(parse_blob_cid("not a cid"), Err(FetchError::InvalidCid(_))));
        let record_cid = Cid::compute(Codec::Drisl, b"x").to_string();
        assert!(matches!(parse_blob_cid(&record_cid), Err(FetchError::NotRawCid)));
    }

    #[test]
    fn get_blob_urls_keep_the_pds_base_path() {
        let url = get_blob_url("https://pds.example/base", "did:plc:abc", "bafkreiabc").expect("url");
        assert_eq!(
            url.as_str(),
            "https://pds.example/base/xrpc/com.atproto.sync.getBlob?did=did%3Aplc%3Aabc&cid=bafkreiabc"
        );
    }
}
