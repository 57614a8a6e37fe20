//! Media jobs and renditions as read models: a track's audio blob becomes a needed job, media events move
//! it through its states, and a rebuild reproduces both tables from the log alone.

mod support;

use reprise_events::media::MediaEvent;
use reprise_events::{Envelope, NewEvent};
use reprise_projector::{Catalog, VIEWS_FILE, rebuild};
use reprise_testkit::{FrameBuilder, dump_views};
use serde_json::{Value, json};
use support::World;

const DID: &str = "did:plc:mcc5yghbk7tixqryac2yxku7";
const BLOB: &str = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
const RKEY: &str = "3kaaaaaaaaaa2";

fn track_with_blob(r: &mut FrameBuilder, rkey: &str, rev: &str, blob: &str) -> String {
    let record = json!({
        "$type": "fm.plyr.track", "title": "With audio", "artist": "Test Artist", "fileType": "wav",
        "createdAt": "2026-05-01T10:00:00.000Z",
        "audioBlob": {"$type": "blob", "ref": {"$link": blob}, "mimeType": "audio/wav", "size": 1000},
    });
    r.put("create", "fm.plyr.track", rkey, rev, record)
}

fn media(w: &mut World, state: Value, manual: bool) {
    let uri = format!("at://{DID}/fm.plyr.track/{RKEY}");
    let at = w.log.head() + 1;
    let event = MediaEvent::new(BLOB, DID, serde_json::from_value(state).unwrap(), at).with_uri(Some(uri));
    let event = if manual { event.manual() } else { event };
    w.log.append("media", &[event.to_log_event()], None).unwrap();
}

fn job(w: &World) -> String {
    w.one("SELECT state, attempts, last_reason, retry_at_ms IS NOT NULL FROM media_jobs")
}

#[test]
fn a_track_blob_is_needed_once_and_media_events_move_its_job() {
    let mut w = World::new();
    let mut r = FrameBuilder::new(DID);
    w.given(&[
        track_with_blob(&mut r, RKEY, "3kaaaaaaaaab2", BLOB),
        track_with_blob(&mut r, "3kbbbbbbbbbb2", "3kaaaaaaaaac2", BLOB),
    ]);
    w.project(100);
    assert_eq!(
        w.one("SELECT did, uri, state, attempts FROM media_jobs"),
        format!("{DID} | at://{DID}/fm.plyr.track/{RKEY} | needed | 0"),
        "two tracks, one blob, one job"
    );

    media(&mut w, json!({"state": "requested"}), false);
    media(
        &mut w,
        json!({"state": "failed", "reason": "fetch: pds answered 503", "attempt": 1, "will_retry": true}),
        false,
    );
    media(&mut w, json!({"state": "retry_scheduled", "at_unix_ms": 99, "attempt": 2}), false);
    w.project(100);
    assert_eq!(job(&w), "retry_scheduled | 1 | fetch: pds answered 503 | 1");

    media(
        &mut w,
        json!({"state": "failed", "reason": "fetch: cid mismatch", "attempt": 2, "will_retry": false}),
        false,
    );
    w.project(100);
    assert_eq!(job(&w), "failed | 2 | fetch: cid mismatch | 0");
    let audit = w.rows(&format!("SELECT kind, cid, outcome, reason FROM audit WHERE uri = 'at://{DID}/fm.plyr.track/{RKEY}' AND kind = 'media' ORDER BY seq"));
    assert_eq!(
        audit.last().unwrap(),
        &format!("media | {BLOB} | applied | media failed (attempt 2, stopped): fetch: cid mismatch")
    );

    media(&mut w, json!({"state": "requested"}), true);
    w.project(100);
    assert_eq!(job(&w), "requested | 0 | null | 0", "a manual retry starts the count again");

    media(&mut w, json!({"state": "fetched", "size": 1000}), false);
    media(&mut w, json!({"state": "transcoded", "duration_secs": 2.0, "loudness_lufs": -9.5}), false);
    let rendition = json!({"format": "mp3", "contentType": "audio/mpeg", "bitrateKbps": 192, "size": 48000,
        "durationSecs": 2.0, "loudnessLufs": -9.5, "waveform": {"peaks": [0, 128, 255]},
        "original": {"container": "wav", "codec": "pcm_s16le"}});
    media(&mut w, json!({"state": "stored", "rendition": rendition}), false);
    w.project(100);
    assert_eq!(job(&w), "stored | 0 | null | 0");
    assert_eq!(
        w.one("SELECT cid, format, content_type, bitrate_kbps, size, waveform FROM renditions"),
        format!("{BLOB} | mp3 | audio/mpeg | 192 | 48000 | [0,128,255]")
    );

    // A new version of the track with the same blob needs nothing more.
    w.given(&[track_with_blob(&mut r, RKEY, "3kaaaaaaaaad2", BLOB)]);
    w.project(100);
    assert_eq!(job(&w), "stored | 0 | null | 0");

    let incremental = dump_views(&w.dir.path().join(VIEWS_FILE));
    let out = tempfile::tempdir().unwrap();
    rebuild(w.dir.path(), &out.path().join(VIEWS_FILE), None, &Catalog::builtin()).unwrap();
    assert_eq!(dump_views(&out.path().join(VIEWS_FILE)), incremental, "the log alone rebuilds media state");
}

#[test]
fn a_media_event_that_is_not_understood_is_audited_not_applied() {
    let mut w = World::new();
    let event = NewEvent {
        envelope: Envelope::media(DID, BLOB),
        frame: br#"{"cid": 7}"#.to_vec(),
        source_cursor: Some(1),
        received_at_us: 1,
    };
    w.log.append("media", &[event], None).unwrap();
    w.project(100);
    assert_eq!(w.rows("SELECT * FROM media_jobs").len(), 0);
    let audit = w.one("SELECT kind, validation, outcome, reason FROM audit");
    assert_eq!(audit, "media | invalid | ignored | invalid");
}
