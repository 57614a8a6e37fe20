//! The media event body: what the writers encode is what the fold decodes, bodies stored by earlier builds
//! still decode (the fixture holds them byte for byte as the old code wrote them), and a body that is
//! malformed or from a newer build is refused with the reason.

use reprise_events::media::{
    JobState, MEDIA_EVENT_VERSION, MediaEvent, MediaEventError, Probe, RenditionInfo, Waveform,
};
use reprise_events::{EventKind, EventLog};

const CID: &str = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
const DID: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
const URI: &str = "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/fm.plyr.track/3lkwzq2bqcs2a";

fn rendition() -> RenditionInfo {
    RenditionInfo {
        format: "mp3".into(),
        content_type: "audio/mpeg".into(),
        bitrate_kbps: 192,
        size: 72_413,
        duration_secs: Some(3.0),
        loudness_lufs: Some(-14.25),
        waveform: Waveform { peaks: vec![0, 12, 255, 128] },
        original: Probe {
            container: "wav".into(),
            codec: "pcm_s16le".into(),
            duration_secs: Some(3.0),
            sample_rate: Some(44_100),
            channels: Some(2),
            bitrate_kbps: Some(1411),
        },
    }
}

/// Every state, in the order the fixture's first eight lines hold them.
fn states() -> Vec<JobState> {
    vec![
        JobState::Requested,
        JobState::Fetched { size: 482_344 },
        JobState::Transcoded { duration_secs: Some(3.0), loudness_lufs: Some(-14.25) },
        JobState::Transcoded { duration_secs: None, loudness_lufs: None },
        JobState::Stored { rendition: Box::new(rendition()) },
        JobState::Failed { reason: "fetch: pds answered 502".into(), attempt: 1, will_retry: true },
        JobState::RetryScheduled { at_unix_ms: 1_767_225_600_000, attempt: 2 },
        JobState::Failed {
            reason: "fetch: blob bytes hash to bafkreia, not to its cid bafkreib".into(),
            attempt: 2,
            will_retry: false,
        },
    ]
}

#[test]
fn every_state_round_trips_through_the_stored_body() {
    for (i, state) in states().into_iter().enumerate() {
        assert_eq!(
            serde_json::to_value(&state).unwrap()["state"],
            state.name(),
            "the name is the stored tag"
        );
        for event in [
            MediaEvent::new(CID, DID, state.clone(), 1_000 + i as i64),
            MediaEvent::new(CID, DID, state.clone(), 7).with_uri(Some(URI.into())).manual(),
        ] {
            let body = event.encode();
            assert_eq!(MediaEvent::decode(&body), Ok(event.clone()), "{}", String::from_utf8_lossy(&body));
        }
    }
}

#[test]
fn new_bodies_state_their_version_and_omit_what_is_absent() {
    let body = MediaEvent::new(CID, DID, JobState::Requested, 5).encode();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"v": MEDIA_EVENT_VERSION, "cid": CID, "did": DID, "state": {"state": "requested"}, "atUs": 5})
    );
}

