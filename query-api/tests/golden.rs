//! The exact bytes of every endpoint's responses, pinned in `tests/golden/`: how views are built may
//! change (for speed), what clients receive may not. The world has every optional field set on one
//! track and none on another, escapes and non-ASCII text, a null inside record JSON, a rendition
//! without loudness, duplicate likes, hidden accounts' likes, comments and plays, plays matching by
//! URI, rkey and name, lists with a missing item, and a status playing now. Every endpoint in the spec
//! table has a case here, and every file in `tests/golden/` a case (a test checks both).
//!
//! `REPRISE_UPDATE_GOLDEN=1 cargo test -p reprise-query-api --test golden` rewrites the files, for a
//! change that means to alter responses.

mod support;

use reprise_events::media::MediaEvent;
use reprise_testkit::records::{self, track_uri};
use reprise_testkit::{FrameBuilder, account, identity};
use serde_json::{Value, json};
use support::Fixture;

const ARTIST: &str = "did:plc:artistaaaaaaaaaaaaaaaaaa";
const FAN: &str = "did:plc:fanbbbbbbbbbbbbbbbbbbbbbb";
const FAN2: &str = "did:plc:fanccccccccccccccccccccc";
const HIDDEN: &str = "did:plc:hiddendddddddddddddddddd";
const RICH: &str = "3kaaaaaaaaaa2";
const PLAIN: &str = "3kbbbbbbbbbb2";
const RICH_BLOB: &str = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
const PLAIN_BLOB: &str = "bafkreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

fn blob(cid: &str) -> Value {
    json!({"$type": "blob", "ref": {"$link": cid}, "mimeType": "audio/wav", "size": 1000})
}

