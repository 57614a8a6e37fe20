//! What wraps every request: a per-IP rate limit, a timeout, CORS, ETag and Cache-Control on
//! successful reads, and the counters `/metrics` reports.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::cache::{Cached, Lookup};
use crate::{ApiError, AppState};

/// Largest response body the ETag layer buffers; bigger ones pass through without an ETag.
const ETAG_MAX_BODY: usize = 8 << 20;

/// Token buckets per client IP.
#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(per_minute: u32, burst: u32) -> Self {
        RateLimiter {
            per_second: f64::from(per_minute) / 60.0,
            burst: f64::from(burst.max(1)),
            buckets: Mutex::default(),
        }
    }

    /// `Ok` or the seconds to wait.
    fn check(&self, ip: IpAddr) -> Result<(), u64> {
        if self.per_second <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > 100_000 {
            // Forget idle clients rather than grow without bound.
            buckets.retain(|_, (_, t)| now.duration_since(*t).as_secs() < 60);
        }
        let (tokens, last) = buckets.entry(ip).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * self.per_second).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.per_second).ceil().max(1.0) as u64)
        }
    }
}

/// Request counts by status class, for `/metrics`.
#[derive(Debug, Default)]
pub struct Counters {
    by_class: [AtomicU64; 6],
}

pub async fn around(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let ip = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let mut resp = if req.method() == Method::OPTIONS {
        StatusCode::NO_CONTENT.into_response()
    } else if let Some(Err(wait)) = ip.map(|ip| state.limiter.check(ip)) {
        let mut r = ApiError::rate_limited().into_response();
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait));
        r
    } else {
        match tokio::time::timeout(state.options.request_timeout, answer(&state, req, next)).await {
            Ok(resp) => resp,
            Err(_) => ApiError::timeout().into_response(),
        }
    };
    let h = resp.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, HEAD, OPTIONS"));
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("*"));
    let class = (resp.status().as_u16() / 100) as usize;
    state.counters.by_class[class.min(5)].fetch_add(1, Ordering::Relaxed);
    resp
}

/// The handler's response with ETag and Cache-Control, from the response cache when the read
/// models have not changed since it was built (or from a build of the same request under way).
async fn answer(state: &AppState, req: Request, next: Next) -> Response {
    let if_none_match = req.headers().get(header::IF_NONE_MATCH).cloned();
    let key = (req.method() == Method::GET && req.uri().path().starts_with("/xrpc/"))
        .then(|| req.uri().path_and_query().map(|p| p.as_str().to_owned()))
        .flatten();
    // Read before the handler runs, so an entry is never older than the version it is filed under.
    let version = match key {
        Some(_) => state.pool.checkpoint().await.ok(),
        None => None,
    };
    let leader = match (&key, version) {
        (Some(k), Some(v)) => match state.cache.lookup(k, v) {
            Lookup::Hit(hit) => return conditional(hit, if_none_match),
            Lookup::Follow(f) => match f.wait().await {
                Some(shared) => return conditional(shared, if_none_match),
                None => None,
            },
            Lookup::Lead(l) => Some(l),
        },
        _ => None,
    };
    let resp = next.run(req).await;
    if !resp.status().is_success() {
        let (mut parts, body) = resp.into_parts();
        parts.headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return Response::from_parts(parts, body);
    }
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = to_bytes(body, ETAG_MAX_BODY).await else {
        return ApiError::internal("response too large to tag").into_response();
    };
    let mut hasher = std::hash::DefaultHasher::new();
    bytes.hash(&mut hasher);
    if let Ok(v) = HeaderValue::from_str(&format!("\"{:016x}\"", hasher.finish())) {
        parts.headers.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={}", state.options.cache_max_age_seconds))
    {
        parts.headers.insert(header::CACHE_CONTROL, v);
    }
    let done = Cached { headers: parts.headers, body: bytes };
    if let Some(l) = leader {
        l.finish((parts.status == StatusCode::OK).then(|| done.clone()));
    }
    let mut resp = conditional(done, if_none_match);
    if resp.status() != StatusCode::NOT_MODIFIED {
        *resp.status_mut() = parts.status;
    }
    resp
}

/// A tagged 2xx response, or 304 when the client already holds it.
fn conditional(done: Cached, if_none_match: Option<HeaderValue>) -> Response {
    let etag = done.headers.get(header::ETAG).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let matches = if_none_match
        .and_then(|v| {
            v.to_str()
                .ok()
                .map(|s| s.split(',').any(|t| t.trim().trim_start_matches("W/") == etag || t.trim() == "*"))
        })
        .unwrap_or(false);
    let mut resp = Response::new(if matches { Body::empty() } else { Body::from(done.body) });
    *resp.headers_mut() = done.headers;
    if matches {
        *resp.status_mut() = StatusCode::NOT_MODIFIED;
        resp.headers_mut().remove(header::CONTENT_LENGTH);
    }
    resp
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    let mut out = String::from(
        "# HELP reprise_api_requests_total API responses by status class.\n# TYPE reprise_api_requests_total counter\n",
    );
    for (i, c) in state.counters.by_class.iter().enumerate().skip(1) {
        out.push_str(&format!(
            "reprise_api_requests_total{{class=\"{i}xx\"}} {}\n",
            c.load(Ordering::Relaxed)
        ));
    }
    if let Some(extra) = &state.metrics {
        out.push_str(&extra());
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}