/// The bodies the worker and `media retry` wrote before this type existed (keys sorted, no `v`).
#[test]
fn bodies_stored_by_earlier_builds_still_decode() {
    let fixture = include_str!("fixtures/media-bodies-v1.jsonl");
    let decoded: Vec<MediaEvent> = fixture
        .lines()
        .map(|l| MediaEvent::decode(l.as_bytes()).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    assert_eq!(decoded.len(), 9);
    for (i, (event, state)) in decoded.iter().zip(states()).enumerate() {
        let uri = (i != 3).then(|| URI.to_owned());
        let expected = MediaEvent::new(CID, DID, state, 1_767_225_600_000_000 + i as i64).with_uri(uri);
        assert_eq!(event, &expected, "line {}", i + 1);
    }
    let retry = MediaEvent::new(CID, DID, JobState::Requested, 1_767_225_700_000_000)
        .with_uri(Some(URI.into()))
        .manual();
    assert_eq!(decoded[8], retry);
    // Re-encoding an old body gives the current shape of the same event.
    for event in &decoded {
        assert_eq!(MediaEvent::decode(&event.encode()).as_ref(), Ok(event));
    }
}

#[test]
fn a_rendition_with_a_partial_probe_decodes() {
    let body = format!(
        r#"{{"cid":"{CID}","did":"{DID}","atUs":1,"state":{{"state":"stored","rendition":{{"format":"mp3",
        "contentType":"audio/mpeg","bitrateKbps":192,"size":48000,"durationSecs":2.0,"loudnessLufs":null,
        "waveform":{{"peaks":[0,128,255]}},"original":{{"container":"wav","codec":"pcm_s16le"}}}}}}}}"#
    );
    let JobState::Stored { rendition } = MediaEvent::decode(body.as_bytes()).unwrap().state else {
        panic!("not stored")
    };
    assert_eq!((rendition.original.sample_rate, rendition.loudness_lufs), (None, None));
}

#[test]
fn malformed_and_newer_bodies_are_refused_with_the_reason() {
    let ok = format!(r#""cid":"{CID}","did":"{DID}","atUs":1"#);
    let cases: Vec<(String, &str)> = vec![
        ("not json".into(), "expected ident"),
        (r#"{"cid": 7}"#.into(), "invalid type: integer `7`, expected a string"),
        (format!(r#"{{"cid":"{CID}","atUs":1,"state":{{"state":"requested"}}}}"#), "missing field `did`"),
        (format!(r#"{{{ok}}}"#), "missing field `state`"),
        (format!(r#"{{{ok},"state":{{"state":"exploded"}}}}"#), "unknown variant `exploded`"),
        (format!(r#"{{{ok},"state":{{"state":"fetched","size":-1}}}}"#), "invalid value: integer `-1`"),
        (
            format!(r#"{{{ok},"state":{{"state":"failed","reason":"x","attempt":1}}}}"#),
            "missing field `will_retry`",
        ),
        (
            format!(r#"{{{ok},"state":{{"state":"retry_scheduled","at_unix_ms":1e99,"attempt":1}}}}"#),
            "invalid type: floating point",
        ),
        (format!(r#"{{"v":0,{ok},"state":{{"state":"requested"}}}}"#), "unknown version 0"),
        (
            format!(r#"{{"v":2,{ok},"state":{{"state":"requested"}}}}"#),
            "version 2 is newer than this build reads (1)",
        ),
        (r#"{"v":3,"job":{"shape":"unknown"}}"#.to_owned(), "version 3 is newer than this build reads (1)"),
        (format!(r#"{{"v":-1,{ok},"state":{{"state":"requested"}}}}"#), "invalid value: integer `-1`"),
    ];
    for (body, expected) in cases {
        let err = MediaEvent::decode(body.as_bytes()).expect_err(&body);
        assert!(err.to_string().contains(expected), "{body}: {err}");
    }
    let newer = MediaEvent::decode(br#"{"v":9}"#).expect_err("newer");
    assert_eq!(newer, MediaEventError::TooNew { found: 9, supported: MEDIA_EVENT_VERSION });
}

#[test]
fn a_media_event_lands_in_the_log_as_its_kind() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = EventLog::open(dir.path()).unwrap();
    let event = MediaEvent::new(CID, DID, JobState::Fetched { size: 3 }, 42).with_uri(Some(URI.into()));
    log.append("media", &[event.to_log_event()], None).unwrap();
    let row = log.reader().unwrap().read_after(0, 1).unwrap().remove(0);
    assert_eq!(row.envelope.kind(), EventKind::Media);
    assert_eq!((row.envelope.did.as_deref(), row.envelope.cid.as_deref()), (Some(DID), Some(CID)));
    assert_eq!((row.source_cursor, row.received_at_us), (Some(42), 42));
    assert_eq!(MediaEvent::decode(&row.frame), Ok(event));
}