fn world() -> Fixture {
    let mut f = Fixture::new();
    let (mut a, mut fan, mut fan2, mut hidden) = (
        FrameBuilder::new(ARTIST),
        FrameBuilder::new(FAN),
        FrameBuilder::new(FAN2),
        FrameBuilder::new(HIDDEN),
    );
    let rich_uri = track_uri(ARTIST, RICH);
    let plain_uri = track_uri(ARTIST, PLAIN);
    let rich = json!({"$type": "fm.plyr.track", "title": "Café \"Nuit\" — 夜", "artist": "Test Artist",
        "fileType": "flac", "createdAt": "2026-03-01T10:00:00.000Z", "album": "Tests & <Trials>",
        "duration": 321, "audioUrl": "https://audio.example/rich.flac", "audioBlob": blob(RICH_BLOB),
        "imageUrl": "https://img.example/rich.jpg",
        "description": "line one\nline two\ttabbed \\ backslash \u{1} control",
        "features": [{"did": FAN, "handle": "fan.example.com", "displayName": "Fan"}, {"did": FAN2, "note": null}],
        "labels": {"$type": "com.atproto.label.defs#selfLabels", "values": [{"val": "explicit"}]}});
    let plain = json!({"$type": "fm.plyr.track", "title": "plain", "artist": "Test Artist", "fileType": "wav",
        "createdAt": "2026-03-02T10:00:00Z", "audioBlob": blob(PLAIN_BLOB)});
    let like = |b: &mut FrameBuilder, rkey: &str, rev: &str, uri: &str, at: &str| {
        b.put("create", "fm.plyr.like", rkey, rev, records::like(uri, at))
    };
    let play = |b: &mut FrameBuilder, rkey: &str, rev: &str, v: Value| {
        b.put("create", "fm.teal.feed.play", rkey, rev, v)
    };
    f.add(&[
        identity(ARTIST, 1, Some("artist.example.com")),
        identity(FAN, 2, Some("fan.example.com")),
        a.put("create", "fm.plyr.track", RICH, "3kaaaaaaaaab2", rich),
        a.put("create", "fm.plyr.track", PLAIN, "3kaaaaaaaaac2", plain),
        a.put(
            "update",
            "fm.plyr.actor.profile",
            "self",
            "3kaaaaaaaaad2",
            records::profile("a \"small\" room"),
        ),
        like(&mut fan, "3kfanlikeaaa2", "3kfanaaaaaab2", &rich_uri, "2026-03-03T00:00:00Z"),
        like(&mut fan, "3kfanlikebbb2", "3kfanaaaaaac2", &rich_uri, "2026-03-04T00:00:00Z"),
        like(&mut fan2, "3kfanlikeccc2", "3kfanaaaaaad2", &rich_uri, "2026-03-05T00:00:00Z"),
        like(&mut fan2, "3kfanlikeddd2", "3kfanaaaaaae2", &plain_uri, "2026-03-05T00:00:00Z"),
        like(&mut hidden, "3khidlikeaaa2", "3khidaaaaaab2", &rich_uri, "2026-03-05T00:00:00Z"),
        fan.put(
            "create",
            "fm.plyr.comment",
            "3kfancommaaa2",
            "3kfanaaaaaaf2",
            records::comment(&rich_uri, "the bridge!", 60_000, "2026-03-03T00:00:00Z"),
        ),
        hidden.put(
            "create",
            "fm.plyr.comment",
            "3khidcommaaa2",
            "3khidaaaaaac2",
            records::comment(&rich_uri, "spam", 1_000, "2026-03-03T00:00:00Z"),
        ),
        // By URI and by name at once (counted once), by rkey, by name; and a hidden player's.
        play(
            &mut fan,
            "3kfanplayaaa2",
            "3kfanaaaaaag2",
            records::play("café \"nuit\" — 夜", "test artist", Some(&rich_uri), "2026-03-06T00:00:00Z"),
        ),
        play(
            &mut fan,
            "3kfanplaybbb2",
            "3kfanaaaaaah2",
            records::play("x", "y", Some(&format!("https://plyr.fm/track/{RICH}")), "2026-03-06T01:00:00Z"),
        ),
        play(
            &mut fan2,
            "3kfanplayccc2",
            "3kfanaaaaaai2",
            records::play("Plain", "Test Artist", None, "2026-03-06T02:00:00Z"),
        ),
        play(
            &mut hidden,
            "3khidplayaaa2",
            "3khidaaaaaad2",
            records::play("x", "y", Some(&rich_uri), "2026-03-06T03:00:00Z"),
        ),
        account(HIDDEN, 3, false, Some("takendown")),
    ]);
    let loud = json!({"format": "mp3", "contentType": "audio/mpeg", "bitrateKbps": 192, "size": 48000,
        "durationSecs": 2.0004, "loudnessLufs": -9.46, "waveform": {"peaks": [0, 128, 255]},
        "original": {"container": "wav", "codec": "pcm_s16le"}});
    let mut silent = loud.clone();
    silent["loudnessLufs"] = Value::Null;
    silent["durationSecs"] = json!(1.5);
    media(&mut f, RICH_BLOB, &rich_uri, loud);
    media(&mut f, PLAIN_BLOB, &plain_uri, silent);
    // Last, and by fans only, so the views above (an artist's last sighting, counts) stay as they were.
    let missing = track_uri(ARTIST, "3kgoneaaaaaa2");
    f.add(&[
        fan.put(
            "create",
            "fm.plyr.list",
            "3kfanlistaaa2",
            "3kfanaaaaaaj2",
            records::list("mix", "playlist", &[&plain_uri, &missing, &rich_uri], "2026-03-07T00:00:00Z"),
        ),
        fan.put(
            "create",
            "fm.plyr.list",
            "3kfanlistbbb2",
            "3kfanaaaaaak2",
            records::list("Café \"best\"", "album", &[&rich_uri], "2026-03-08T00:00:00Z"),
        ),
        fan.put(
            "update",
            "fm.teal.actor.status",
            "self",
            "3kfanaaaaaal2",
            records::status("Café \"Nuit\" — 夜", "2026-03-09T00:00:00Z", "2999-01-01T00:00:00Z"),
        ),
    ]);
    f
}

fn media(f: &mut Fixture, cid: &str, uri: &str, rendition: Value) {
    let state = json!({"state": "stored", "rendition": rendition});
    let at = f.log.head() + 1;
    let event =
        MediaEvent::new(cid, ARTIST, serde_json::from_value(state).unwrap(), at).with_uri(Some(uri.into()));
    f.log.append("media", &[event.to_log_event()], None).unwrap();
    f.project();
}

