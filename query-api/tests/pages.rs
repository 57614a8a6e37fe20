//! Every paginated endpoint, paged while new events keep arriving between pages: every item that
//! existed when paging began is seen exactly once (no gaps, no duplicates). Plus what the list
//! endpoints answer for unknown subjects, and the response cache never outliving a projector commit.

mod support;

use std::collections::HashSet;

use axum::http::StatusCode;
use reprise_testkit::records::{self, track_uri};
use reprise_testkit::{FrameBuilder, identity, tid};
use serde_json::Value;
use support::{Fixture, call, collect};

const ARTIST: &str = "did:plc:artistaaaaaaaaaaaaaaaaaa";
const FAN: &str = "did:plc:fanbbbbbbbbbbbbbbbbbbbbbb";

/// Unique, increasing record keys and revs.
struct Keys(u64);

impl Keys {
    fn next(&mut self) -> String {
        self.0 += 1_000;
        tid(self.0, 0)
    }
}

fn time(i: u64) -> String {
    format!("2026-03-01T{:02}:{:02}:{:02}Z", i / 3600, i / 60 % 60, i % 60)
}

/// `round` adds, for each endpoint, `n` more items: tracks (with updates of the first), the fan's
/// likes of them, likes and comments from new likers on the first track, the fan's lists and plays.
fn round(f: &mut Fixture, keys: &mut Keys, round: u64, n: u64) {
    let mut artist = FrameBuilder::new(ARTIST);
    let mut fan = FrameBuilder::new(FAN);
    let first = track_uri(ARTIST, "3kaaaaaaaaaa2");
    let mut frames = Vec::new();
    if round == 0 {
        frames.push(identity(ARTIST, 1, Some("artist.example.com")));
        frames.push(identity(FAN, 2, Some("fan.example.com")));
        frames.push(artist.track("create", "3kaaaaaaaaaa2", &keys.next(), "first", &time(0)));
    }
    for i in 0..n {
        let at = time(round * 1000 + i + 1);
        let rkey = keys.next();
        frames.push(artist.track("create", &rkey, &keys.next(), &format!("song {round} {i}"), &at));
        frames.push(artist.track(
            "update",
            "3kaaaaaaaaaa2",
            &keys.next(),
            &format!("first v{round}.{i}"),
            &time(0),
        ));
        let track = track_uri(ARTIST, &rkey);
        frames.push(fan.put(
            "create",
            "fm.plyr.like",
            &keys.next(),
            &keys.next(),
            records::like(&track, &at),
        ));
        frames.push(fan.put(
            "create",
            "fm.plyr.list",
            &keys.next(),
            &keys.next(),
            records::list("mix", "playlist", &[&track], &at),
        ));
        frames.push(fan.put(
            "create",
            "fm.teal.feed.play",
            &keys.next(),
            &keys.next(),
            records::play("song", "x", Some(&track), &at),
        ));
        let liker = format!("did:plc:liker{round:03}{i:016}");
        let mut l = FrameBuilder::new(&liker);
        frames.push(l.put("create", "fm.plyr.like", &keys.next(), &keys.next(), records::like(&first, &at)));
        // Playback positions interleave with the earlier rounds', so new comments land mid-list.
        let position = ((i * 7 + round * 3) % 11) as i64 * 1000;
        frames.push(l.put(
            "create",
            "fm.plyr.comment",
            &keys.next(),
            &keys.next(),
            records::comment(&first, "nice", position, &at),
        ));
    }
    f.add(&frames);
}

/// An item's identity: a history entry's seq (entries share their record's uri), else its uri.
fn id(item: &Value) -> String {
    match item.get("seq") {
        Some(seq) => seq.to_string(),
        None => item["uri"].as_str().unwrap().to_owned(),
    }
}

/// Pages through `base` two items at a time, adding a round of events after the first page and
/// again after the second; checks that everything present at the start was seen exactly once.
async fn page_while_events_arrive(base: &str, key: &str) {
    let mut f = Fixture::new();
    let mut keys = Keys(1_767_225_600_000_000);
    round(&mut f, &mut keys, 0, 6);
    let state = f.state();
    let before: Vec<String> =
        collect(&state, &format!("{base}&limit=100"), key).await.iter().map(id).collect();
    assert!(before.len() >= 6, "{base}: {before:?}");

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for page in 0.. {
        let url = match &cursor {
            Some(c) => format!("{base}&limit=2&cursor={c}"),
            None => format!("{base}&limit=2"),
        };
        let (status, body) = call(&state, &url).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
        seen.extend(body[key].as_array().unwrap().iter().map(id));
        if page < 2 {
            round(&mut f, &mut keys, page + 1, 3);
        }
        match body.get("cursor") {
            Some(c) => cursor = Some(c.as_str().unwrap().to_owned()),
            None => break,
        }
    }
    let mut unique = HashSet::new();
    let dups: Vec<&String> = seen.iter().filter(|s| !unique.insert(*s)).collect();
    assert!(dups.is_empty(), "{base}: duplicates across pages: {dups:?}");
    let gaps: Vec<&String> = before.iter().filter(|b| !unique.contains(b)).collect();
    assert!(gaps.is_empty(), "{base}: items present before paging began were skipped: {gaps:?}");
}

