//! Finished XRPC responses, reused while the read models are unchanged.
//!
//! A hot page (the first page of getTracks, a popular track) is the same bytes for every client
//! until the projector commits again, so rebuilding it per request only burns the cores. An entry
//! is served only while the projector's checkpoint is the one it was built at (so a response never
//! lags the read models) and for at most `MAX_AGE` (answers that depend on the clock, such as
//! now-playing expiry, top-by-period windows and ingest lag, move on within that, well inside the
//! `Cache-Control: max-age` clients are already told).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::HeaderMap;

const MAX_AGE: Duration = Duration::from_secs(1);
/// Bodies larger than this are not kept: they are rare, and would crowd out the hot pages.
const MAX_BODY: usize = 256 << 10;
/// Total bytes of bodies kept; past it the cache starts over.
const BUDGET: usize = 32 << 20;

#[derive(Debug, Clone)]
pub struct Cached {
    pub headers: HeaderMap,
    pub body: Bytes,
}

#[derive(Debug, Default)]
pub struct ResponseCache {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// The checkpoint every entry was built at.
    version: i64,
    bytes: usize,
    entries: HashMap<String, (Instant, Cached)>,
}

impl ResponseCache {
    /// The response for `key` built at `version`, if it is still fresh.
    pub fn get(&self, key: &str, version: i64) -> Option<Cached> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.version != version {
            return None;
        }
        let (at, cached) = inner.entries.get(key)?;
        (at.elapsed() < MAX_AGE).then(|| cached.clone())
    }

    /// Keeps the response for `key`, built at `version`.
    pub fn put(&self, key: String, version: i64, cached: Cached) {
        if cached.body.len() > MAX_BODY {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.version != version {
            if version < inner.version {
                return; // built from older read models than what is cached now
            }
            inner.entries.clear();
            inner.bytes = 0;
            inner.version = version;
        }
        if inner.bytes + cached.body.len() > BUDGET {
            inner.entries.retain(|_, (at, _)| at.elapsed() < MAX_AGE);
            inner.bytes = inner.entries.values().map(|(_, c)| c.body.len()).sum();
            if inner.bytes + cached.body.len() > BUDGET {
                inner.entries.clear();
                inner.bytes = 0;
            }
        }
        inner.bytes += cached.body.len();
        if let Some((_, old)) = inner.entries.insert(key, (Instant::now(), cached)) {
            inner.bytes -= old.body.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(n: usize) -> Cached {
        Cached { headers: HeaderMap::new(), body: Bytes::from(vec![b'x'; n]) }
    }

    #[test]
    fn entries_live_only_as_long_as_their_version() {
        let c = ResponseCache::default();
        c.put("a".into(), 5, body(3));
        assert_eq!(c.get("a", 5).map(|c| c.body.len()), Some(3));
        assert!(c.get("a", 6).is_none(), "a newer checkpoint misses");
        c.put("b".into(), 6, body(1));
        assert!(c.get("a", 5).is_none(), "a new version drops the old entries");
        c.put("c".into(), 4, body(1));
        assert!(c.get("c", 4).is_none(), "a response built before the current version is not kept");
        c.put("big".into(), 6, body(MAX_BODY + 1));
        assert!(c.get("big", 6).is_none());
    }

    #[test]
    fn the_budget_bounds_memory() {
        let c = ResponseCache::default();
        for i in 0..(BUDGET / MAX_BODY) * 3 {
            c.put(format!("k{i}"), 1, body(MAX_BODY));
        }
        let inner = c.inner.lock().unwrap();
        assert!(inner.bytes <= BUDGET);
        assert_eq!(inner.bytes, inner.entries.values().map(|(_, c)| c.body.len()).sum::<usize>());
    }
}