/// Compares the body of `url` with `tests/golden/<name>.json` byte for byte, after setting each
/// integer member named in `clock` to 0 (they count seconds up to now).
async fn check(state: &reprise_query_api::AppState, name: &str, url: &str, clock: &[&str]) {
    let (status, body) = support::call_raw(state, url).await;
    assert_eq!(status, 200, "{url}: {}", String::from_utf8_lossy(&body));
    let body = clock.iter().fold(body, |b, member| zero(&b, member));
    let path = golden_dir().join(format!("{name}.json"));
    if std::env::var_os("REPRISE_UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &body).unwrap();
        return;
    }
    let expected = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        body == expected,
        "{url} changed:\n  got      {}\n  expected {}",
        String::from_utf8_lossy(&body),
        String::from_utf8_lossy(&expected)
    );
}

fn golden_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// `body` with the digits of `"member":<digits>` replaced by `0`.
fn zero(body: &[u8], member: &str) -> Vec<u8> {
    let text = String::from_utf8(body.to_vec()).unwrap();
    let key = format!("\"{member}\":");
    let start = text.find(&key).unwrap_or_else(|| panic!("no {member} in {text}")) + key.len();
    let end = start + text[start..].find(|c: char| !c.is_ascii_digit()).unwrap();
    assert!(end > start, "{member} is not a whole number in {text}");
    format!("{}0{}", &text[..start], &text[end..]).into_bytes()
}

/// Every case: the golden file's name, the request, and members that depend on the clock.
fn cases() -> Vec<(&'static str, String, &'static [&'static str])> {
    let (rich, plain) = (track_uri(ARTIST, RICH), track_uri(ARTIST, PLAIN));
    let list = format!("at://{FAN}/fm.plyr.list/3kfanlistaaa2");
    let x = "/xrpc/fm.reprise";
    vec![
        ("getTrack-rich", format!("{x}.getTrack?uri={rich}"), &[]),
        ("getTrack-plain", format!("{x}.getTrack?uri={plain}"), &[]),
        ("getTracks", format!("{x}.getTracks"), &[]),
        ("getTracks-page", format!("{x}.getTracks?limit=1"), &[]),
        ("getTracks-top", format!("{x}.getTracks?sort=top&limit=1"), &[]),
        ("searchTracks", format!("{x}.searchTracks?q=nuit"), &[]),
        ("getActorLikes", format!("{x}.getActorLikes?actor={FAN2}"), &[]),
        ("getArtist", format!("{x}.getArtist?actor=artist.example.com"), &[]),
        ("getLikes", format!("{x}.getLikes?uri={rich}"), &[]),
        ("getComments", format!("{x}.getComments?uri={rich}"), &[]),
        ("getLists", format!("{x}.getLists?actor=fan.example.com"), &[]),
        ("getLists-page", format!("{x}.getLists?actor={FAN}&limit=1"), &[]),
        ("getLists-playlist", format!("{x}.getLists?actor={FAN}&listType=playlist"), &[]),
        ("getList", format!("{x}.getList?uri={list}"), &[]),
        ("getPlays-actor", format!("{x}.getPlays?actor={FAN}"), &[]),
        ("getPlays-track", format!("{x}.getPlays?track={rich}&limit=1"), &[]),
        ("getNowPlaying", format!("{x}.getNowPlaying?actor=fan.example.com"), &[]),
        ("getStats", format!("{x}.getStats"), &["ingestLagSeconds"]),
        ("getActivity", format!("{x}.getActivity?limit=5"), &[]),
        ("getRecordHistory", format!("{x}.getRecordHistory?uri={rich}"), &[]),
        ("getActorHistory", format!("{x}.getActorHistory?actor={HIDDEN}"), &[]),
    ]
}

#[tokio::test]
async fn views_are_byte_for_byte_what_they_were() {
    let f = world();
    let s = f.state();
    for (name, url, clock) in cases() {
        check(&s, name, &url, clock).await;
    }
}

/// Adding an endpoint without its golden file, or leaving a file no case reads, fails here.
#[test]
fn every_endpoint_has_a_golden_case_and_every_golden_file_a_case() {
    let cases = cases();
    for e in reprise_query_api::spec::ENDPOINTS {
        let path = e.path();
        assert!(
            cases.iter().any(|(_, url, _)| url.split('?').next() == Some(path.as_str())),
            "{} has no golden case",
            e.nsid
        );
    }
    for file in std::fs::read_dir(golden_dir()).unwrap() {
        let name = file.unwrap().file_name().into_string().unwrap();
        let stem = name.strip_suffix(".json").unwrap_or_else(|| panic!("{name} is not a golden file"));
        assert!(cases.iter().any(|(n, _, _)| *n == stem), "no case reads tests/golden/{name}");
    }
}
