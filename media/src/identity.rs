//! Identity: resolve a DID (`did:plc` through a configurable PLC directory, `did:web` through
//! `/.well-known/did.json`) to its PDS endpoint, claimed handle and signing key, with a TTL cache that
//! identity events can invalidate. DID documents are attacker-controlled: fetched behind the SSRF guard,
//! size-capped, parsed leniently entry by entry, and a PDS endpoint on a refused address is rejected.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde::Deserialize;
use serde::de::IgnoredAny;
use url::Url;

use crate::config::IdentityConfig;
use crate::net::{GuardedHttp, NetError};

/// Largest DID document read.
pub const MAX_DID_DOCUMENT_BYTES: usize = 64 * 1024;

/// Errors of identity resolution.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("invalid did: {0}")]
    InvalidDid(String),
    #[error("invalid plc directory url: {0}")]
    InvalidPlcUrl(String),
    #[error(transparent)]
    Net(#[from] NetError),
    #[error("did not found")]
    NotFound,
    #[error("did is deactivated")]
    Deactivated,
    #[error("directory answered {status}")]
    Status { status: u16 },
    #[error("did document is larger than {cap} bytes")]
    TooLarge { cap: usize },
    #[error("invalid did document: {0}")]
    InvalidDocument(String),
    #[error("did document is for {0}")]
    DidMismatch(String),
    #[error("did document names no atproto pds")]
    NoPds,
    #[error("invalid pds endpoint: {0}")]
    InvalidEndpoint(String),
}

/// How a signing key was published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyForm {
    /// `Multikey`: multibase of multicodec-prefixed key bytes.
    Multikey,
    /// The older `EcdsaSecp256k1VerificationKey2019`: multibase of the bare compressed key.
    LegacySecp256k1,
}

/// The `#atproto` verification method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKey {
    pub form: KeyForm,
    pub public_key_multibase: String,
}

/// What a DID resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedIdentity {
    pub did: String,
    /// The `#atproto_pds` service endpoint.
    pub pds: String,
    /// The first `at://` entry of `alsoKnownAs`, as claimed (not verified against the handle's own records).
    pub handle: Option<String>,
    pub signing_key: Option<SigningKey>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DidDocument {
    id: String,
    #[serde(default)]
    also_known_as: Vec<Lenient<String>>,
    #[serde(default)]
    verification_method: Vec<Lenient<VerificationMethod>>,
    #[serde(default)]
    service: Vec<Lenient<Service>>,
}

/// An array entry that is skipped, not fatal, when it has the wrong shape.
#[derive(Deserialize)]
#[serde(untagged)]
enum Lenient<T> {
    Valid(T),
    Invalid(IgnoredAny),
}

impl<T> Lenient<T> {
    fn valid(&self) -> Option<&T> {
        match self {
            Self::Valid(v) => Some(v),
            Self::Invalid(_) => None,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VerificationMethod {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    public_key_multibase: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Service {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    service_endpoint: String,
}

/// Resolves DIDs, caching results for a TTL.
#[derive(Debug)]
pub struct IdentityResolver {
    http: GuardedHttp,
    plc_url: Url,
    ttl: Duration,
    did_web_scheme: &'static str,
    cache: Mutex<HashMap<String, (Instant, Arc<ResolvedIdentity>)>>,
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

    /// Resolve `did`, from the cache while its entry is younger than the TTL.
    pub async fn resolve(&self, did: &str) -> Result<Arc<ResolvedIdentity>, IdentityError> {
        if let Some((at, hit)) = self.lock().get(did)
            && at.elapsed() < self.ttl
        {
            return Ok(hit.clone());
        }
        let resolved = Arc::new(self.resolve_uncached(did).await?);
        self.lock().insert(did.to_owned(), (Instant::now(), resolved.clone()));
        Ok(resolved)
    }

    /// Forget what is cached for `did` (on an identity event).
    pub fn invalidate(&self, did: &str) {
        self.lock().remove(did);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Arc<ResolvedIdentity>)>> {
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

    async fn resolve_uncached(&self, did: &str) -> Result<ResolvedIdentity, IdentityError> {
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
            let chunk = chunk.map_err(|e| NetError::Http(e.to_string()))?;
            if body.len() + chunk.len() > MAX_DID_DOCUMENT_BYTES {
                return Err(IdentityError::TooLarge { cap: MAX_DID_DOCUMENT_BYTES });
            }
            body.extend_from_slice(&chunk);
        }
        self.interpret(did, &body)
    }

    fn interpret(&self, did: &str, body: &[u8]) -> Result<ResolvedIdentity, IdentityError> {
        let doc: DidDocument =
            serde_json::from_slice(body).map_err(|e| IdentityError::InvalidDocument(e.to_string()))?;
        if doc.id != did {
            return Err(IdentityError::DidMismatch(doc.id.chars().take(100).collect()));
        }
        let service = doc
            .service
            .iter()
            .filter_map(Lenient::valid)
            .find(|s| s.id.ends_with("#atproto_pds") && s.kind == "AtprotoPersonalDataServer")
            .ok_or(IdentityError::NoPds)?;
        let pds = self.check_endpoint(&service.service_endpoint)?;
        let handle = doc
            .also_known_as
            .iter()
            .filter_map(Lenient::valid)
            .find_map(|aka| aka.strip_prefix("at://"))
            .filter(|h| !h.is_empty() && h.len() <= 253 && !h.contains('/'))
            .map(str::to_ascii_lowercase);
        let signing_key = doc.verification_method.iter().filter_map(Lenient::valid).find_map(|m| {
            let form = match m.kind.as_str() {
                "Multikey" => KeyForm::Multikey,
                "EcdsaSecp256k1VerificationKey2019" => KeyForm::LegacySecp256k1,
                _ => return None,
            };
            let key = m.public_key_multibase.as_ref().filter(|k| k.starts_with('z'))?;
            m.id.ends_with("#atproto").then(|| SigningKey { form, public_key_multibase: key.clone() })
        });
        Ok(ResolvedIdentity { did: did.to_owned(), pds, handle, signing_key })
    }

    /// A PDS endpoint must be an http(s) origin whose address (when literal) the policy allows.
    fn check_endpoint(&self, endpoint: &str) -> Result<String, IdentityError> {
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
