//! End to end: a local server plays the PLC directory and the artist's PDS; jobs fetch generated audio,
//! verify it, transcode it, store it (local files and S3), and the audio routes serve it with Range.

use reprise_testkit::audio;
use reprise_testkit::http_server as http;
#[path = "../../store/tests/support/s3s.rs"]
mod s3s;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http::{Reply, TestServer};
use reprise_atproto_net::{GuardedHttp, IdentityConfig, IdentityResolver, NetPolicy};
use reprise_media::fetch::BlobFetcher;
use reprise_media::fetch::blob_cid_of;
use reprise_media::jobs::{JobEvents, JobRunner, JobState, MediaJob, RunnerConfig};
use reprise_media::pipeline::MediaPipeline;
use reprise_media::serve::audio_router;
use reprise_media::transcode::{Limits, Transcoder};
use reprise_media::{MediaConfig, TranscoderKind, keys};
use reprise_store::{LocalStore, ObjectStore, S3Store};
use tower::ServiceExt;

const DID: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";

#[derive(Default)]
struct Recorder(Mutex<Vec<JobState>>);

impl JobEvents for Recorder {
    fn record(&self, _cid: &str, state: JobState) {
        self.0.lock().expect("lock").push(state);
    }
}

impl Recorder {
    fn names(&self) -> Vec<&'static str> {
        self.0.lock().expect("lock").iter().map(JobState::name).collect()
    }
}

/// Answers to getBlob, in order; the last one repeats.
struct Network {
    server: TestServer,
    blob_requests: Arc<AtomicUsize>,
}

async fn network(blob_replies: Vec<Reply>) -> Network {
    let blob_requests = Arc::new(AtomicUsize::new(0));
    let counter = blob_requests.clone();
    let own_url = Arc::new(std::sync::OnceLock::<String>::new());
    let url = own_url.clone();
    let server = TestServer::start(move |path| {
        if path == format!("/{DID}") {
            let pds = url.get().expect("url set");
            return Reply::json(format!(
                r##"{{"id":"{DID}","alsoKnownAs":["at://artist.test"],"service":[{{"id":"#atproto_pds","type":"AtprotoPersonalDataServer","serviceEndpoint":"{pds}"}}]}}"##
            ));
        }
        assert!(path.starts_with("/xrpc/com.atproto.sync.getBlob?"), "{path}");
        let n = counter.fetch_add(1, Ordering::SeqCst);
        blob_replies[n.min(blob_replies.len() - 1)].clone()
    })
    .await;
    own_url.set(server.url()).expect("set once");
    Network { server, blob_requests }
}

fn pipeline(net: &Network, store: Arc<dyn ObjectStore>) -> Arc<MediaPipeline> {
    let policy = NetPolicy { allow_private_networks: false, allowed_addrs: vec![net.server.addr()] };
    let media = MediaConfig { read_timeout_ms: 2_000, ..MediaConfig::default() };
    let http = GuardedHttp::new(policy.clone(), media.connect_timeout(), media.read_timeout());
    let identity_config = IdentityConfig { plc_url: net.server.url(), cache_ttl_secs: 600 };
    Arc::new(MediaPipeline {
        identity: Arc::new(IdentityResolver::new(&identity_config, http).expect("resolver")),
        fetcher: BlobFetcher::with_policy(&media, policy),
        transcoder: Transcoder::new(TranscoderKind::Builtin, Limits::default()),
        store,
    })
}

fn runner_config() -> RunnerConfig {
    RunnerConfig {
        concurrency: 2,
        max_attempts: 3,
        base_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(40),
    }
}

async fn run_job(pipeline: Arc<MediaPipeline>, cid: &str) -> Arc<Recorder> {
    let events = Arc::new(Recorder::default());
    let (runner, handle) = JobRunner::spawn(pipeline, events.clone(), runner_config());
    assert!(runner.submit(MediaJob::new(DID, cid)).await);
    drop(runner);
    handle.await.expect("runner");
    events
}

fn wav_bytes(secs: f64) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("a.wav");
    audio::write_sine_wav(&path, 44_100, 2, secs, 440.0, 0.5);
    std::fs::read(path).expect("read")
}

async fn get(router: &axum::Router, uri: &str, range: Option<&str>) -> axum::response::Response {
    let mut request = Request::get(uri);
    if let Some(range) = range {
        request = request.header(header::RANGE, range);
    }
    router.clone().oneshot(request.body(Body::empty()).expect("request")).await.expect("response")
}

async fn body(response: axum::response::Response) -> Vec<u8> {
    axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body").to_vec()
}

