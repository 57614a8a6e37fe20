//! Talking to PDSes and relays: `getRepo` (size-capped), `getLatestCommit`, `listReposByCollection`, and
//! DID resolution, all through reprise-atproto-net's SSRF guard, with per-host limits on concurrency and request
//! rate and retries with backoff for what may pass (timeouts, connection errors, 5xx, 429).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reprise_atproto_net::{GuardedHttp, IdentityResolver, NetError, PublicKey};
use serde::Deserialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use url::Url;

/// Limits on how reprise treats each host.
#[derive(Debug, Clone)]
pub struct HostLimits {
    /// Requests in flight per host.
    pub concurrency: usize,
    /// Requests started per second per host.
    pub requests_per_second: f64,
    /// Attempts after the first, for failures that may pass.
    pub retries: u32,
    /// First retry delay; doubles each attempt.
    pub backoff_initial: Duration,
}

/// Why a fetch failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// The body was larger than the cap: the repo is refused, not retried.
    TooLarge { cap: u64 },
    /// Nothing usable came back, after retries where they could help.
    Failed(String),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::TooLarge { cap } => write!(f, "repo CAR is larger than {cap} bytes"),
            FetchError::Failed(reason) => f.write_str(reason),
        }
    }
}

/// Where a DID's repo lives and the key its commits must be signed with.
#[derive(Debug, Clone)]
pub struct RepoHome {
    pub pds: String,
    /// The `#atproto` key its commits must be signed with.
    pub key: Option<PublicKey>,
    /// The handle the DID document claims (its first `at://` alias).
    pub handle: Option<String>,
}

/// One attempt's failure, and whether another attempt may succeed.
struct Attempt {
    reason: String,
    retryable: bool,
}

/// The client: one per run, shared by every repo task.
#[derive(Debug)]
pub struct PdsClient {
    http: GuardedHttp,
    identity: IdentityResolver,
    limits: HostLimits,
    hosts: Mutex<HashMap<String, Arc<HostGate>>>,
}

/// One host's concurrency permits and the earliest time its next request may start.
#[derive(Debug)]
struct HostGate {
    permits: Arc<Semaphore>,
    next_start: tokio::sync::Mutex<Instant>,
    interval: Duration,
}

impl HostGate {
    async fn enter(&self) -> OwnedSemaphorePermit {
        let permit = self.permits.clone().acquire_owned().await.expect("host semaphore is never closed");
        let start = {
            let mut next = self.next_start.lock().await;
            let start = (*next).max(Instant::now());
            *next = start + self.interval;
            start
        };
        tokio::time::sleep_until(start).await;
        permit
    }
}

#[derive(Deserialize)]
struct LatestCommit {
    rev: String,
}

#[derive(Deserialize)]
struct ReposPage {
    repos: Vec<RepoRef>,
    cursor: Option<String>,
}

#[derive(Deserialize)]
struct RepoRef {
    did: String,
}

impl PdsClient {
    pub fn new(http: GuardedHttp, identity: IdentityResolver, limits: HostLimits) -> Self {
        PdsClient { http, identity, limits, hosts: Mutex::new(HashMap::new()) }
    }

    /// The PDS and signing key `did`'s document names.
    pub async fn resolve(&self, did: &str) -> Result<RepoHome, String> {
        let resolved = self.identity.resolve(did).await.map_err(|e| format!("identity: {e}"))?;
        Ok(RepoHome { pds: resolved.pds, key: resolved.signing_key, handle: resolved.handle })
    }

    /// The repo's current rev, to skip a repo already done at it.
    pub async fn latest_rev(&self, pds: &str, did: &str) -> Result<String, FetchError> {
        let url = xrpc(pds, "com.atproto.sync.getLatestCommit", &[("did", did)])?;
        let body = self.get(&url, 64 * 1024).await?;
        let latest: LatestCommit =
            serde_json::from_slice(&body).map_err(|e| FetchError::Failed(format!("getLatestCommit: {e}")))?;
        Ok(latest.rev)
    }

    /// The repo's CAR, refused once it passes `cap` bytes.
    pub async fn get_repo(&self, pds: &str, did: &str, cap: u64) -> Result<Vec<u8>, FetchError> {
        let url = xrpc(pds, "com.atproto.sync.getRepo", &[("did", did)])?;
        self.get(&url, cap).await
    }

