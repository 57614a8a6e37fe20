//! Media through the real binary: a local server plays the PLC directory and the artist's PDS, serving
//! generated WAV, FLAC and MP3 blobs; `reprise run --fixture` ingests tracks pointing at them, its media
//! worker fetches, verifies, transcodes and stores them, and the API serves them with Range. Also: a CID
//! mismatch ends in a failed job visible in the record's history and is re-requested by `media retry`; a
//! kill -9 in the middle of a fetch is finished by the next start; the default config refuses a PDS on a
//! private address without connecting to it.

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use reprise_media::fetch::blob_cid_of;
use reprise_testkit::FrameBuilder;
use reprise_testkit::audio::{ffmpeg_convert, write_sine_wav};
use reprise_testkit::http_server::{Reply, TestServer};
use serde_json::{Value, json};
use support::{Running, eventually, fetch, get, reprise};

const DID: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";

/// The PLC directory and the PDS, on one or two local servers.
struct Network {
    _rt: tokio::runtime::Runtime,
    plc: TestServer,
    pds: Option<TestServer>,
    blob_requests: Arc<AtomicUsize>,
}

impl Network {
    fn plc_url(&self) -> String {
        self.plc.url()
    }
}

/// `blobs`: CID -> answers to getBlob, in order (the last repeats). With `separate_pds`, the PDS is a
/// second server (so a test can show it was never reached); otherwise the PLC server plays both.
fn network(blobs: HashMap<String, Vec<Reply>>, separate_pds: bool) -> Network {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let blob_requests = Arc::new(AtomicUsize::new(0));
    let seen: Arc<std::sync::Mutex<HashMap<String, usize>>> = Default::default();
    let counter = blob_requests.clone();
    let pds_handler = move |path: &str| {
        let Some(cid) = path.split("cid=").nth(1).map(|c| c.split('&').next().unwrap_or(c).to_owned()) else {
            return Reply::status(404);
        };
        counter.fetch_add(1, Ordering::SeqCst);
        let Some(replies) = blobs.get(&cid) else { return Reply::status(400) };
        let mut seen = seen.lock().unwrap();
        let n = seen.entry(cid).or_default();
        *n += 1;
        replies[(*n - 1).min(replies.len() - 1)].clone()
    };
    let pds_url = Arc::new(OnceLock::<String>::new());
    let (plc, pds) = rt.block_on(async {
        let doc_url = pds_url.clone();
        let doc = move |path: &str| {
            let pds = doc_url.get().unwrap();
            (path == format!("/{DID}")).then(|| Reply::json(format!(
                r##"{{"id":"{DID}","alsoKnownAs":["at://artist.test"],"service":[{{"id":"#atproto_pds","type":"AtprotoPersonalDataServer","serviceEndpoint":"{pds}"}}]}}"##
            )))
        };
        if separate_pds {
            let pds = TestServer::start(pds_handler).await;
            let plc = TestServer::start(move |path| doc(path).unwrap_or(Reply::status(404))).await;
            pds_url.set(pds.url()).unwrap();
            (plc, Some(pds))
        } else {
            let plc = TestServer::start(move |path| doc(path).unwrap_or_else(|| pds_handler(path))).await;
            pds_url.set(plc.url()).unwrap();
            (plc, None)
        }
    });
    Network { _rt: rt, plc, pds, blob_requests }
}

/// A track record whose audioBlob names `cid`.
fn track(b: &mut FrameBuilder, rkey: &str, rev: &str, cid: &str, mime: &str, size: usize) -> String {
    let record = json!({
        "$type": "fm.plyr.track", "title": format!("Track {rkey}"), "artist": "Test Artist", "fileType": "audio",
        "createdAt": "2026-05-01T10:00:00.000Z",
        "audioBlob": {"$type": "blob", "ref": {"$link": cid}, "mimeType": mime, "size": size},
    });
    b.put("create", "fm.plyr.track", rkey, rev, record)
}