async fn round_trip(store: Arc<dyn ObjectStore>) {
    let wav = wav_bytes(2.0);
    let cid = blob_cid_of(&wav);
    let net = network(vec![Reply::status(503), Reply::ok(wav.clone())]).await;
    let events = run_job(pipeline(&net, store.clone()), &cid).await;
    assert_eq!(events.names(), ["requested", "failed", "retry_scheduled", "fetched", "transcoded", "stored"]);

    let router = audio_router(store.clone(), false);
    let whole = get(&router, &format!("/audio/{cid}"), None).await;
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(whole.headers()[header::CONTENT_TYPE], "audio/mpeg");
    let mp3 = body(whole).await;
    assert!(mp3.len() > 10_000, "{}", mp3.len());

    let part = get(&router, &format!("/audio/{cid}"), Some("bytes=100-199")).await;
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.headers()[header::CONTENT_RANGE], format!("bytes 100-199/{}", mp3.len()));
    assert_eq!(part.headers()[header::ACCEPT_RANGES], "bytes");
    assert_eq!(body(part).await, &mp3[100..200]);

    let original = get(&router, &format!("/audio/{cid}/original"), None).await;
    assert_eq!(original.headers()[header::CONTENT_TYPE], "audio/wav");
    assert_eq!(body(original).await, wav);

    let past_end = get(&router, &format!("/audio/{cid}"), Some("bytes=999999999-")).await;
    assert_eq!(past_end.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        get(&router, &format!("/audio/{}", blob_cid_of(b"none")), None).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(get(&router, "/audio/not-a-cid", None).await.status(), StatusCode::BAD_REQUEST);

    // Whether a blob needs a job is decided from the log by whoever submits it; a job submitted anyway
    // (an explicit retry) does the whole work again and reports it.
    let again = run_job(pipeline(&net, store), &cid).await;
    assert_eq!(again.names(), ["requested", "fetched", "transcoded", "stored"]);
    assert_eq!(net.blob_requests.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_wav_blob_round_trips_through_local_files() {
    let dir = tempfile::tempdir().expect("dir");
    round_trip(Arc::new(LocalStore::new(dir.path()))).await;
}

#[tokio::test]
async fn a_wav_blob_round_trips_through_s3_and_presigned_redirects() {
    let server = s3s::S3sFs::start();
    let store: Arc<dyn ObjectStore> = Arc::new(S3Store::new(&server.config()).expect("store"));
    round_trip(store.clone()).await;

    let cid = blob_cid_of(&wav_bytes(2.0));
    let redirect = get(&audio_router(store, true), &format!("/audio/{cid}"), None).await;
    assert_eq!(redirect.status(), StatusCode::TEMPORARY_REDIRECT);
    let location = redirect.headers()[header::LOCATION].to_str().expect("location").to_owned();
    let fetched = reqwest::get(&location).await.expect("presigned get");
    assert_eq!(fetched.status(), 200);
    assert_eq!(fetched.headers()[reqwest::header::CONTENT_TYPE], "audio/mpeg");
}

#[tokio::test]
async fn corrupt_or_mismatched_blobs_fail_and_store_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let store: Arc<dyn ObjectStore> = Arc::new(LocalStore::new(dir.path()));
    let noise: Vec<u8> = (0..50_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 9) as u8).collect();
    let corrupt_cid = blob_cid_of(&noise);
    let net = network(vec![Reply::ok(noise)]).await;
    let events = run_job(pipeline(&net, store.clone()), &corrupt_cid).await;
    assert_eq!(events.names(), ["requested", "fetched", "failed"], "corrupt audio is not retried");

    let claimed = blob_cid_of(b"the record's blob");
    let events = run_job(pipeline(&net, store.clone()), &claimed).await;
    assert_eq!(events.names(), ["requested", "failed"], "a cid mismatch is not retried");
    for cid in [corrupt_cid, claimed] {
        for key in [keys::original(&cid), keys::rendition(&cid)] {
            assert!(!store.exists(&key.expect("key")).await.expect("exists"), "{cid}");
        }
    }
}

#[tokio::test]
async fn a_job_interrupted_by_a_restart_completes_when_requeued() {
    let dir = tempfile::tempdir().expect("dir");
    let store: Arc<dyn ObjectStore> = Arc::new(LocalStore::new(dir.path()));
    let wav = wav_bytes(1.0);
    let cid = blob_cid_of(&wav);
    let net = network(vec![
        Reply::StallAfter { declared: wav.len(), prefix: wav[..1000].to_vec() },
        Reply::ok(wav),
    ])
    .await;

    let events = Arc::new(Recorder::default());
    let config = RunnerConfig { max_attempts: 1, ..runner_config() };
    let (runner, handle) = JobRunner::spawn(pipeline(&net, store.clone()), events.clone(), config);
    assert!(runner.submit(MediaJob::new(DID, cid.clone())).await);
    // The "crash": the runner and its jobs are dropped once the PDS has begun sending the blob.
    while net.blob_requests.load(Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    handle.abort();
    assert!(handle.await.expect_err("aborted").is_cancelled());
    assert_eq!(events.names(), ["requested"]);
    assert!(!store.exists(&keys::rendition(&cid).expect("key")).await.expect("exists"));

    let after = run_job(pipeline(&net, store.clone()), &cid).await;
    assert_eq!(after.names(), ["requested", "fetched", "transcoded", "stored"]);
    assert!(store.exists(&keys::rendition(&cid).expect("key")).await.expect("exists"));
}
