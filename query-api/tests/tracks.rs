//! getTracks / getTrack against read models built by the real projector from a real log.

mod support;

use axum::http::StatusCode;
use reprise_testkit::FrameBuilder;
use serde_json::json;
use support::{Fixture, all_pages, call};

const ALICE: &str = "did:plc:aliceaaaaaaaaaaaaaaaaaaa";
const BOB: &str = "did:plc:bobbbbbbbbbbbbbbbbbbbbbb";

/// `count` tracks by `who` with createdAt one minute apart, some sharing a timestamp.
fn tracks(f: &mut Fixture, who: &str, count: usize, same_time_every: usize) {
    tracks_from(f, who, count, same_time_every, 0)
}

fn tracks_from(f: &mut Fixture, who: &str, count: usize, same_time_every: usize, start_minute: usize) {
    let mut r = FrameBuilder::new(who);
    let frames: Vec<String> = (0..count)
        .map(|i| {
            let minute = start_minute + i.checked_div(same_time_every).unwrap_or(i);
            let created = format!("2026-03-01T{:02}:{:02}:00Z", minute / 60, minute % 60);
            let rkey = format!("3k{:011}", i)
                .replace('0', "a")
                .replace('1', "b")
                .replace('2', "c")
                .replace('3', "d")
                .replace('4', "e")
                .replace('5', "f")
                .replace('6', "g")
                .replace('7', "h")
                .replace('8', "i")
                .replace('9', "j");
            r.track("create", &rkey, &format!("3l{}", &rkey[2..]), &format!("track {i}"), &created)
        })
        .collect();
    f.add(&frames);
}

#[tokio::test]
async fn pages_cover_every_track_once_in_order_even_with_equal_timestamps() {
    let mut f = Fixture::new();
    tracks(&mut f, ALICE, 23, 4);
    let state = f.state();
    let uris = all_pages(&state, "/xrpc/fm.reprise.getTracks?limit=5").await;
    assert_eq!(uris.len(), 23);
    let mut dedup = uris.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), 23, "no duplicates across pages");
    let (_, one_page) = call(&state, "/xrpc/fm.reprise.getTracks?limit=100").await;
    let expected: Vec<&str> =
        one_page["tracks"].as_array().unwrap().iter().map(|t| t["uri"].as_str().unwrap()).collect();
    assert_eq!(uris, expected, "pages concatenate to the single-page order");
    assert!(one_page.get("cursor").is_none(), "no cursor on the last page");
}

#[tokio::test]
async fn new_tracks_arriving_between_pages_cause_no_gaps_or_duplicates() {
    let mut f = Fixture::new();
    tracks(&mut f, ALICE, 10, 0);
    let state = f.state();
    let (_, first) = call(&state, "/xrpc/fm.reprise.getTracks?limit=4").await;
    let cursor = first["cursor"].as_str().unwrap().to_owned();
    tracks_from(&mut f, BOB, 5, 0, 600); // newer tracks land on top of the feed
    let rest = all_pages(&state, &format!("/xrpc/fm.reprise.getTracks?limit=4&cursor={cursor}")).await;
    let mut seen: Vec<String> =
        first["tracks"].as_array().unwrap().iter().map(|t| t["uri"].as_str().unwrap().to_owned()).collect();
    seen.extend(rest);
    assert_eq!(seen.len(), 10);
    assert!(seen.iter().all(|u| u.contains(ALICE)));
}

#[tokio::test]
async fn the_artist_filter_and_the_track_view() {
    let mut f = Fixture::new();
    tracks(&mut f, ALICE, 3, 0);
    tracks(&mut f, BOB, 2, 0);
    let state = f.state();
    let bobs = all_pages(&state, &format!("/xrpc/fm.reprise.getTracks?artist={BOB}&limit=1")).await;
    assert_eq!(bobs.len(), 2);
    assert!(bobs.iter().all(|u| u.starts_with(&format!("at://{BOB}/"))));

    let (status, body) = call(&state, &format!("/xrpc/fm.reprise.getTrack?uri={}", bobs[0])).await;
    assert_eq!(status, StatusCode::OK);
    let t = &body["track"];
    for key in [
        "uri",
        "cid",
        "did",
        "rkey",
        "title",
        "artist",
        "album",
        "duration",
        "fileType",
        "audioUrl",
        "features",
        "createdAt",
        "indexedAt",
    ] {
        assert!(t.get(key).is_some(), "trackView lacks {key}: {t}");
    }
    assert_eq!(t["did"], BOB);
    assert_eq!(t["artist"]["did"], BOB);
    assert_eq!(t["artistName"], "Test Artist");
    assert_eq!(t["features"], json!([]));
    assert!(t["indexedAt"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn bad_parameters_are_400_and_missing_things_are_404() {
    let mut f = Fixture::new();
    tracks(&mut f, ALICE, 2, 0);
    let state = f.state();
    for url in [
        "/xrpc/fm.reprise.getTracks?limit=0",
        "/xrpc/fm.reprise.getTracks?limit=101",
        "/xrpc/fm.reprise.getTracks?limit=abc",
        "/xrpc/fm.reprise.getTracks?cursor=%%%",
        "/xrpc/fm.reprise.getTracks?cursor=bm9wZQ",
        "/xrpc/fm.reprise.getTracks?artist=alice",
        "/xrpc/fm.reprise.getTrack",
        "/xrpc/fm.reprise.getTrack?uri=https://plyr.fm/track/1",
        "/xrpc/fm.reprise.getTrack?uri=at://did:plc:x/fm.plyr.like/3k",
    ] {
        let (status, body) = call(&state, url).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {body}");
        assert_eq!(body["error"], "InvalidRequest", "{url}");
        assert!(!body["message"].as_str().unwrap().is_empty());
    }
    let (status, body) =
        call(&state, "/xrpc/fm.reprise.getTrack?uri=at://did:plc:nobody/fm.plyr.track/3kzzzzzzzzzz2").await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::NOT_FOUND, Some("NotFound")));
    let (status, body) = call(&state, "/xrpc/fm.reprise.noSuchMethod").await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::NOT_FOUND, Some("NotFound")));
    // Unknown parameters are ignored, per XRPC.
    assert_eq!(call(&state, "/xrpc/fm.reprise.getTracks?whatever=1").await.0, StatusCode::OK);
}
