//! Identity: resolve a DID (`did:plc` through a configurable PLC directory, `did:web` through
//! `/.well-known/did.json`) to its DID document, with a TTL cache that identity events can invalidate, and
//! from the document to what reading a repo needs (PDS endpoint, claimed handle, signing key). DID
//! documents are attacker-controlled: fetched behind the SSRF guard, size-capped, parsed leniently entry by
//! entry ([`crate::did`]), and a service endpoint on a refused address is rejected.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde::Deserialize;
use url::Url;

use crate::did::{DidDocument, PDS_SERVICE, REPO_KEY, Service};
pub use crate::error::IdentityError;
use crate::key::PublicKey;
use crate::net::{GuardedHttp, NetError};

/// `[identity]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct IdentityConfig {
    /// PLC directory base URL.
    pub plc_url: String,
    /// How long a resolved DID stays cached, in seconds.
    pub cache_ttl_secs: u64,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self { plc_url: "https://plc.directory".into(), cache_ttl_secs: 600 }
    }
}

/// Largest DID document read.
pub const MAX_DID_DOCUMENT_BYTES: usize = 64 * 1024;

/// What a DID resolves to for reading its repo: the PDS, the claimed handle and the repo signing key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedIdentity {
    pub did: String,
    /// The `#atproto_pds` service endpoint, checked against the network policy.
    pub pds: String,
    /// The first `at://` entry of `alsoKnownAs`, as claimed (not verified against the handle's own records).
    pub handle: Option<String>,
    /// The `#atproto` verification method's key.
    pub signing_key: Option<PublicKey>,
}

/// Resolves DIDs, caching results for a TTL.
#[derive(Debug)]
pub struct IdentityResolver {
    http: GuardedHttp,
    plc_url: Url,
    ttl: Duration,
    did_web_scheme: &'static str,
    cache: Mutex<HashMap<String, (Instant, Arc<DidDocument>)>>,
}

impl IdentityResolver {
    /// A resolver using `config.plc_url` and the SSRF guard `http` for every request.
    pub fn new(config: &IdentityConfig, http: GuardedHttp) -> Result<Self, IdentityError> {
        let plc_url = Url::parse(&config.plc_url).map_err(|e| IdentityError::InvalidPlcUrl(e.to_string()))?;
        if !matches!(plc_url.scheme(), "http" | "https") {
            return Err(IdentityError::InvalidPlcUrl(config.plc_url.clone()));
        }
        Ok(Self {
            http,
            plc_url,
            ttl: Duration::from_secs(config.cache_ttl_secs),
            did_web_scheme: "https",
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// Fetch `did:web` documents over plain http (local testing only).
    pub fn did_web_over_http(mut self) -> Self {
        self.did_web_scheme = "http";
        self
    }

    /// `did`'s PDS, claimed handle and repo signing key, from its document.
    pub async fn resolve(&self, did: &str) -> Result<ResolvedIdentity, IdentityError> {
        let doc = self.document(did).await?;
        let pds = doc.service(PDS_SERVICE).ok_or(IdentityError::NoPds)?;
        Ok(ResolvedIdentity {
            did: did.to_owned(),
            pds: self.endpoint(pds)?,
            handle: doc.handle(),
            signing_key: doc.key(REPO_KEY),
        })
    }

    /// `did`'s document, from the cache while its entry is younger than the TTL.
    pub async fn document(&self, did: &str) -> Result<Arc<DidDocument>, IdentityError> {
        if let Some((at, hit)) = self.lock().get(did)
            && at.elapsed() < self.ttl
        {
            return Ok(hit.clone());
        }
        let doc = Arc::new(self.fetch_document(did).await?);
        self.lock().insert(did.to_owned(), (Instant::now(), doc.clone()));
        Ok(doc)
    }

    /// Forget what is cached for `did` (on an identity event).
    pub fn invalidate(&self, did: &str) {
        self.lock().remove(did);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Arc<DidDocument>)>> {
        self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Where `did`'s document lives.
    pub fn document_url(&self, did: &str) -> Result<Url, IdentityError> {
        let invalid = || IdentityError::InvalidDid(did.chars().take(100).collect());
        if let Some(id) = did.strip_prefix("did:plc:") {
            if id.len() != 24 || !id.bytes().all(|b| matches!(b, b'a'..=b'z' | b'2'..=b'7')) {
                return Err(invalid());
            }
            let mut url = self.plc_url.clone();
            url.path_segments_mut().map_err(|_| invalid())?.pop_if_empty().push(did);
            return Ok(url);
        }
        if let Some(host) = did.strip_prefix("did:web:") {
            let host = host.replace("%3A", ":").replace("%3a", ":");
            let valid = !host.is_empty()
                && host.len() <= 253
                && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'));
            if !valid || host.matches(':').count() > 1 {
                return Err(invalid());
            }
            return Url::parse(&format!("{}://{host}/.well-known/did.json", self.did_web_scheme))
                .map_err(|_| invalid());
        }
        Err(invalid())
    }

    async fn fetch_document(&self, did: &str) -> Result<DidDocument, IdentityError> {
        let url = self.document_url(did)?;
        let response = self.http.get(url).await?;
        match response.status().as_u16() {
            200..=299 => {}
            404 => return Err(IdentityError::NotFound),
            410 => return Err(IdentityError::Deactivated),
            status => return Err(IdentityError::Status { status }),
        }
        if response.content_length().is_some_and(|l| l > MAX_DID_DOCUMENT_BYTES as u64) {
            return Err(IdentityError::TooLarge { cap: MAX_DID_DOCUMENT_BYTES });
        }
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(NetError::from_reqwest)?;
            if body.len() + chunk.len() > MAX_DID_DOCUMENT_BYTES {
                return Err(IdentityError::TooLarge { cap: MAX_DID_DOCUMENT_BYTES });
            }
            body.extend_from_slice(&chunk);
        }
        DidDocument::parse(did, &body)
    }

    /// A service's endpoint, without a trailing slash, if it is an http(s) URL without credentials, query
    /// or fragment whose address (when literal) the network policy allows.
    pub fn endpoint(&self, service: &Service) -> Result<String, IdentityError> {
        let endpoint = service.service_endpoint.as_str();
        let invalid = || IdentityError::InvalidEndpoint(endpoint.chars().take(200).collect());
        let url = Url::parse(endpoint).map_err(|_| invalid())?;
        if url.host().is_none()
            || url.query().is_some()
            || url.fragment().is_some()
            || !url.username().is_empty()
        {
            return Err(invalid());
        }
        self.http.check_url(&url)?;
        Ok(endpoint.trim_end_matches('/').to_owned())
    }
}
