//! Every endpoint against read models built by the real projector from a real log: success,
//! pagination, bad parameters, not-found, and what hidden accounts look like.

mod support;

use axum::http::StatusCode;
use reprise_testkit::records::{self, track_uri};
use reprise_testkit::{FrameBuilder, account, identity};
use serde_json::json;
use support::{Fixture, call, collect};

const ARTIST: &str = "did:plc:artistaaaaaaaaaaaaaaaaaa";
const FAN: &str = "did:plc:fanbbbbbbbbbbbbbbbbbbbbbb";
const FAN2: &str = "did:plc:fanccccccccccccccccccccc";
const T1: &str = "2026-03-01T10:00:00.000Z";
const TRACK: &str = "3kaaaaaaaaaa2";
const OTHER: &str = "3kbbbbbbbbbb2";

/// An artist with two tracks, a profile, a handle; two fans who like, comment, list and play.
fn world() -> Fixture {
    let mut f = Fixture::new();
    let (mut a, mut fan, mut fan2) =
        (FrameBuilder::new(ARTIST), FrameBuilder::new(FAN), FrameBuilder::new(FAN2));
    let uri = track_uri(ARTIST, TRACK);
    let other = track_uri(ARTIST, OTHER);
    let mut second = json!({"$type": "fm.plyr.track", "title": "Night Bus", "artist": "Test Artist", "fileType": "flac",
        "createdAt": "2026-03-02T10:00:00Z", "album": "Tests", "description": "a slow one about the city at night"});
    second["duration"] = json!(100);
    f.add(&[
        identity(ARTIST, 1, Some("artist.example.com")),
        identity(FAN, 2, Some("fan.example.com")),
        a.track("create", TRACK, "3kaaaaaaaaab2", "Late Bloom", T1),
        a.put("create", "fm.plyr.track", OTHER, "3kaaaaaaaaac2", second),
        a.put(
            "update",
            "fm.plyr.actor.profile",
            "self",
            "3kaaaaaaaaad2",
            records::profile("songs from a small room"),
        ),
        fan.put(
            "create",
            "fm.plyr.like",
            "3kfanlikeaaa2",
            "3kfanaaaaaab2",
            records::like(&uri, "2026-03-03T00:00:00Z"),
        ),
        fan.put(
            "create",
            "fm.plyr.like",
            "3kfanlikebbb2",
            "3kfanaaaaaac2",
            records::like(&uri, "2026-03-04T00:00:00Z"),
        ),
        fan2.put(
            "create",
            "fm.plyr.like",
            "3kfanlikeccc2",
            "3kfanaaaaaad2",
            records::like(&uri, "2026-03-05T00:00:00Z"),
        ),
        fan.put(
            "create",
            "fm.plyr.comment",
            "3kfancommaaa2",
            "3kfanaaaaaae2",
            records::comment(&uri, "the bridge!", 60_000, T1),
        ),
        fan2.put(
            "create",
            "fm.plyr.comment",
            "3kfancommbbb2",
            "3kfanaaaaaaf2",
            records::comment(&uri, "intro", 5_000, T1),
        ),
        fan.put(
            "create",
            "fm.plyr.list",
            "3kfanlistaaa2",
            "3kfanaaaaaag2",
            records::list("mix", "playlist", &[&other, &track_uri(ARTIST, "3kgoneaaaaaa2"), &uri], T1),
        ),
        fan.put(
            "create",
            "fm.teal.feed.play",
            "3kfanplayaaa2",
            "3kfanaaaaaah2",
            records::play("x", "y", Some(&uri), "2026-03-06T00:00:00Z"),
        ),
        fan.put(
            "create",
            "fm.teal.feed.play",
            "3kfanplaybbb2",
            "3kfanaaaaaai2",
            records::play("Late Bloom", "test artist", None, "2026-03-07T00:00:00Z"),
        ),
        fan.put(
            "update",
            "fm.teal.actor.status",
            "self",
            "3kfanaaaaaaj2",
            records::status("Late Bloom", T1, "2999-01-01T00:00:00Z"),
        ),
        fan2.put(
            "update",
            "fm.teal.actor.status",
            "self",
            "3kfanaaaaaak2",
            records::status("old", T1, "2020-01-01T00:00:00Z"),
        ),
    ]);
    f
}

