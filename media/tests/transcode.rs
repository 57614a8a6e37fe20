//! Transcoding generated audio: WAV, MP3 and FLAC through the builtin backend, Opus/webm through ffmpeg,
//! and hostile input (corrupt, too long, over the deadline) failing cleanly.

use reprise_testkit::audio;

use std::path::Path;
use std::time::Duration;

use audio::{ffmpeg_convert, ffmpeg_installed, write_sine_wav};
use reprise_media::TranscoderKind;
use reprise_media::transcode::{Limits, TranscodeError, Transcoded, Transcoder, probe};

fn builtin() -> Transcoder {
    Transcoder::new(TranscoderKind::Builtin, Limits::default())
}

fn sine(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("sine.wav");
    write_sine_wav(&path, 44_100, 2, 3.0, 1000.0, 0.5);
    path
}

/// The rendition is an MP3 of the same length, loud as the input, with a flat waveform.
fn check_rendition(out: &Transcoded, secs: f64) {
    assert_eq!(out.rendition.content_type, "audio/mpeg");
    let rendition = probe(out.rendition.path()).expect("rendition probes");
    assert_eq!((rendition.container.as_str(), rendition.codec.as_str()), ("mp3", "mp3"));
    let duration = out.probe.duration_secs.expect("duration");
    assert!((duration - secs).abs() < 0.1, "{duration}");
    let lufs = out.loudness_lufs.expect("loudness");
    assert!((-7.5..=-4.5).contains(&lufs), "a -6 dBFS 1 kHz stereo sine is about -6 LUFS, got {lufs}");
    let peaks = &out.waveform.peaks;
    assert!((250..=310).contains(&peaks.len()), "{}", peaks.len());
    assert!(peaks[10..peaks.len() - 10].iter().all(|p| (118..=138).contains(p)), "{peaks:?}");
}

#[tokio::test]
async fn wav_becomes_a_playable_mp3_with_loudness_and_waveform() {
    let dir = tempfile::tempdir().expect("dir");
    let out = builtin().transcode(&sine(dir.path())).await.expect("transcode");
    assert_eq!(out.probe.container, "wav");
    assert_eq!(out.probe.codec, "pcm_s16le");
    assert_eq!((out.probe.sample_rate, out.probe.channels), (Some(44_100), Some(2)));
    assert_eq!(out.probe.bitrate_kbps, Some(1411));
    check_rendition(&out, 3.0);
}

#[tokio::test]
async fn mp3_input_is_transcoded_too() {
    let dir = tempfile::tempdir().expect("dir");
    let first = builtin().transcode(&sine(dir.path())).await.expect("wav to mp3");
    let out = builtin().transcode(first.rendition.path()).await.expect("mp3 to mp3");
    assert_eq!((out.probe.container.as_str(), out.probe.codec.as_str()), ("mp3", "mp3"));
    check_rendition(&out, 3.0);
}

#[tokio::test]
async fn probing_reads_the_header_only() {
    let dir = tempfile::tempdir().expect("dir");
    let probed = probe(&sine(dir.path())).expect("probe");
    assert_eq!(probed.container, "wav");
    assert_eq!(probed.duration_secs, Some(3.0));
    assert_eq!(probed.channels, Some(2));
}