    /// Every DID the relay lists as holding records of `collection`, page by page.
    pub async fn list_repos_by_collection(
        &self,
        relay: &str,
        collection: &str,
    ) -> Result<Vec<String>, FetchError> {
        let mut dids = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut query = vec![("collection", collection), ("limit", "1000")];
            if let Some(c) = &cursor {
                query.push(("cursor", c));
            }
            let url = xrpc(relay, "com.atproto.sync.listReposByCollection", &query)?;
            let body = self.get(&url, 16 * 1024 * 1024).await?;
            let page: ReposPage = serde_json::from_slice(&body)
                .map_err(|e| FetchError::Failed(format!("listReposByCollection: {e}")))?;
            let empty = page.repos.is_empty();
            dids.extend(page.repos.into_iter().map(|r| r.did));
            match page.cursor {
                Some(next) if !empty && cursor.as_deref() != Some(next.as_str()) => cursor = Some(next),
                _ => return Ok(dids),
            }
        }
    }

    /// GET with the host's limits and retries.
    async fn get(&self, url: &Url, cap: u64) -> Result<Vec<u8>, FetchError> {
        let gate = self.gate(url);
        let mut delay = self.limits.backoff_initial;
        let mut attempt = 0;
        loop {
            let result = {
                let _permit = gate.enter().await;
                self.attempt(url, cap).await
            };
            match result {
                Ok(body) => return Ok(body),
                Err(Err(too_large)) => return Err(too_large),
                Err(Ok(a)) if a.retryable && attempt < self.limits.retries => {
                    tracing::debug!(%url, reason = %a.reason, attempt, "retrying");
                    attempt += 1;
                    let jitter = delay.mul_f64(fastrand::f64() * 0.2);
                    tokio::time::sleep(delay + jitter).await;
                    delay = delay.saturating_mul(2);
                }
                Err(Ok(a)) => {
                    let tries = attempt + 1;
                    return Err(FetchError::Failed(format!("{} ({tries} attempts)", a.reason)));
                }
            }
        }
    }

    /// One GET: the body, a failure that may or may not pass, or the cap exceeded.
    async fn attempt(&self, url: &Url, cap: u64) -> Result<Vec<u8>, Result<Attempt, FetchError>> {
        let net = |e: NetError| Ok(Attempt { retryable: e.is_retryable(), reason: e.to_string() });
        let mut response = self.http.get(url.clone()).await.map_err(net)?;
        let status = response.status().as_u16();
        if status != 200 {
            let retryable = status == 429 || status >= 500;
            return Err(Ok(Attempt { reason: format!("{} answered {status}", url.path()), retryable }));
        }
        if response.content_length().is_some_and(|l| l > cap) {
            return Err(Err(FetchError::TooLarge { cap }));
        }
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() as u64 + chunk.len() as u64 > cap {
                        return Err(Err(FetchError::TooLarge { cap }));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(body),
                Err(e) => {
                    let reason =
                        if e.is_timeout() { "timed out".to_owned() } else { format!("reading body: {e}") };
                    return Err(Ok(Attempt { reason, retryable: true }));
                }
            }
        }
    }

    fn gate(&self, url: &Url) -> Arc<HostGate> {
        let host = format!("{}:{}", url.host_str().unwrap_or(""), url.port_or_known_default().unwrap_or(0));
        let mut hosts = self.hosts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        hosts
            .entry(host)
            .or_insert_with(|| {
                let rps = self.limits.requests_per_second.max(0.001);
                Arc::new(HostGate {
                    permits: Arc::new(Semaphore::new(self.limits.concurrency.max(1))),
                    next_start: tokio::sync::Mutex::new(Instant::now()),
                    interval: Duration::from_secs_f64(1.0 / rps),
                })
            })
            .clone()
    }
}

fn xrpc(base: &str, method: &str, query: &[(&str, &str)]) -> Result<Url, FetchError> {
    let mut url = Url::parse(base).map_err(|e| FetchError::Failed(format!("invalid url {base:?}: {e}")))?;
    url.path_segments_mut()
        .map_err(|_| FetchError::Failed(format!("invalid url {base:?}")))?
        .pop_if_empty()
        .extend(["xrpc", method]);
    url.query_pairs_mut().extend_pairs(query);
    Ok(url)
}
