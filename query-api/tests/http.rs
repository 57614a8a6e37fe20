//! HTTP behaviour over a real socket: ETag and 304, Cache-Control, CORS, rate limiting with
//! Retry-After, the index page, concurrent identical requests, and graceful shutdown.

mod support;

use std::time::Duration;

use reprise_projector::VIEWS_FILE;
use reprise_query_api::{ApiOptions, AppState, serve};
use reprise_testkit::FrameBuilder;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn raw_get(addr: std::net::SocketAddr, path: &str, extra: &str) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{extra}\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

fn header<'a>(resp: &'a str, name: &str) -> Option<&'a str> {
    resp.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[tokio::test]
async fn caching_cors_rate_limit_and_shutdown() {
    let mut f = support::Fixture::new();
    let mut b = FrameBuilder::new("did:plc:artistaaaaaaaaaaaaaaaaaa");
    f.add(&[b.track("create", "3kaaaaaaaaaa2", "3kaaaaaaaaab2", "x", "2026-01-01T00:00:00Z")]);
    let options = ApiOptions {
        rate_limit_per_minute: 1,
        rate_limit_burst: 3,
        request_timeout: Duration::from_secs(5),
        cache_max_age_seconds: 7,
    };
    let state =
        AppState::with_options(f.path().join(VIEWS_FILE), f.path().join("events.db"), options, None).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, state, async move {
        let _ = stopped.await;
    }));

    let first = raw_get(addr, "/xrpc/fm.reprise.getTracks", "Origin: https://app.example\r\n").await;
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    assert_eq!(header(&first, "access-control-allow-origin"), Some("*"));
    assert_eq!(header(&first, "cache-control"), Some("public, max-age=7"));
    let etag = header(&first, "etag").unwrap().to_owned();
    let again = raw_get(addr, "/xrpc/fm.reprise.getTracks", &format!("If-None-Match: {etag}\r\n")).await;
    assert!(again.starts_with("HTTP/1.1 304"), "{again}");
    assert!(raw_get(addr, "/health", "").await.starts_with("HTTP/1.1 200"));
    // The burst of 3 is spent; a 4th request within the minute is refused with a wait.
    let limited = raw_get(addr, "/health", "").await;
    assert!(limited.starts_with("HTTP/1.1 429"), "{limited}");
    assert!(header(&limited, "retry-after").unwrap().parse::<u64>().unwrap() >= 1);
    assert!(limited.contains("RateLimitExceeded"));

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    assert!(TcpStream::connect(addr).await.is_err(), "stopped listening");
}

#[tokio::test]
async fn the_index_page_lists_every_endpoint_and_errors_are_not_cached() {
    let mut f = support::Fixture::new();
    f.add(&[]);
    let state = f.state();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, state, std::future::pending()));
    let page = raw_get(addr, "/", "").await;
    for e in reprise_query_api::spec::ENDPOINTS {
        assert!(page.contains(e.nsid), "{}", e.nsid);
    }
    let err = raw_get(addr, "/xrpc/fm.reprise.getTrack", "").await;
    assert!(err.starts_with("HTTP/1.1 400"));
    assert_eq!(header(&err, "cache-control"), Some("no-store"));
    let metrics = raw_get(addr, "/metrics", "").await;
    assert!(metrics.contains("reprise_api_requests_total{class=\"4xx\"} 1"), "{metrics}");
}

/// Many clients asking for one page at once, over real connections: the first builds it and the
/// rest wait for that build (or find it cached), and every one of them gets the same complete
/// answer; clients holding that answer's ETag get a 304 from the shared build too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_identical_requests_share_one_build() {
    let mut f = support::Fixture::new();
    let mut b = FrameBuilder::new("did:plc:artistaaaaaaaaaaaaaaaaaa");
    let frames: Vec<String> = (0..30)
        .map(|i| {
            let rkey = reprise_testkit::tid(1_000 * (i + 1), 0);
            b.track("create", &rkey, &rkey, &format!("song {i}"), "2026-01-01T00:00:00Z")
        })
        .collect();
    f.add(&frames);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, f.state(), async move {
        let _ = stopped.await;
    }));

    let path = "/xrpc/fm.reprise.getTracks?limit=100";
    let answers: Vec<String> = futures_join(32, move || raw_get(addr, path, "")).await;
    let body = |r: &str| r.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap();
    for a in &answers {
        assert!(a.starts_with("HTTP/1.1 200"), "{a}");
        assert_eq!(body(a), body(&answers[0]));
        assert_eq!(header(a, "etag"), header(&answers[0], "etag"));
    }
    let tracks: serde_json::Value = serde_json::from_str(&body(&answers[0])).unwrap();
    assert_eq!(tracks["tracks"].as_array().unwrap().len(), 30);
    let etag = header(&answers[0], "etag").unwrap().to_owned();
    let conditional = format!("If-None-Match: {etag}\r\n");
    let again: Vec<String> = futures_join(8, move || {
        let c = conditional.clone();
        async move { raw_get(addr, path, &c).await }
    })
    .await;
    assert!(again.iter().all(|a| a.starts_with("HTTP/1.1 304")), "{again:?}");

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

/// Runs `n` copies of `f` at once, on the runtime's threads, and collects their results.
async fn futures_join<F, Fut>(n: usize, f: F) -> Vec<String>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = String> + Send + 'static,
{
    let tasks: Vec<_> = (0..n).map(|_| tokio::spawn(f())).collect();
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}
