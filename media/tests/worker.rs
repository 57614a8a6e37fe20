//! The media worker between a real log, real read models and a local server playing the PLC directory and
//! the artist's PDS: a track's blob becomes a stored rendition through `media` events the fold reads back,
//! a retry request starts a finished job again, an identity event makes the worker resolve the DID afresh,
//! and a bad retry request names what is wrong.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reprise_atproto_net::{GuardedHttp, IdentityConfig, IdentityResolver, NetPolicy};
use reprise_events::media::{JobState, MediaEvent};
use reprise_events::{EventKind, EventLog, NewEvent, Shutdown};
use reprise_media::fetch::{BlobFetcher, blob_cid_of};
use reprise_media::jobs::RunnerConfig;
use reprise_media::pipeline::MediaPipeline;
use reprise_media::transcode::{Limits, Transcoder};
use reprise_media::worker::{self, MediaWorker, WorkerError};
use reprise_media::{MediaConfig, TranscoderKind, keys};
use reprise_projector::{Catalog, Projector, VIEWS_FILE};
use reprise_store::{LocalStore, ObjectStore};
use reprise_testkit::audio;
use reprise_testkit::http_server::{Reply, TestServer};
use reprise_testkit::{FrameBuilder, identity};
use serde_json::json;
use tokio::sync::watch;

const DID: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
const RKEY: &str = "3kaaaaaaaaaa2";

/// Longest a test waits for the worker before it fails.
const PATIENCE: Duration = Duration::from_secs(60);

/// The PLC directory and the PDS in one server; getBlob answers in order, the last one repeating.
struct Network {
    server: TestServer,
    documents: Arc<AtomicUsize>,
    blobs: Arc<AtomicUsize>,
}

async fn network(blob_replies: Vec<Reply>) -> Network {
    let (documents, blobs) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (doc_count, blob_count) = (documents.clone(), blobs.clone());
    let own_url = Arc::new(std::sync::OnceLock::<String>::new());
    let url = own_url.clone();
    let server = TestServer::start(move |path| {
        if path == format!("/{DID}") {
            doc_count.fetch_add(1, Ordering::SeqCst);
            let pds = url.get().expect("url set");
            return Reply::json(format!(
                r##"{{"id":"{DID}","service":[{{"id":"#atproto_pds","type":"AtprotoPersonalDataServer","serviceEndpoint":"{pds}"}}]}}"##
            ));
        }
        let n = blob_count.fetch_add(1, Ordering::SeqCst);
        blob_replies[n.min(blob_replies.len() - 1)].clone()
    })
    .await;
    own_url.set(server.url()).expect("set once");
    Network { server, documents, blobs }
}

/// A node's data directory: the log, the read models, and the store the worker writes to.
struct Node {
    dir: tempfile::TempDir,
    store: Arc<dyn ObjectStore>,
    checkpoint: watch::Sender<i64>,
    stop: std::sync::Mutex<Shutdown>,
}

