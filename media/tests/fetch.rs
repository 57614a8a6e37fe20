//! Fetching blobs from a PDS played by a local HTTP server: verification, caps, errors, timeouts and the
//! SSRF guard (proved by the refused listener's accepted-connection count staying at zero).

use reprise_testkit::http_server as http;

use http::{Reply, TestServer};
use reprise_atproto_net::{NetError, NetPolicy};
use reprise_media::MediaConfig;
use reprise_media::fetch::{BlobFetcher, FetchError, blob_cid_of};

const DID: &str = "did:plc:testartist";

fn config(allow_private_networks: bool) -> MediaConfig {
    MediaConfig {
        allow_private_networks,
        max_blob_bytes: 4 * 1024 * 1024,
        connect_timeout_ms: 1_000,
        read_timeout_ms: 1_000,
        ..MediaConfig::default()
    }
}

fn open_fetcher() -> BlobFetcher {
    BlobFetcher::new(&config(true))
}

fn audio(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect()
}

async fn pds_serving(body: Vec<u8>) -> TestServer {
    TestServer::start(move |path| {
        assert!(path.starts_with("/xrpc/com.atproto.sync.getBlob?did=did%3Aplc%3Atestartist&cid="), "{path}");
        Reply::ok(body.clone())
    })
    .await
}

#[tokio::test]
async fn a_good_blob_is_fetched_and_verified() {
    let body = audio(1_500_000);
    let cid = blob_cid_of(&body);
    let pds = pds_serving(body.clone()).await;
    let blob = open_fetcher().fetch(&pds.url(), DID, &cid).await.expect("fetch");
    assert_eq!(blob.size, 1_500_000);
    assert_eq!(blob.cid, cid);
    assert_eq!(std::fs::read(blob.path()).expect("read"), body);
}

#[tokio::test]
async fn bytes_that_do_not_hash_to_the_cid_are_refused_and_not_kept() {
    let cid = blob_cid_of(b"what the record promised");
    let pds = pds_serving(b"something else".to_vec()).await;
    let err = open_fetcher().fetch(&pds.url(), DID, &cid).await.expect_err("mismatch");
    match err {
        FetchError::CidMismatch { expected, actual } => {
            assert_eq!(expected, cid);
            assert_eq!(actual, blob_cid_of(b"something else"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_blob_over_the_cap_stops_mid_stream() {
    let chunk = audio(64 * 1024);
    let pds = TestServer::start(move |_| Reply::Chunked { chunk: chunk.clone(), count: 100 }).await;
    let err = open_fetcher().fetch(&pds.url(), DID, &blob_cid_of(b"x")).await.expect_err("too large");
    assert!(matches!(err, FetchError::TooLarge { cap: 4_194_304 }), "{err:?}");
}

#[tokio::test]
async fn a_declared_length_over_the_cap_is_refused_before_reading() {
    let pds = TestServer::start(|_| Reply::StallAfter { declared: 5 * 1024 * 1024, prefix: vec![] }).await;
    let err = open_fetcher().fetch(&pds.url(), DID, &blob_cid_of(b"x")).await.expect_err("too large");
    assert!(matches!(err, FetchError::TooLarge { .. }), "{err:?}");
}

#[tokio::test]
async fn pds_errors_are_reported_and_classified() {
    for (status, retryable) in [(400, false), (404, false), (429, true), (500, true), (503, true)] {
        let pds = TestServer::start(move |_| Reply::status(status)).await;
        let err = open_fetcher().fetch(&pds.url(), DID, &blob_cid_of(b"x")).await.expect_err("status");
        assert!(matches!(err, FetchError::Status { status: s } if s == status), "{err:?}");
        assert_eq!(err.is_retryable(), retryable, "{status}");
    }
}

#[tokio::test]
async fn a_stalled_pds_times_out() {
    let silent = TestServer::start(|_| Reply::Stall).await;
    let err = open_fetcher().fetch(&silent.url(), DID, &blob_cid_of(b"x")).await.expect_err("timeout");
    assert!(matches!(err, FetchError::Net(NetError::Timeout)), "{err:?}");
    assert!(err.is_retryable());

    let trickle = TestServer::start(|_| Reply::StallAfter { declared: 1000, prefix: vec![1; 10] }).await;
    let err = open_fetcher().fetch(&trickle.url(), DID, &blob_cid_of(b"x")).await.expect_err("timeout");
    assert!(matches!(err, FetchError::Net(NetError::Timeout)), "{err:?}");
}

#[tokio::test]
async fn invalid_cids_are_refused_before_any_request() {
    let pds = pds_serving(vec![]).await;
    for cid in ["nonsense", "bafyreib2rxk3rh6kzwq", ""] {
        assert!(open_fetcher().fetch(&pds.url(), DID, cid).await.is_err(), "{cid}");
    }
    assert_eq!(pds.accepted(), 0);
}

fn assert_refused(err: FetchError) {
    assert!(matches!(err, FetchError::Net(NetError::Refused { .. })), "{err:?}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn private_targets_are_refused_without_connecting() {
    let body = b"secret".to_vec();
    let cid = blob_cid_of(&body);
    let target = pds_serving(body).await;
    let guarded = BlobFetcher::new(&config(false));
    let port = target.addr().port();
    for pds in [target.url(), format!("http://localhost:{port}"), format!("http://[::ffff:127.0.0.1]:{port}")]
    {
        assert_refused(guarded.fetch(&pds, DID, &cid).await.expect_err("refused"));
    }
    for pds in ["http://169.254.169.254", "http://10.0.0.1:80", "http://[fd00::1]", "file:///etc/passwd"] {
        assert!(guarded.fetch(pds, DID, &cid).await.is_err(), "{pds}");
    }
    assert_eq!(target.accepted(), 0, "no connection may reach a refused target");
}

#[tokio::test]
async fn redirects_to_private_targets_are_refused_without_connecting() {
    let body = b"secret".to_vec();
    let cid = blob_cid_of(&body);
    let target = pds_serving(body).await;
    for location in
        [format!("{}/xrpc/x", target.url()), format!("http://localhost:{}/x", target.addr().port())]
    {
        let redirector = TestServer::start(move |_| Reply::Redirect(location.clone())).await;
        let policy = NetPolicy { allow_private_networks: false, allowed_addrs: vec![redirector.addr()] };
        let fetcher = BlobFetcher::with_policy(&config(false), policy);
        assert_refused(fetcher.fetch(&redirector.url(), DID, &cid).await.expect_err("refused"));
        assert_eq!(redirector.accepted(), 1);
    }
    assert_eq!(target.accepted(), 0, "no connection may reach a refused redirect target");
}

#[tokio::test]
async fn allowed_redirects_are_followed_and_loops_stop() {
    let body = audio(10_000);
    let cid = blob_cid_of(&body);
    let target = pds_serving(body).await;
    let location =
        format!("{}/xrpc/com.atproto.sync.getBlob?did=did%3Aplc%3Atestartist&cid={cid}", target.url());
    let redirector = TestServer::start(move |_| Reply::Redirect(location.clone())).await;
    let blob = open_fetcher().fetch(&redirector.url(), DID, &cid).await.expect("followed");
    assert_eq!(blob.size, 10_000);

    let looping = TestServer::start(|path| Reply::Redirect(path.to_owned())).await;
    let err = open_fetcher().fetch(&looping.url(), DID, &cid).await.expect_err("loop");
    assert!(matches!(err, FetchError::Net(NetError::TooManyRedirects)), "{err:?}");
}