#[tokio::test]
async fn flac_and_m4a_decode_in_process() {
    if !ffmpeg_installed() {
        eprintln!("ffmpeg not installed: scripts/test installs it; FLAC/AAC inputs cannot be generated");
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let wav = sine(dir.path());
    for (name, args, container, codec) in [
        ("sine.flac", &["-c:a", "flac"][..], "flac", "flac"),
        ("sine.m4a", &["-c:a", "aac", "-b:a", "192k"][..], "mp4", "aac"),
    ] {
        let input = ffmpeg_convert(&wav, dir.path(), name, args);
        let out = builtin().transcode(&input).await.expect(name);
        assert_eq!((out.probe.container.as_str(), out.probe.codec.as_str()), (container, codec), "{name}");
        check_rendition(&out, 3.0);
    }
}

#[tokio::test]
async fn corrupt_input_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().expect("dir");
    let wav = std::fs::read(sine(dir.path())).expect("wav");
    let first = builtin().transcode(&sine(dir.path())).await.expect("mp3");
    let mp3 = std::fs::read(first.rendition.path()).expect("mp3");
    let mut noise: Vec<u8> = (0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
    let mut garbled_wav = wav[..44].to_vec();
    garbled_wav.extend_from_slice(&noise[..1000]);
    let mut bad_header = wav.clone();
    bad_header[22] = 0; // zero channels
    let mut bad_mp3 = mp3.clone();
    for i in (400..bad_mp3.len()).step_by(97) {
        bad_mp3[i] ^= 0x5a;
    }
    noise[..4].copy_from_slice(b"fLaC");
    let cases: [(&str, &[u8]); 6] = [
        ("empty", &[]),
        ("noise", &noise[4..]),
        ("flac magic then noise", &noise),
        ("wav header only", &wav[..44]),
        ("zero channels", &bad_header),
        ("garbled mp3", &bad_mp3),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        match builtin().transcode(&path).await {
            Err(e) => assert!(!matches!(e, TranscodeError::Panicked(_)), "{name}: {e}"),
            Ok(out) => assert!(out.probe.duration_secs.is_some(), "{name} decoded to nothing"),
        }
    }
    let path = dir.path().join("noise");
    assert!(builtin().transcode(&path).await.is_err());
    std::fs::write(&path, &garbled_wav).expect("write");
    let _ = builtin().transcode(&path).await;
}

#[tokio::test]
async fn decoding_is_bounded_in_length_and_time() {
    let dir = tempfile::tempdir().expect("dir");
    let wav = sine(dir.path());
    let short = Limits { max_duration: Duration::from_secs(1), ..Limits::default() };
    let err = Transcoder::new(TranscoderKind::Builtin, short).transcode(&wav).await.expect_err("too long");
    assert!(matches!(err, TranscodeError::TooLong { max_secs: 1 }), "{err}");
    let hurried = Limits { deadline: Duration::ZERO, ..Limits::default() };
    let err = Transcoder::new(TranscoderKind::Builtin, hurried).transcode(&wav).await.expect_err("deadline");
    assert!(matches!(err, TranscodeError::Timeout(_)), "{err}");
}

#[tokio::test]
async fn ffmpeg_covers_opus_in_webm() {
    if !ffmpeg_installed() {
        eprintln!("ffmpeg not installed: scripts/test installs it");
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let webm =
        ffmpeg_convert(&sine(dir.path()), dir.path(), "sine.webm", &["-c:a", "libopus", "-b:a", "128k"]);
    let err = builtin().transcode(&webm).await.expect_err("symphonia has no opus");
    assert!(matches!(err, TranscodeError::Unsupported(_) | TranscodeError::Corrupt(_)), "{err}");

    let ffmpeg = Transcoder::new(TranscoderKind::Ffmpeg, Limits::default());
    assert_eq!(ffmpeg.effective_kind().await, TranscoderKind::Ffmpeg);
    let out = ffmpeg.transcode(&webm).await.expect("ffmpeg transcode");
    assert_eq!((out.probe.container.as_str(), out.probe.codec.as_str()), ("webm", "opus"));
    assert_eq!(out.probe.sample_rate, Some(48_000));
    check_rendition(&out, 3.0);
}

#[tokio::test]
async fn ffmpeg_fails_cleanly_on_corrupt_and_overlong_input() {
    if !ffmpeg_installed() {
        eprintln!("ffmpeg not installed: scripts/test installs it");
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let junk = dir.path().join("junk");
    std::fs::write(&junk, b"this is not audio at all").expect("write");
    let ffmpeg = Transcoder::new(TranscoderKind::Ffmpeg, Limits::default());
    let err = ffmpeg.transcode(&junk).await.expect_err("junk");
    assert!(matches!(err, TranscodeError::Ffmpeg(_) | TranscodeError::Unsupported(_)), "{err}");
    let short = Limits { max_duration: Duration::from_secs(1), ..Limits::default() };
    let err =
        Transcoder::new(TranscoderKind::Ffmpeg, short).transcode(&sine(dir.path())).await.expect_err("long");
    assert!(matches!(err, TranscodeError::TooLong { .. }), "{err}");
}