impl Node {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("dir");
        let store = Arc::new(LocalStore::new(dir.path().join("media")));
        Node { dir, store, checkpoint: watch::channel(0).0, stop: Default::default() }
    }

    fn append(&self, source: &str, frames: &[String]) {
        let events: Vec<NewEvent> = frames
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let decoded = reprise_ingest::decode_v1(f.as_bytes());
                NewEvent {
                    envelope: decoded.envelope,
                    frame: f.clone().into_bytes(),
                    source_cursor: decoded.cursor,
                    received_at_us: 1_779_800_000_000_000 + i as i64,
                }
            })
            .collect();
        EventLog::open(self.dir.path()).expect("log").append(source, &events, None).expect("append");
    }

    /// Applies the log to the read models and tells the worker, as `reprise run`'s projector does.
    fn project(&self) {
        let catalog = Arc::new(Catalog::builtin());
        let report =
            Projector::open(self.dir.path(), 100, catalog).expect("projector").catch_up(None).expect("apply");
        self.checkpoint.send_replace(report.checkpoint);
    }

    fn job(&self) -> String {
        let conn = rusqlite::Connection::open(self.dir.path().join(VIEWS_FILE)).expect("views");
        conn.query_row("SELECT state || ' ' || attempts FROM media_jobs", [], |r| r.get(0)).expect("one job")
    }

    fn start(&self, net: &Network) -> MediaWorker {
        let policy = NetPolicy { allow_private_networks: false, allowed_addrs: vec![net.server.addr()] };
        let media = MediaConfig { read_timeout_ms: 2_000, ..MediaConfig::default() };
        let http = GuardedHttp::new(policy.clone(), media.connect_timeout(), media.read_timeout());
        let identity = IdentityConfig { plc_url: net.server.url(), cache_ttl_secs: 600 };
        let pipeline = MediaPipeline {
            identity: Arc::new(IdentityResolver::new(&identity, http).expect("resolver")),
            fetcher: BlobFetcher::with_policy(&media, policy),
            transcoder: Transcoder::new(TranscoderKind::Builtin, Limits::default()),
            store: self.store.clone(),
        };
        let runner = RunnerConfig {
            concurrency: 2,
            max_attempts: 3,
            base_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(40),
        };
        let (checkpoint, stop) = (self.checkpoint.subscribe(), self.stop.lock().unwrap().clone());
        worker::start(self.dir.path(), pipeline, runner, checkpoint, stop).expect("start worker")
    }

    /// Projects after each append of the worker until the job shows `state`.
    async fn until_job(&self, worker: &mut MediaWorker, state: &str) {
        let wait = async {
            loop {
                self.project();
                if self.job().starts_with(state) {
                    return;
                }
                worker.head.changed().await.expect("the worker's writer is alive");
            }
        };
        tokio::time::timeout(PATIENCE, wait)
            .await
            .unwrap_or_else(|_| panic!("job never {state}: {}", self.job()));
    }

    async fn stop(&self, worker: MediaWorker) {
        // A stopped `Shutdown` stays stopped: the next start gets a new one.
        let stop = std::mem::take(&mut *self.stop.lock().unwrap());
        stop.stop();
        worker.stop().await.expect("worker stops cleanly");
    }

    /// The log's media events, decoded by the type the fold uses.
    fn media_events(&self) -> Vec<MediaEvent> {
        let reader = EventLog::open(self.dir.path()).expect("log").reader().expect("reader");
        let rows = reader.read_after(0, 1_000).expect("read");
        rows.iter()
            .filter(|r| r.envelope.kind() == EventKind::Media)
            .map(|r| MediaEvent::decode(&r.frame).expect("a media event the fold reads"))
            .collect()
    }
}

fn names(events: &[MediaEvent]) -> Vec<&'static str> {
    events.iter().map(|e| e.state.name()).collect()
}

fn wav() -> Vec<u8> {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("a.wav");
    audio::write_sine_wav(&path, 44_100, 2, 1.0, 440.0, 0.5);
    std::fs::read(path).expect("read")
}

