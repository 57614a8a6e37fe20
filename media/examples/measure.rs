//! Rough figures for issue 7's targets (the `media` bench suite should take these over):
//! fetch + verify throughput over loopback for a 100 MiB blob, and builtin MP3 transcode speed of a 60 s
//! stereo WAV. `cargo run --release -p reprise-media --example measure`. Prints one JSON object per line.

use std::sync::Arc;
use std::time::Instant;

use reprise_media::MediaConfig;
use reprise_media::fetch::{BlobFetcher, blob_cid_of};
use reprise_media::transcode::{Limits, Transcoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BLOB_BYTES: usize = 100 * 1024 * 1024;
const RUNS: usize = 3;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().split(' ').next()?.parse().ok());
    kib.unwrap_or(0.0) / 1024.0
}

async fn serve_blob(blob: Arc<Vec<u8>>) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let blob = blob.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let head =
                    format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", blob.len());
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(&blob).await;
            });
        }
    });
    addr
}

fn sine_wav(path: &std::path::Path, secs: u32) {
    let rate = 44_100u32;
    let frames = rate * secs;
    let mut out = Vec::with_capacity(44 + frames as usize * 4);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + frames * 4).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt \x10\0\0\0\x01\0\x02\0");
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 4).to_le_bytes());
    out.extend_from_slice(b"\x04\0\x10\0data");
    out.extend_from_slice(&(frames * 4).to_le_bytes());
    for i in 0..frames {
        let t = f64::from(i) / f64::from(rate);
        let s = ((2.0 * std::f64::consts::PI * 440.0 * t).sin() * 0.5 * (1.0 + (t * 0.3).sin()) * 16_000.0)
            as i16;
        out.extend_from_slice(&s.to_le_bytes());
        out.extend_from_slice(&(s / 2).to_le_bytes());
    }
    std::fs::write(path, out).expect("write wav");
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let blob: Vec<u8> = (0..BLOB_BYTES).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let cid = blob_cid_of(&blob);
    let addr = serve_blob(Arc::new(blob)).await;
    let config = MediaConfig { allow_private_networks: true, ..MediaConfig::default() };
    let fetcher = BlobFetcher::new(&config);
    let rss_before = peak_rss_mib();
    let mut rates = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let fetched = fetcher
            .fetch(&format!("http://{addr}"), "did:plc:ewvi7nxzyoun6zhxrhs64oiz", &cid)
            .await
            .expect("fetch");
        rates.push(fetched.size as f64 / 1e6 / started.elapsed().as_secs_f64());
    }
    println!(
        r#"{{"suite":"media","metric":"fetch_verify_100mib","value":{:.0},"unit":"MB/s"}}"#,
        median(rates)
    );
    // The source blob itself lives in this process's memory; report what fetching added to the peak.
    let added = peak_rss_mib() - rss_before;
    println!(r#"{{"suite":"media","metric":"peak_rss_added_by_fetch","value":{added:.0},"unit":"MiB"}}"#);

    let dir = tempfile::tempdir().expect("dir");
    let wav = dir.path().join("a.wav");
    sine_wav(&wav, 60);
    let transcoder = Transcoder::new(reprise_media::TranscoderKind::Builtin, Limits::default());
    let mut speeds = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        transcoder.transcode(&wav).await.expect("transcode");
        speeds.push(60.0 / started.elapsed().as_secs_f64());
    }
    println!(
        r#"{{"suite":"media","metric":"mp3_transcode_60s_stereo","value":{:.1},"unit":"x realtime"}}"#,
        median(speeds)
    );
}
