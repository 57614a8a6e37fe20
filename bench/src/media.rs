//! Suite `media`: issue 7's targets, on the code paths the media worker runs.
//!
//! - `fetch_verify_mb_per_s`: `BlobFetcher::fetch` of a 100 MiB blob over loopback (SSRF guard, streamed
//!   to a temp file, hashed, checked against the CID), against a plain loopback read of the same bytes
//!   from the same server into nothing. Target: >= 200 MB/s.
//! - `mp3_transcode_x_realtime`: the builtin transcoder (symphonia + LAME, 192 kbps, with loudness and
//!   waveform) on a 60 s stereo WAV on one core, against ffmpeg's LAME at the same bitrate with one
//!   thread. Target: >= 30x realtime.
//! - `peak_rss_mib_100mb_blob`: the process's peak RSS while one job fetches, transcodes and stores a
//!   ~100 MB WAV blob, against the RSS before it. Target: < 150 MB.
//!
//! The blobs are served from files by a server in this process, so they do not count in its memory.

use std::path::Path;
use std::time::Instant;

use reprise_media::fetch::{BlobFetcher, blob_cid_of};
use reprise_media::transcode::{Limits, Transcoder};
use reprise_media::{MediaConfig, TranscoderKind, keys};
use reprise_store::{LocalStore, ObjectStore};
use reprise_testkit::audio::write_sine_wav;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::Options;
use crate::measure::{emit, median_of, peak_rss_mib, reset_peak_rss, rss_mib};

const DID: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
const FETCH_BYTES: usize = 100 * 1024 * 1024;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

pub fn run(opts: &Options) -> Result<(), String> {
    let dir = opts.dir.join("media");
    std::fs::create_dir_all(&dir).map_err(err)?;
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(err)?;
    fetch_verify(opts, &rt, &dir)?;
    transcode(opts, &rt, &dir)?;
    peak_rss(&rt, &dir)
}

/// Serves the file at `path` to every request (whatever it asks for) over loopback.
async fn serve_file(path: std::path::PathBuf) -> Result<std::net::SocketAddr, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(err)?;
    let addr = listener.local_addr().map_err(err)?;
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let path = path.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let Ok(file) = tokio::fs::File::open(&path).await else { return };
                let len = file.metadata().await.map(|m| m.len()).unwrap_or(0);
                // Large reads, as a PDS streaming from disk would do; 8 KiB ones capped both sides here.
                let mut file = tokio::io::BufReader::with_capacity(1 << 20, file);
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: audio/wav\r\ncontent-length: {len}\r\nconnection: close\r\n\r\n"
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = tokio::io::copy_buf(&mut file, &mut stream).await;
            });
        }
    });
    Ok(addr)
}

fn fetcher() -> BlobFetcher {
    BlobFetcher::new(&MediaConfig { allow_private_networks: true, ..MediaConfig::default() })
}

fn fetch_verify(opts: &Options, rt: &tokio::runtime::Runtime, dir: &Path) -> Result<(), String> {
    let blob: Vec<u8> = (0..FETCH_BYTES).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let cid = blob_cid_of(&blob);
    let path = dir.join("noise.bin");
    std::fs::write(&path, &blob).map_err(err)?;
    drop(blob);
    rt.block_on(async {
        let addr = serve_file(path).await?;
        let fetcher = fetcher();
        let mut baseline = Vec::new();
        let mut value = Vec::new();
        for _ in 0..opts.runs {
            baseline.push(plain_read(addr).await?);
            let started = Instant::now();
            let fetched = fetcher.fetch(&format!("http://{addr}"), DID, &cid).await.map_err(err)?;
            value.push(fetched.size as f64 / 1e6 / started.elapsed().as_secs_f64());
        }
        let (mut b, mut v) = (baseline.into_iter(), value.into_iter());
        let baseline = median_of(opts.runs, || b.next().ok_or_else(|| "no sample".to_owned()))?;
        let value = median_of(opts.runs, || v.next().ok_or_else(|| "no sample".to_owned()))?;
        emit("media", "fetch_verify_mb_per_s", value, "MB/s", baseline);
        Ok(())
    })
}

/// MB/s of reading the same response over loopback and discarding it.
async fn plain_read(addr: std::net::SocketAddr) -> Result<f64, String> {
    let started = Instant::now();
    let mut stream = tokio::net::TcpStream::connect(addr).await.map_err(err)?;
    stream.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await.map_err(err)?;
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0usize;
    loop {
        match stream.read(&mut buf).await.map_err(err)? {
            0 => break,
            n => total += n,
        }
    }
    Ok(total as f64 / 1e6 / started.elapsed().as_secs_f64())
}

fn transcode(opts: &Options, rt: &tokio::runtime::Runtime, dir: &Path) -> Result<(), String> {
    const SECS: f64 = 60.0;
    let wav = dir.join("sine-60s.wav");
    write_sine_wav(&wav, 44_100, 2, SECS, 440.0, 0.5);
    let transcoder = Transcoder::new(TranscoderKind::Builtin, Limits::default());
    let value = median_of(opts.runs, || {
        let started = Instant::now();
        rt.block_on(transcoder.transcode(&wav)).map_err(err)?;
        Ok(SECS / started.elapsed().as_secs_f64())
    })?;
    let out = dir.join("ffmpeg.mp3");
    let baseline = median_of(opts.runs, || {
        let started = Instant::now();
        let status = std::process::Command::new("ffmpeg")
            .args(["-nostdin", "-loglevel", "error", "-y", "-threads", "1", "-i"])
            .arg(&wav)
            .args(["-c:a", "libmp3lame", "-b:a", "192k"])
            .arg(&out)
            .status();
        match status {
            Ok(s) if s.success() => Ok(SECS / started.elapsed().as_secs_f64()),
            // Without ffmpeg the ratio is NaN; the value still stands on its own.
            _ => Ok(f64::NAN),
        }
    })?;
    emit("media", "mp3_transcode_x_realtime", value, "x realtime", baseline);
    Ok(())
}

fn peak_rss(rt: &tokio::runtime::Runtime, dir: &Path) -> Result<(), String> {
    // 100 MB of 16-bit stereo 44.1 kHz PCM is about ten minutes of audio.
    let wav = dir.join("sine-100mb.wav");
    write_sine_wav(&wav, 44_100, 2, 594.0, 440.0, 0.5);
    let cid = blob_cid_of(&std::fs::read(&wav).map_err(err)?);
    let store_dir = dir.join("store");
    let _ = std::fs::remove_dir_all(&store_dir);
    let store = LocalStore::new(&store_dir);
    let transcoder = Transcoder::new(TranscoderKind::Builtin, Limits::default());
    rt.block_on(async {
        let addr = serve_file(wav.clone()).await?;
        // What a job holds in memory: fetch (streamed to a temp file), transcode, store both objects, in
        // the pipeline's order. Identity resolution is a few KiB and needs a PLC, so it is left out.
        let before = rss_mib();
        reset_peak_rss();
        let blob = fetcher().fetch(&format!("http://{addr}"), DID, &cid).await.map_err(err)?;
        let transcoded = transcoder.transcode(blob.path()).await.map_err(err)?;
        let original = keys::original(&cid).map_err(err)?;
        store.put_file(&original, blob.path(), "audio/wav").await.map_err(err)?;
        let rendition = keys::rendition(&cid).map_err(err)?;
        store.put_file(&rendition, transcoded.rendition.path(), "audio/mpeg").await.map_err(err)?;
        emit("media", "peak_rss_mib_100mb_blob", peak_rss_mib(), "MiB", before);
        Ok(())
    })
}