fn track(cid: &str) -> String {
    let record = json!({
        "$type": "fm.plyr.track", "title": "With audio", "artist": "Test Artist", "fileType": "wav",
        "createdAt": "2026-05-01T10:00:00.000Z",
        "audioBlob": {"$type": "blob", "ref": {"$link": cid}, "mimeType": "audio/wav", "size": 1000},
    });
    FrameBuilder::new(DID).put("create", "fm.plyr.track", RKEY, "3kaaaaaaaaab2", record)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_track_blob_becomes_a_stored_rendition_through_the_log() {
    let wav = wav();
    let cid = blob_cid_of(&wav);
    let net = network(vec![Reply::status(503), Reply::ok(wav)]).await;
    let node = Node::new();
    node.append("test", &[track(&cid)]);
    node.project();
    assert_eq!(node.job(), "needed 0");

    let mut worker = node.start(&net);
    node.until_job(&mut worker, "stored").await;
    node.stop(worker).await;

    let events = node.media_events();
    assert_eq!(names(&events), ["requested", "failed", "retry_scheduled", "fetched", "transcoded", "stored"]);
    let uri = format!("at://{DID}/fm.plyr.track/{RKEY}");
    for e in &events {
        assert_eq!(
            (e.cid.as_str(), e.did.as_str(), e.uri.as_deref(), e.manual),
            (cid.as_str(), DID, Some(&*uri), false)
        );
    }
    assert!(node.store.exists(&keys::rendition(&cid).expect("key")).await.expect("exists"));
    assert_eq!(net.blobs.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_runs_a_finished_job_again_and_an_identity_event_refreshes_the_did() {
    let wav = wav();
    let cid = blob_cid_of(&wav);
    let net = network(vec![Reply::ok(wav)]).await;
    let node = Node::new();
    node.append("test", &[track(&cid)]);
    node.project();
    let mut worker = node.start(&net);
    node.until_job(&mut worker, "stored").await;
    assert_eq!(net.documents.load(Ordering::SeqCst), 1);

    // A handle change, then an operator's retry: the worker forgets the cached document first.
    node.append("jetstream", &[identity(DID, 7, Some("new.example"))]);
    let retried = worker::request_retry(node.dir.path(), &cid).expect("retry");
    assert_eq!((retried.previous.state.as_str(), retried.previous.did.as_str()), ("stored", DID));
    node.project();
    assert_eq!(node.job(), "requested 0", "the retry reset the job");
    node.until_job(&mut worker, "stored").await;
    node.stop(worker).await;

    let events = node.media_events();
    assert_eq!(names(&events)[4..], ["requested", "requested", "fetched", "transcoded", "stored"]);
    assert!(events[4].manual && !events[5].manual, "the retry is manual, the runner's own request is not");
    assert_eq!(net.blobs.load(Ordering::SeqCst), 2, "fetched again");
    assert_eq!(net.documents.load(Ordering::SeqCst), 2, "resolved again after the identity event");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_worker_resumes_an_interrupted_job() {
    let wav = wav();
    let cid = blob_cid_of(&wav);
    let node = Node::new();
    node.append("test", &[track(&cid)]);
    // A previous worker got as far as `fetched` before the process died.
    let earlier = [(JobState::Requested, 5), (JobState::Fetched { size: 3 }, 6)]
        .map(|(state, at)| MediaEvent::new(&cid, DID, state, at).to_log_event());
    EventLog::open(node.dir.path()).expect("log").append(worker::SOURCE, &earlier, None).expect("append");
    node.project();
    assert_eq!(node.job(), "fetched 0");

    let net = network(vec![Reply::ok(wav)]).await;
    let mut worker = node.start(&net);
    node.until_job(&mut worker, "stored").await;
    node.stop(worker).await;
    assert_eq!(
        names(&node.media_events()),
        ["requested", "fetched", "requested", "fetched", "transcoded", "stored"]
    );
}

#[test]
fn a_bad_retry_request_names_what_is_wrong() {
    let node = Node::new();
    let err = worker::request_retry(node.dir.path(), &blob_cid_of(b"x")).expect_err("no views");
    assert!(matches!(err, WorkerError::NoViews(_)), "{err}");
    assert!(err.to_string().contains("run `reprise project` or `reprise run` first"), "{err}");

    node.append("test", &[track(&blob_cid_of(b"known"))]);
    node.project();
    for (cid, expected) in [
        ("not-a-cid".to_owned(), "\"not-a-cid\" is not a blob CID: invalid blob cid"),
        ("bafyreib2rxk3rh6kzwq".to_owned(), "is not a blob CID"),
        (
            reprise_testkit::record_cid(&json!({"a": 1})),
            "is not a blob CID: blob cid is not a raw sha2-256 cidv1",
        ),
        (blob_cid_of(b"nobody"), "no indexed track carries the blob"),
    ] {
        let err = worker::request_retry(node.dir.path(), &cid).expect_err(&cid);
        assert!(err.to_string().contains(expected), "{cid}: {err}");
    }
    assert!(node.media_events().is_empty(), "a refused retry appends nothing");
}