fn write_fixture(dir: &Path, lines: &[String]) -> std::path::PathBuf {
    let path = dir.join("tracks.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

fn uri(rkey: &str) -> String {
    format!("at://{DID}/fm.plyr.track/{rkey}")
}

fn run(data: &Path, fixture: &Path, net: &Network, private: bool) -> Running {
    let mut cmd = reprise(data);
    cmd.env("REPRISE_MEDIA__ENABLED", "true")
        .env("REPRISE_IDENTITY__PLC_URL", net.plc_url())
        .env("REPRISE_MEDIA__RETRY_INITIAL_MS", "50");
    if private {
        cmd.env("REPRISE_MEDIA__ALLOW_PRIVATE_NETWORKS", "true");
    }
    Running::spawn(cmd.args(["--listen", "127.0.0.1:0", "run", "--fixture"]).arg(fixture))
}

/// The track's view once it lists a rendition.
fn rendered(addr: &str, rkey: &str) -> Value {
    eventually(&format!("a rendition of {rkey}"), || {
        let (status, body) = get(addr, &format!("/xrpc/fm.reprise.getTrack?uri={}", uri(rkey)));
        let track = body["track"].clone();
        (status == 200 && track["renditions"].as_array().is_some_and(|r| !r.is_empty())).then_some(track)
    })
}

/// The media notes in a record's history.
fn media_history(addr: &str, rkey: &str) -> Vec<String> {
    let (_, body) = get(addr, &format!("/xrpc/fm.reprise.getRecordHistory?uri={}&limit=100", uri(rkey)));
    body["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["kind"] == "media")
        .map(|e| e["reason"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn audio_files(dir: &Path) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let wav = dir.join("a.wav");
    write_sine_wav(&wav, 44_100, 2, 2.0, 440.0, 0.5);
    let flac = ffmpeg_convert(&wav, dir, "a.flac", &["-c:a", "flac"]);
    let mp3 = ffmpeg_convert(&wav, dir, "a.mp3", &["-c:a", "libmp3lame", "-b:a", "128k"]);
    (std::fs::read(wav).unwrap(), std::fs::read(flac).unwrap(), std::fs::read(mp3).unwrap())
}

#[test]
fn wav_flac_and_mp3_blobs_become_playable_renditions_and_a_cid_mismatch_fails_visibly() {
    let dir = tempfile::tempdir().unwrap();
    let (wav, flac, mp3) = audio_files(dir.path());
    let cids: Vec<String> = [&wav, &flac, &mp3].iter().map(|b| blob_cid_of(b)).collect();
    let liar = blob_cid_of(b"what the record claims");
    let mut blobs: HashMap<String, Vec<Reply>> = HashMap::new();
    for (cid, bytes) in cids.iter().zip([&wav, &flac, &mp3]) {
        // The WAV's PDS fails once first: the job retries after its backoff.
        let first = if bytes == &wav { vec![Reply::status(503)] } else { vec![] };
        blobs.insert(cid.clone(), [first, vec![Reply::ok((*bytes).clone())]].concat());
    }
    blobs.insert(liar.clone(), vec![Reply::ok(b"other bytes entirely".to_vec())]);
    let net = network(blobs, false);
    let mut b = FrameBuilder::new(DID);
    let fixture = write_fixture(
        dir.path(),
        &[
            track(&mut b, "3kwavwavwavw2", "3kaaaaaaaaab2", &cids[0], "audio/wav", wav.len()),
            track(&mut b, "3kflacflacfl2", "3kaaaaaaaaac2", &cids[1], "audio/flac", flac.len()),
            track(&mut b, "3kmpmpmpmpmp2", "3kaaaaaaaaad2", &cids[2], "audio/mpeg", mp3.len()),
            track(&mut b, "3kliarliarli2", "3kaaaaaaaaae2", &liar, "audio/mpeg", 20),
        ],
    );
    let data = dir.path().join("data");
    let mut run = run(&data, &fixture, &net, true);
    let addr = run.wait_listening();

    for (rkey, cid, original_type, original) in [
        ("3kwavwavwavw2", &cids[0], "audio/wav", &wav),
        ("3kflacflacfl2", &cids[1], "audio/flac", &flac),
        ("3kmpmpmpmpmp2", &cids[2], "audio/mpeg", &mp3),
    ] {
        let track = rendered(&addr, rkey);
        let r = &track["renditions"][0];
        assert_eq!(
            (r["format"].as_str(), r["contentType"].as_str()),
            (Some("mp3"), Some("audio/mpeg")),
            "{track}"
        );
        assert_eq!(r["url"], format!("/audio/{cid}"));
        let ms = r["durationMs"].as_i64().unwrap();
        assert!((1_900..=2_100).contains(&ms), "{rkey}: {ms} ms");
        assert!(r["loudnessLufs"].as_str().unwrap().parse::<f64>().unwrap() < 0.0);
        assert!(track["waveform"].as_array().is_some_and(|w| w.len() > 10), "{track}");

        let (status, headers, whole) = fetch(&addr, &format!("/audio/{cid}"), None);
        assert_eq!((status, headers["content-type"].as_str()), (200, "audio/mpeg"));
        let (status, headers, part) = fetch(&addr, &format!("/audio/{cid}"), Some("bytes=100-1099"));
        assert_eq!(status, 206);
        assert_eq!(headers["content-range"], format!("bytes 100-1099/{}", whole.len()));
        assert_eq!(part, &whole[100..1100]);
        let (status, headers, bytes) = fetch(&addr, &format!("/audio/{cid}/original"), None);
        assert_eq!((status, headers["content-type"].as_str()), (200, original_type));
        assert_eq!(&bytes, original, "{rkey}: the original is kept byte for byte");
    }
    let wav_history = media_history(&addr, "3kwavwavwavw2");
    assert!(
        wav_history.iter().any(|n| n.starts_with("media failed (attempt 1, will retry)")),
        "{wav_history:?}"
    );
    assert!(wav_history.last().unwrap().starts_with("media stored"), "{wav_history:?}");

    let failed = eventually("the mismatch to fail", || {
        let h = media_history(&addr, "3kliarliarli2");
        h.iter().any(|n| n.contains("stopped")).then_some(h)
    });
    assert!(failed.iter().any(|n| n.contains("not to its cid")), "{failed:?}");
    assert_eq!(fetch(&addr, &format!("/audio/{liar}"), None).0, 404);

    // `media retry` beside the running process: the stopped job runs again (and fails again).
    let out = reprise(&data).args(["media", "retry", &liar]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["previous_state"], "failed");
    let again = eventually("the retried job to stop again", || {
        let h = media_history(&addr, "3kliarliarli2");
        (h.iter().filter(|n| n.contains("stopped")).count() == 2).then_some(h)
    });
    assert!(again.iter().any(|n| n == "media requested (manual retry)"), "{again:?}");
    let unknown = reprise(&data).args(["media", "retry", &blob_cid_of(b"nobody")]).output().unwrap();
    assert_eq!(unknown.status.code(), Some(1));

    run.signal("TERM");
    assert_eq!(run.child.wait().unwrap().code(), Some(0));
    let requests = net.blob_requests.load(Ordering::SeqCst);
    // A rebuild folds the same media state from the log alone.
    let before = reprise_testkit::dump_views(&data.join("views.db"));
    support::ok_json(reprise(&data).arg("rebuild"));
    assert_eq!(reprise_testkit::dump_views(&data.join("views.db")), before);
    assert_eq!(net.blob_requests.load(Ordering::SeqCst), requests, "a rebuild fetches nothing");
}

#[test]
fn a_job_killed_in_the_middle_of_a_fetch_finishes_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let wav_path = dir.path().join("a.wav");
    write_sine_wav(&wav_path, 44_100, 2, 2.0, 440.0, 0.5);
    let wav = std::fs::read(&wav_path).unwrap();
    let cid = blob_cid_of(&wav);
    let stall = Reply::StallAfter { declared: wav.len(), prefix: wav[..1000].to_vec() };
    let net = network(HashMap::from([(cid.clone(), vec![stall, Reply::ok(wav.clone())])]), false);
    let mut b = FrameBuilder::new(DID);
    let fixture = write_fixture(
        dir.path(),
        &[track(&mut b, "3kwavwavwavw2", "3kaaaaaaaaab2", &cid, "audio/wav", wav.len())],
    );
    let data = dir.path().join("data");

    let mut first = run(&data, &fixture, &net, true);
    first.wait_listening();
    eventually("the blob fetch to begin", || (net.blob_requests.load(Ordering::SeqCst) > 0).then_some(()));
    first.signal("KILL");
    let _ = first.child.wait();

    let mut second = run(&data, &fixture, &net, true);
    let addr = second.wait_listening();
    rendered(&addr, "3kwavwavwavw2");
    assert_eq!(fetch(&addr, &format!("/audio/{cid}/original"), None).2, wav);
    let history = media_history(&addr, "3kwavwavwavw2");
    assert_eq!(history.iter().filter(|n| *n == "media requested").count(), 2, "{history:?}");
    assert_eq!(net.blob_requests.load(Ordering::SeqCst), 2);
    second.signal("TERM");
    assert_eq!(second.child.wait().unwrap().code(), Some(0));
}

#[test]
fn the_default_config_refuses_a_pds_on_a_private_address_without_connecting() {
    let dir = tempfile::tempdir().unwrap();

    let cid = blob_cid_of(b"never fetched");
    let net = network(HashMap::from([(cid.clone(), vec![Reply::ok(b"never fetched".to_vec())])]), true);
    let mut b = FrameBuilder::new(DID);
    let fixture =
        write_fixture(dir.path(), &[track(&mut b, "3kssrfssrfss2", "3kaaaaaaaaab2", &cid, "audio/wav", 13)]);
    let mut run = run(&dir.path().join("data"), &fixture, &net, false);
    let addr = run.wait_listening();
    let history = eventually("the refused job to stop", || {
        let h = media_history(&addr, "3kssrfssrfss2");
        h.iter().any(|n| n.contains("stopped")).then_some(h)
    });
    assert!(history.iter().any(|n| n.contains("refused")), "{history:?}");
    assert!(net.plc.accepted() > 0, "the operator's PLC directory is reachable");
    assert_eq!(net.pds.as_ref().unwrap().accepted(), 0, "no connection reached the refused PDS");
    run.signal("TERM");
    assert_eq!(run.child.wait().unwrap().code(), Some(0));
}