#[tokio::test]
async fn get_tracks_newest_and_by_artist() {
    page_while_events_arrive("/xrpc/fm.reprise.getTracks?sort=newest", "tracks").await;
    page_while_events_arrive(&format!("/xrpc/fm.reprise.getTracks?artist={ARTIST}"), "tracks").await;
}

#[tokio::test]
async fn get_likes() {
    let uri = track_uri(ARTIST, "3kaaaaaaaaaa2");
    page_while_events_arrive(&format!("/xrpc/fm.reprise.getLikes?uri={uri}"), "likes").await;
}

#[tokio::test]
async fn get_comments() {
    let uri = track_uri(ARTIST, "3kaaaaaaaaaa2");
    page_while_events_arrive(&format!("/xrpc/fm.reprise.getComments?uri={uri}"), "comments").await;
}

#[tokio::test]
async fn get_actor_likes_lists_and_plays() {
    page_while_events_arrive(&format!("/xrpc/fm.reprise.getActorLikes?actor={FAN}"), "tracks").await;
    page_while_events_arrive("/xrpc/fm.reprise.getLists?actor=fan.example.com", "lists").await;
    page_while_events_arrive(&format!("/xrpc/fm.reprise.getPlays?actor={FAN}"), "plays").await;
}

#[tokio::test]
async fn get_activity() {
    page_while_events_arrive("/xrpc/fm.reprise.getActivity?x=1", "events").await;
}

#[tokio::test]
async fn histories() {
    let uri = track_uri(ARTIST, "3kaaaaaaaaaa2");
    page_while_events_arrive(&format!("/xrpc/fm.reprise.getRecordHistory?uri={uri}"), "entries").await;
    page_while_events_arrive(&format!("/xrpc/fm.reprise.getActorHistory?actor={ARTIST}"), "entries").await;
}

#[tokio::test]
async fn unknown_subjects_of_list_endpoints() {
    let mut f = Fixture::new();
    round(&mut f, &mut Keys(1_767_225_600_000_000), 0, 1);
    let s = f.state();
    // A track reprise has not seen has no likes, comments or plays yet: an empty page, not an error.
    let unknown = track_uri("did:plc:nobody", "3kzzzzzzzzzz2");
    for (url, key) in [
        (format!("/xrpc/fm.reprise.getLikes?uri={unknown}"), "likes"),
        (format!("/xrpc/fm.reprise.getComments?uri={unknown}"), "comments"),
        (format!("/xrpc/fm.reprise.getPlays?track={unknown}"), "plays"),
        ("/xrpc/fm.reprise.searchTracks?q=zzzzqqqq".to_owned(), "tracks"),
        ("/xrpc/fm.reprise.getTracks?artist=did:plc:nobody".to_owned(), "tracks"),
    ] {
        let (status, body) = call(&s, &url).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
        assert_eq!(body[key], serde_json::json!([]), "{url}");
        assert!(body.get("cursor").is_none(), "{url}");
    }
    // An unknown handle cannot be resolved: 404 wherever an actor is named.
    for url in [
        "/xrpc/fm.reprise.getLists?actor=nobody.example.com",
        "/xrpc/fm.reprise.getPlays?actor=nobody.example.com",
        "/xrpc/fm.reprise.getNowPlaying?actor=nobody.example.com",
        "/xrpc/fm.reprise.getActorHistory?actor=nobody.example.com",
    ] {
        let (status, body) = call(&s, url).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::NOT_FOUND, Some("NotFound")), "{url}");
    }
}

#[tokio::test]
async fn a_cached_page_never_outlives_a_projector_commit() {
    let mut f = Fixture::new();
    let mut keys = Keys(1_767_225_600_000_000);
    round(&mut f, &mut keys, 0, 2);
    let s = f.state();
    let (_, first) = call(&s, "/xrpc/fm.reprise.getTracks?limit=100").await;
    let (_, again) = call(&s, "/xrpc/fm.reprise.getTracks?limit=100").await;
    assert_eq!(first, again);
    round(&mut f, &mut keys, 1, 1);
    let (_, after) = call(&s, "/xrpc/fm.reprise.getTracks?limit=100").await;
    let n = |v: &Value| v["tracks"].as_array().unwrap().len();
    assert_eq!(n(&after), n(&first) + 1, "the new track shows at once");
    let (_, stats) = call(&s, "/xrpc/fm.reprise.getStats").await;
    assert_eq!(stats["tracks"].as_u64(), Some(n(&after) as u64));
}
