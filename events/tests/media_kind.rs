//! The `media` kind: media job events appended by reprise itself, beside ingest, by more than one writer.

use reprise_events::{CURRENT_EVENT_VERSION, Envelope, EventKind, EventLog, NewEvent};

const CID: &str = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";

fn media(at_us: i64, state: &str) -> NewEvent {
    NewEvent {
        envelope: Envelope::media("did:plc:a", CID),
        frame: format!(r#"{{"cid":"{CID}","state":{{"state":"{state}"}},"atUs":{at_us}}}"#).into_bytes(),
        source_cursor: Some(at_us),
        received_at_us: at_us,
    }
}

#[test]
fn repeated_job_states_are_kept_and_only_exact_replays_are_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = EventLog::open(dir.path()).unwrap();
    let out = log.append("media", &[media(1, "requested"), media(2, "requested")], None).unwrap();
    assert_eq!((out.appended, out.duplicates), (2, 0), "a second request of the same blob is a new event");
    let again = log.append("media", &[media(2, "requested")], None).unwrap();
    assert_eq!((again.appended, again.duplicates), (0, 1), "the same append retried is dropped");

    let rows = log.reader().unwrap().read_after(0, 10).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].envelope.kind(), EventKind::Media);
    assert_eq!(rows[0].envelope.did.as_deref(), Some("did:plc:a"));
    assert_eq!(rows[0].envelope.cid.as_deref(), Some(CID));
    assert_eq!(rows[0].schema_version, CURRENT_EVENT_VERSION);
    assert_eq!(CURRENT_EVENT_VERSION, 3);
}

#[test]
fn two_writers_on_one_file_both_land_every_event() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut log = EventLog::open(&path).unwrap();
                for i in 0..200 {
                    let at = 1_000_000 * (w + 1) + i;
                    log.append("media", &[media(at, "fetched")], None).expect("append beside another writer");
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let log = EventLog::open(&path).unwrap();
    assert_eq!(log.head(), 400);
}
