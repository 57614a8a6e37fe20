//! Finished XRPC responses, reused while the read models are unchanged.
//!
//! A hot page (the first page of getTracks, a popular track) is the same bytes for every client
//! until the projector commits again, so rebuilding it per request only burns the cores. An entry
//! is served only while the projector's checkpoint is the one it was built at (so a response never
//! lags the read models) and for at most `MAX_AGE` (answers that depend on the clock, such as
//! now-playing expiry, top-by-period windows and ingest lag, move on within that, well inside the
//! `Cache-Control: max-age` clients are already told).
//!
//! Concurrent misses for one request at one checkpoint wait for a single build (the first miss
//! leads, the others follow it): when a hot entry expires under load, 64 clients would otherwise
//! build the same page 64 times at once and queue behind each other for the pool.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::HeaderMap;
use tokio::sync::watch;

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
    /// Builds under way, by key: the checkpoint each was started at, its id, and where it reports.
    flights: HashMap<String, (i64, u64, watch::Receiver<Outcome>)>,
    next_flight: u64,
}

/// What a build ended with: the response when it is one to share, or `None` (an error, a 304, a body
/// too large) when each request must answer for itself.
type Outcome = Option<Option<Cached>>;

/// What a request does about its key.
#[derive(Debug)]
pub enum Lookup {
    /// A fresh response built at this checkpoint.
    Hit(Cached),
    /// Another request is building it at this checkpoint: wait for that.
    Follow(Follower),
    /// Build it, and report through this.
    Lead(Leader),
}

#[derive(Debug)]
pub struct Follower(watch::Receiver<Outcome>);

impl Follower {
    /// The leader's response; `None` when it had none to share or gave up (timed out, failed).
    pub async fn wait(mut self) -> Option<Cached> {
        self.0.wait_for(Option::is_some).await.ok()?.clone().flatten()
    }
}

/// The build of one key; dropping it unfinished releases its followers to build for themselves.
#[derive(Debug)]
pub struct Leader {
    cache: Arc<ResponseCache>,
    key: String,
    version: i64,
    id: u64,
    tx: watch::Sender<Outcome>,
}

impl Leader {
    /// Shares `cached` with the followers, and keeps it for later requests when there is one.
    pub fn finish(self, cached: Option<Cached>) {
        if let Some(c) = &cached {
            self.cache.put(self.key.clone(), self.version, c.clone());
        }
        self.tx.send_replace(Some(cached));
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        let mut inner = self.cache.lock();
        if inner.flights.get(&self.key).is_some_and(|(_, id, _)| *id == self.id) {
            inner.flights.remove(&self.key);
        }
    }
}

impl Inner {
    fn fresh(&self, key: &str, version: i64) -> Option<Cached> {
        if self.version != version {
            return None;
        }
        let (at, cached) = self.entries.get(key)?;
        (at.elapsed() < MAX_AGE).then(|| cached.clone())
    }
}

impl ResponseCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The response for `key` built at `version`, if it is still fresh.
    #[cfg(test)]
    fn get(&self, key: &str, version: i64) -> Option<Cached> {
        self.lock().fresh(key, version)
    }

    /// A fresh entry, the build under way at `version` to wait for, or the build to do.
    pub fn lookup(self: &Arc<Self>, key: &str, version: i64) -> Lookup {
        let mut inner = self.lock();
        if let Some(hit) = inner.fresh(key, version) {
            return Lookup::Hit(hit);
        }
        if let Some((v, _, rx)) = inner.flights.get(key)
            && *v == version
        {
            return Lookup::Follow(Follower(rx.clone()));
        }
        inner.next_flight += 1;
        let id = inner.next_flight;
        let (tx, rx) = watch::channel(None);
        inner.flights.insert(key.to_owned(), (version, id, rx));
        Lookup::Lead(Leader { cache: self.clone(), key: key.to_owned(), version, id, tx })
    }

    /// Keeps the response for `key`, built at `version`.
    pub fn put(&self, key: String, version: i64, cached: Cached) {
        if cached.body.len() > MAX_BODY {
            return;
        }
        let mut inner = self.lock();
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

    fn lead(c: &Arc<ResponseCache>, key: &str, version: i64) -> Leader {
        match c.lookup(key, version) {
            Lookup::Lead(l) => l,
            other => panic!("expected to lead, got {other:?}"),
        }
    }

    fn follow(c: &Arc<ResponseCache>, key: &str, version: i64) -> Follower {
        match c.lookup(key, version) {
            Lookup::Follow(f) => f,
            other => panic!("expected to follow, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn concurrent_misses_wait_for_one_build() {
        let c = Arc::new(ResponseCache::default());
        let leader = lead(&c, "a", 1);
        let (f1, f2) = (follow(&c, "a", 1), follow(&c, "a", 1));
        let other_key = lead(&c, "b", 1);
        leader.finish(Some(body(4)));
        assert_eq!(f1.wait().await.map(|c| c.body.len()), Some(4));
        assert_eq!(f2.wait().await.map(|c| c.body.len()), Some(4));
        assert!(matches!(c.lookup("a", 1), Lookup::Hit(_)), "the build is kept for later requests");
        drop(other_key);
    }

    #[tokio::test]
    async fn a_build_at_another_checkpoint_is_not_followed() {
        let c = Arc::new(ResponseCache::default());
        let old = lead(&c, "a", 1);
        let new = lead(&c, "a", 2);
        let f = follow(&c, "a", 2);
        drop(old); // must not forget the newer build
        let f2 = follow(&c, "a", 2);
        new.finish(Some(body(2)));
        assert_eq!(f.wait().await.map(|c| c.body.len()), Some(2));
        assert_eq!(f2.wait().await.map(|c| c.body.len()), Some(2));
    }

    #[tokio::test]
    async fn an_abandoned_or_unshareable_build_releases_its_followers() {
        let c = Arc::new(ResponseCache::default());
        let f = {
            let leader = lead(&c, "a", 1);
            let f = follow(&c, "a", 1);
            drop(leader); // timed out, or its task failed
            f
        };
        assert!(f.wait().await.is_none());
        let leader = lead(&c, "a", 1);
        let f = follow(&c, "a", 1);
        leader.finish(None); // an error: each request answers for itself
        assert!(f.wait().await.is_none());
        assert!(matches!(c.lookup("a", 1), Lookup::Lead(_)), "nothing was kept");
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