#[tokio::test]
async fn track_page_in_one_response() {
    let f = world();
    let s = f.state();
    let (status, body) =
        call(&s, &format!("/xrpc/fm.reprise.getTrack?uri={}", track_uri(ARTIST, TRACK))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let t = &body["track"];
    assert_eq!(
        (t["likeCount"].as_i64(), t["commentCount"].as_i64(), t["playCount"].as_i64()),
        (Some(2), Some(2), Some(2))
    );
    assert_eq!(t["artist"]["handle"], "artist.example.com");
    assert_eq!(t["artist"]["avatar"], "https://cdn.example/avatar.jpg");
    assert_eq!(t["artist"]["status"], "active");
}

#[tokio::test]
async fn likes_comments_and_likers_pages() {
    let f = world();
    let s = f.state();
    let uri = track_uri(ARTIST, TRACK);
    let (_, likes) = call(&s, &format!("/xrpc/fm.reprise.getLikes?uri={uri}")).await;
    let likers: Vec<&str> =
        likes["likes"].as_array().unwrap().iter().map(|l| l["actor"]["did"].as_str().unwrap()).collect();
    assert_eq!(likers, [FAN2, FAN], "newest first, one per liker");
    assert_eq!(likes["likes"][1]["actor"]["handle"], "fan.example.com");
    let (_, page1) = call(&s, &format!("/xrpc/fm.reprise.getLikes?uri={uri}&limit=1")).await;
    let cursor = page1["cursor"].as_str().unwrap();
    let (_, page2) = call(&s, &format!("/xrpc/fm.reprise.getLikes?uri={uri}&limit=1&cursor={cursor}")).await;
    assert_eq!(page2["likes"][0]["actor"]["did"], FAN);
    assert!(page2.get("cursor").is_none());

    let (_, comments) = call(&s, &format!("/xrpc/fm.reprise.getComments?uri={uri}")).await;
    let texts: Vec<&str> =
        comments["comments"].as_array().unwrap().iter().map(|c| c["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["intro", "the bridge!"], "by playback position");
    let paged = collect(&s, &format!("/xrpc/fm.reprise.getComments?uri={uri}&limit=1"), "comments").await;
    assert_eq!(paged.iter().map(|c| c["text"].as_str().unwrap()).collect::<Vec<_>>(), texts);
    let activity = collect(&s, "/xrpc/fm.reprise.getActivity?limit=2", "events").await;
    let (_, one_page) = call(&s, "/xrpc/fm.reprise.getActivity?limit=100").await;
    assert_eq!(activity, one_page["events"].as_array().unwrap().clone(), "activity pages concatenate");
}

#[tokio::test]
async fn artist_lists_plays_now_playing_activity_and_stats() {
    let f = world();
    let s = f.state();
    let (_, a) = call(&s, "/xrpc/fm.reprise.getArtist?actor=artist.example.com").await;
    let a = &a["artist"];
    assert_eq!(
        (a["did"].as_str(), a["trackCount"].as_i64(), a["likeCount"].as_i64()),
        (Some(ARTIST), Some(2), Some(2))
    );
    assert_eq!(a["bio"], "songs from a small room");
    assert_eq!(a["displayName"], "Test Artist");

    let (_, liked) = call(&s, &format!("/xrpc/fm.reprise.getActorLikes?actor={FAN}")).await;
    assert_eq!(liked["tracks"].as_array().unwrap().len(), 1, "two like records, one track");

    let (_, lists) = call(&s, "/xrpc/fm.reprise.getLists?actor=fan.example.com&listType=playlist").await;
    let list_uri = lists["lists"][0]["uri"].as_str().unwrap().to_owned();
    assert_eq!(lists["lists"][0]["itemCount"], 3);
    let (_, none) = call(&s, "/xrpc/fm.reprise.getLists?actor=fan.example.com&listType=album").await;
    assert_eq!(none["lists"], json!([]));
    let (_, list) = call(&s, &format!("/xrpc/fm.reprise.getList?uri={list_uri}")).await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(
        items.iter().map(|i| i["missing"].as_bool().unwrap()).collect::<Vec<_>>(),
        [false, true, false]
    );
    assert_eq!(items[0]["track"]["title"], "Night Bus");
    assert!(items[1].get("track").is_none());

    let (_, plays) = call(&s, &format!("/xrpc/fm.reprise.getPlays?track={}", track_uri(ARTIST, TRACK))).await;
    assert_eq!(plays["plays"].as_array().unwrap().len(), 2);
    let (_, plays) = call(&s, &format!("/xrpc/fm.reprise.getPlays?actor={FAN}&limit=1")).await;
    assert!(plays["cursor"].is_string());

    let (_, np) = call(&s, &format!("/xrpc/fm.reprise.getNowPlaying?actor={FAN}")).await;
    assert_eq!(np["status"]["item"]["trackName"], "Late Bloom");
    let (_, expired) = call(&s, &format!("/xrpc/fm.reprise.getNowPlaying?actor={FAN2}")).await;
    assert_eq!(expired, json!({}));

    let (_, activity) = call(&s, "/xrpc/fm.reprise.getActivity?limit=100").await;
    let types: std::collections::BTreeSet<&str> =
        activity["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types.into_iter().collect::<Vec<_>>(), ["comment", "like", "list", "track"]);

    let (_, stats) = call(&s, "/xrpc/fm.reprise.getStats").await;
    assert_eq!(
        (
            stats["tracks"].as_i64(),
            stats["artists"].as_i64(),
            stats["likes"].as_i64(),
            stats["comments"].as_i64(),
            stats["plays"].as_i64()
        ),
        (Some(2), Some(1), Some(2), Some(2), Some(2))
    );
    assert_eq!(stats["totalDurationSeconds"], 300);
    assert_eq!(stats["events"], stats["projectedSeq"]);
}

#[tokio::test]
async fn search_ranks_title_matches_first() {
    let f = world();
    let s = f.state();
    let (_, r) = call(&s, "/xrpc/fm.reprise.searchTracks?q=night").await;
    assert_eq!(r["tracks"][0]["title"], "Night Bus");
    let (_, r) = call(&s, "/xrpc/fm.reprise.searchTracks?q=city").await;
    assert_eq!(r["tracks"].as_array().unwrap().len(), 1, "description is searched");
    let (_, r) = call(&s, "/xrpc/fm.reprise.searchTracks?q=tests&limit=1").await;
    let (_, next) = call(
        &s,
        &format!("/xrpc/fm.reprise.searchTracks?q=tests&limit=1&cursor={}", r["cursor"].as_str().unwrap()),
    )
    .await;
    assert_ne!(r["tracks"][0]["uri"], next["tracks"][0]["uri"]);
    let (status, _) = call(&s, "/xrpc/fm.reprise.searchTracks?q=%22%20OR%20*").await;
    assert_eq!(status, StatusCode::OK, "FTS syntax in the query is just text");
}

#[tokio::test]
async fn top_tracks_by_likes() {
    let f = world();
    let s = f.state();
    let (_, top) = call(&s, "/xrpc/fm.reprise.getTracks?sort=top&period=all").await;
    let titles: Vec<&str> =
        top["tracks"].as_array().unwrap().iter().map(|t| t["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Late Bloom", "Night Bus"]);
    let (_, album) = call(&s, "/xrpc/fm.reprise.getTracks?album=Tests").await;
    assert_eq!(album["tracks"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn hidden_accounts_vanish_from_feeds_search_and_counts_but_not_from_history() {
    let mut f = world();
    f.add(&[account(FAN2, 50, false, Some("takendown")), account(ARTIST, 51, false, Some("suspended"))]);
    let s = f.state();
    let uri = track_uri(ARTIST, TRACK);
    let (status, _) = call(&s, &format!("/xrpc/fm.reprise.getTrack?uri={uri}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(call(&s, "/xrpc/fm.reprise.getTracks").await.1["tracks"], json!([]));
    assert_eq!(call(&s, "/xrpc/fm.reprise.searchTracks?q=night").await.1["tracks"], json!([]));
    assert_eq!(call(&s, "/xrpc/fm.reprise.getStats").await.1["tracks"], 0);
    let (_, likes) = call(&s, &format!("/xrpc/fm.reprise.getLikes?uri={uri}")).await;
    assert_eq!(likes["likes"].as_array().unwrap().len(), 1, "the hidden fan's like is not listed");
    let (_, artist) = call(&s, &format!("/xrpc/fm.reprise.getArtist?actor={ARTIST}")).await;
    assert_eq!(
        (artist["artist"]["status"].as_str(), artist["artist"]["trackCount"].as_i64()),
        (Some("suspended"), Some(0))
    );

    let (status, h) = call(&s, &format!("/xrpc/fm.reprise.getRecordHistory?uri={uri}")).await;
    assert_eq!(status, StatusCode::OK);
    let e = &h["entries"][0];
    assert_eq!(
        (e["operation"].as_str(), e["outcome"].as_str(), e["validation"].as_str()),
        (Some("create"), Some("applied"), Some("valid"))
    );
    assert_eq!(e["record"]["title"], "Late Bloom");
    assert_eq!(e["source"], "test");
    let (_, h) = call(&s, &format!("/xrpc/fm.reprise.getActorHistory?actor={ARTIST}&limit=2")).await;
    assert_eq!(h["entries"][0]["kind"], "identity");
    assert_eq!(h["entries"][0]["body"]["handle"], "artist.example.com");
    let next = h["cursor"].as_str().unwrap();
    let (_, rest) =
        call(&s, &format!("/xrpc/fm.reprise.getActorHistory?actor={ARTIST}&limit=100&cursor={next}")).await;
    let last = rest["entries"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["kind"].as_str(), last["body"]["status"].as_str()),
        (Some("account"), Some("suspended"))
    );
}

#[tokio::test]
async fn bad_parameters_and_unknown_things() {
    let f = world();
    let s = f.state();
    for url in [
        "/xrpc/fm.reprise.getTracks?sort=best",
        "/xrpc/fm.reprise.getTracks?period=year",
        "/xrpc/fm.reprise.getTracks?sort=top&cursor=xyz",
        "/xrpc/fm.reprise.searchTracks",
        "/xrpc/fm.reprise.searchTracks?q=",
        "/xrpc/fm.reprise.getLikes?uri=at://did:plc:x/fm.plyr.like/3k",
        "/xrpc/fm.reprise.getComments?uri=nope",
        "/xrpc/fm.reprise.getComments?uri=at://did:plc:x/fm.plyr.track/3k&cursor=MXwx",
        "/xrpc/fm.reprise.getArtist",
        "/xrpc/fm.reprise.getArtist?actor=not_a_handle",
        "/xrpc/fm.reprise.getActorLikes?actor=",
        "/xrpc/fm.reprise.getLists?actor=did:plc:x&listType=mixtape",
        "/xrpc/fm.reprise.getList?uri=at://did:plc:x/fm.plyr.track/3k",
        "/xrpc/fm.reprise.getPlays",
        "/xrpc/fm.reprise.getPlays?actor=did:plc:x&track=at://did:plc:x/fm.plyr.track/3k",
        "/xrpc/fm.reprise.getNowPlaying",
        "/xrpc/fm.reprise.getRecordHistory?uri=at://did:plc:x/app.bsky.feed.post/3k",
        "/xrpc/fm.reprise.getActorHistory?actor=did:plc:x&limit=1000",
    ] {
        let (status, body) = call(&s, url).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {body}");
        assert_eq!(body["error"], "InvalidRequest", "{url}");
    }
    for url in [
        "/xrpc/fm.reprise.getArtist?actor=nobody.example.com",
        "/xrpc/fm.reprise.getArtist?actor=did:plc:nobody",
        "/xrpc/fm.reprise.getList?uri=at://did:plc:x/fm.plyr.list/3kzzzzzzzzzz2",
        "/xrpc/fm.reprise.getActorLikes?actor=nobody.example.com",
        "/xrpc/fm.reprise.getRecordHistory?uri=at://did:plc:x/fm.plyr.track/3kzzzzzzzzzz2",
        "/xrpc/fm.reprise.getActorHistory?actor=did:plc:nobody",
    ] {
        let (status, body) = call(&s, url).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{url}: {body}");
        assert_eq!(body["error"], "NotFound", "{url}");
    }
}

#[tokio::test]
async fn documentation_endpoints_describe_every_query() {
    let f = world();
    let s = f.state();
    let (status, doc) = call(&s, "/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    for e in reprise_query_api::spec::ENDPOINTS {
        assert!(paths.contains_key(&format!("/xrpc/{}", e.nsid)), "{}", e.nsid);
    }
    assert_eq!(paths.len(), reprise_query_api::spec::ENDPOINTS.len());
    assert!(doc["components"]["schemas"]["trackView"].is_object());
    // Parameters carry the exact syntax the handlers accept, so a fuzzer reading the document
    // knows valid from invalid input.
    let params = &doc["paths"]["/xrpc/fm.reprise.getTracks"]["get"]["parameters"];
    let param =
        |name: &str| params.as_array().unwrap().iter().find(|p| p["name"] == name).unwrap()["schema"].clone();
    assert_eq!(param("sort")["enum"], json!(["newest", "top"]));
    assert_eq!(
        (param("limit")["minimum"].as_i64(), param("limit")["maximum"].as_i64()),
        (Some(1), Some(100))
    );
    assert!(param("artist")["pattern"].as_str().unwrap().starts_with("^did:"));
    assert!(param("cursor")["pattern"].is_string());
    let uri = &doc["paths"]["/xrpc/fm.reprise.getTrack"]["get"]["parameters"][0]["schema"];
    assert!(uri["pattern"].as_str().unwrap().contains("/fm\\.plyr\\.track/"), "{uri}");
}

#[test]
fn the_checked_in_lexicons_are_generated_from_the_spec() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../lexicons/schemas/fm/reprise");
    for e in reprise_query_api::spec::ENDPOINTS {
        let name = e.nsid.rsplit('.').next().unwrap();
        let path = dir.join(format!("{name}.json"));
        let want = serde_json::to_string_pretty(&reprise_query_api::spec::lexicon(e)).unwrap() + "\n";
        if std::env::var_os("REPRISE_WRITE_LEXICONS").is_some() {
            std::fs::write(&path, &want).unwrap();
        }
        let got = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            got == want,
            "{} is out of date: run `REPRISE_WRITE_LEXICONS=1 cargo test -p reprise-query-api --test endpoints`",
            path.display()
        );
    }
}
