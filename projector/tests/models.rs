//! Given/when/then for every read model and its rules.

mod support;

use reprise_testkit::records::{self, track_uri};
use reprise_testkit::{FrameBuilder, account, identity};
use support::World;

const ARTIST: &str = "did:plc:artistaaaaaaaaaaaaaaaaaa";
const FAN: &str = "did:plc:fanbbbbbbbbbbbbbbbbbbbbbb";
const T1: &str = "2026-05-01T10:00:00.000Z";
const T2: &str = "2026-05-02T10:00:00.000Z";
const TRACK: &str = "3kaaaaaaaaaa2";

fn track_frame(b: &mut FrameBuilder, rkey: &str, rev: &str, title: &str) -> String {
    b.track("create", rkey, rev, title, T1)
}

fn distinct_likers(w: &World, subject: &str) -> String {
    w.one(&format!("SELECT COUNT(DISTINCT did) FROM likes WHERE subject_uri = '{subject}'"))
}

#[test]
fn a_like_before_its_track_is_kept_and_counts_once_the_track_arrives() {
    let mut w = World::new();
    let (mut artist, mut fan) = (FrameBuilder::new(ARTIST), FrameBuilder::new(FAN));
    let uri = track_uri(ARTIST, TRACK);
    w.given(&[fan.put("create", "fm.plyr.like", "3kbbbbbbbbbb2", "3kbbbbbbbbbb2", records::like(&uri, T2))]);
    w.project(100);
    assert_eq!(distinct_likers(&w, &uri), "1");
    assert_eq!(w.rows("SELECT uri FROM tracks"), Vec::<String>::new());
    w.given(&[track_frame(&mut artist, TRACK, "3kaaaaaaaaab2", "song")]);
    w.project(100);
    assert_eq!(w.one(&format!("SELECT COUNT(DISTINCT l.did) FROM likes l JOIN tracks t ON t.uri = l.subject_uri WHERE t.uri = '{uri}'")), "1");
}

#[test]
fn two_like_records_for_one_track_are_one_like_until_both_are_deleted() {
    let mut w = World::new();
    let mut fan = FrameBuilder::new(FAN);
    let uri = track_uri(ARTIST, TRACK);
    w.given(&[
        fan.put("create", "fm.plyr.like", "3kbbbbbbbbbb2", "3kbbbbbbbbbb2", records::like(&uri, T1)),
        fan.put("create", "fm.plyr.like", "3kcccccccccc2", "3kcccccccccc2", records::like(&uri, T2)),
    ]);
    w.project(100);
    assert_eq!(distinct_likers(&w, &uri), "1");
    w.given(&[fan.delete("fm.plyr.like", "3kbbbbbbbbbb2", "3kdddddddddd2")]);
    w.project(100);
    assert_eq!(distinct_likers(&w, &uri), "1", "another like record from the same liker remains");
    w.given(&[fan.delete("fm.plyr.like", "3kcccccccccc2", "3keeeeeeeeee2")]);
    w.project(100);
    assert_eq!(distinct_likers(&w, &uri), "0");
}

#[test]
fn an_account_deleted_then_more_events_keeps_nothing_served_but_the_audit() {
    let mut w = World::new();
    let mut artist = FrameBuilder::new(ARTIST);
    w.given(&[
        track_frame(&mut artist, TRACK, "3kaaaaaaaaab2", "song"),
        artist.put("update", "fm.plyr.actor.profile", "self", "3kaaaaaaaaac2", records::profile("hi")),
        account(ARTIST, 10, false, Some("deleted")),
        track_frame(&mut artist, "3kzzzzzzzzzz2", "3kaaaaaaaaad2", "after deletion"),
    ]);
    w.project(100);
    for table in ["tracks", "profiles"] {
        assert_eq!(w.one(&format!("SELECT COUNT(*) FROM {table}")), "0", "{table}");
    }
    assert_eq!(w.one(&format!("SELECT status FROM actors WHERE did = '{ARTIST}'")), "deleted");
    assert_eq!(
        w.rows(&format!("SELECT kind, outcome, reason FROM audit WHERE did = '{ARTIST}' ORDER BY seq")),
        [
            "commit | applied | null",
            "commit | applied | null",
            "account | applied | null",
            "commit | ignored | account deleted",
        ]
    );
}

#[test]
fn a_deleted_account_is_emptied_from_every_model_alike_by_rebuild_and_incremental_application() {
    let mut w = World::new();
    let (mut artist, mut fan) = (FrameBuilder::new(ARTIST), FrameBuilder::new(FAN));
    let uri = track_uri(ARTIST, TRACK);
    let list = records::list("mine", "playlist", &[&uri], T1);
    w.given(&[
        track_frame(&mut artist, TRACK, "3kaaaaaaaaab2", "song"),
        // A second version: the rows the first one had are gone before the account is.
        artist.track("update", TRACK, "3kaaaaaaaaac2", "song v2", T1),
        artist.put("create", "fm.plyr.like", "3kaaaaaaaaad2", "3kaaaaaaaaad2", records::like(&uri, T1)),
        artist.put(
            "create",
            "fm.plyr.comment",
            "3kaaaaaaaaae2",
            "3kaaaaaaaaae2",
            records::comment(&uri, "hi", 5, T1),
        ),
        artist.put("create", "fm.plyr.list", "3kaaaaaaaaaf2", "3kaaaaaaaaaf2", list),
        artist.put(
            "create",
            "fm.teal.feed.play",
            "3kaaaaaaaaag2",
            "3kaaaaaaaaag2",
            records::play("song", "x", None, T1),
        ),
        artist.put(
            "create",
            "fm.teal.actor.status",
            "self",
            "3kaaaaaaaaah2",
            records::status("song", T1, T2),
        ),
        artist.put("create", "fm.plyr.actor.profile", "self", "3kaaaaaaaaai2", records::profile("hi")),
        fan.put("create", "fm.plyr.like", "3kbbbbbbbbbb2", "3kbbbbbbbbbb2", records::like(&uri, T2)),
        account(ARTIST, 10, false, Some("deleted")),
        account(ARTIST, 11, true, None),
        artist.put("create", "fm.plyr.like", "3kaaaaaaaaaj2", "3kaaaaaaaaaj2", records::like(&uri, T2)),
    ]);
    w.project(1);
    for table in ["tracks", "comments", "lists", "list_items", "plays", "now_playing", "profiles"] {
        assert_eq!(w.one(&format!("SELECT COUNT(*) FROM {table}")), "0", "{table}");
    }
    assert_eq!(
        w.rows("SELECT did FROM likes ORDER BY seq"),
        [FAN, ARTIST],
        "the fan's like, and the one after"
    );
    let out = tempfile::tempdir().unwrap();
    let rebuilt = out.path().join(reprise_projector::VIEWS_FILE);
    reprise_projector::rebuild(w.dir.path(), &rebuilt, None, &reprise_projector::Catalog::builtin()).unwrap();
    let incremental = w.dir.path().join(reprise_projector::VIEWS_FILE);
    assert_eq!(reprise_testkit::dump_views(&rebuilt), reprise_testkit::dump_views(&incremental));
}

#[test]
fn takedown_hides_and_reactivation_restores_including_what_arrived_meanwhile() {
    let mut w = World::new();
    let mut artist = FrameBuilder::new(ARTIST);
    w.given(&[
        track_frame(&mut artist, TRACK, "3kaaaaaaaaab2", "song"),
        account(ARTIST, 10, false, Some("takendown")),
    ]);
    w.given(&[track_frame(&mut artist, "3kzzzzzzzzzz2", "3kaaaaaaaaac2", "during takedown")]);
    w.project(100);
    assert_eq!(w.one(&format!("SELECT status FROM actors WHERE did = '{ARTIST}'")), "takendown");
    assert_eq!(w.one("SELECT COUNT(*) FROM tracks"), "2", "kept current while hidden");
    assert!(w.one("SELECT reason FROM audit ORDER BY seq DESC LIMIT 1").contains("takendown"));
    // An older account event (by upstream seq) arriving late changes nothing.
    w.given(&[account(ARTIST, 9, true, None)]);
    w.project(100);
    assert_eq!(w.one(&format!("SELECT status FROM actors WHERE did = '{ARTIST}'")), "takendown");
    assert_eq!(w.one("SELECT reason FROM audit ORDER BY seq DESC LIMIT 1"), "older seq");
    w.given(&[account(ARTIST, 11, true, None)]);
    w.project(100);
    assert_eq!(
        w.one(&format!("SELECT status || ' ' || active FROM actors WHERE did = '{ARTIST}'")),
        "active 1"
    );
}

#[test]
fn handles_follow_identity_events_in_upstream_order_and_keep_history() {
    let mut w = World::new();
    w.given(&[
        identity(ARTIST, 5, Some("Old.Example.com")),
        identity(ARTIST, 7, Some("new.example.com")),
        identity(ARTIST, 6, Some("stale.example.com")),
    ]);
    w.project(100);
    assert_eq!(w.one(&format!("SELECT handle FROM actors WHERE did = '{ARTIST}'")), "new.example.com");
    assert_eq!(
        w.rows("SELECT handle FROM handle_history ORDER BY seq"),
        ["old.example.com", "new.example.com"]
    );
}

#[test]
fn a_backfilled_did_document_fills_in_a_handle_but_never_outranks_an_identity_event() {
    use reprise_ingest::backfill::{backfill_source, identity_event};
    let pds = "https://pds.example.com";
    let claim =
        |did: &str, rev: &str, handle: &str| identity_event(did, rev, handle, pds, 1_779_800_000_000_000);
    let mut w = World::new();
    // Known only from backfill: the document's claim is the handle.
    w.given_from(&backfill_source(pds), &[claim(FAN, "3kaaaaaaaaaa2", "Fan.Example.com")]);
    w.project(100);
    assert_eq!(w.one(&format!("SELECT handle FROM actors WHERE did = '{FAN}'")), "fan.example.com");
    // A live identity event replaces it, and a later claim (even from a newer repo rev) does not undo that.
    w.given(&[identity(FAN, 3, Some("fan.live.example.com"))]);
    w.given_from(&backfill_source(pds), &[claim(FAN, "3kaaaaaaaaab2", "fan.stale.example.com")]);
    // The same claim from an ingest source without a seq is not trusted at all.
    w.given_from(
        "wss://jetstream.example.com/subscribe",
        &[claim(ARTIST, "3kaaaaaaaaaa2", "artist.example.com")],
    );
    w.project(100);
    assert_eq!(w.one(&format!("SELECT handle FROM actors WHERE did = '{FAN}'")), "fan.live.example.com");
    assert_eq!(
        w.rows("SELECT handle || ' ' || COALESCE(upstream_seq, 'claim') FROM handle_history ORDER BY seq"),
        ["fan.example.com claim", "fan.live.example.com 3"]
    );
    assert_eq!(
        w.rows(&format!("SELECT handle FROM actors WHERE did = '{ARTIST}' AND handle IS NOT NULL")),
        Vec::<String>::new()
    );
    let reasons = w.rows(
        "SELECT outcome || ': ' || COALESCE(reason, '') FROM audit WHERE kind = 'identity' ORDER BY seq",
    );
    assert_eq!(reasons[2], "ignored: older seq", "{reasons:?}");
    assert!(
        reasons[3].starts_with("ignored: rejected by ingest: identity event without did or seq"),
        "{reasons:?}"
    );
}

#[test]
fn a_list_keeps_record_order_and_items_whose_track_is_missing() {
    let mut w = World::new();
    let (mut artist, mut fan) = (FrameBuilder::new(ARTIST), FrameBuilder::new(FAN));
    let (a, b, missing) = (
        track_uri(ARTIST, "3kaaaaaaaaaa2"),
        track_uri(ARTIST, "3kbbbbbbbbbb2"),
        track_uri(ARTIST, "3kmissingaaa2"),
    );
    w.given(&[
        track_frame(&mut artist, "3kaaaaaaaaaa2", "3kaaaaaaaaab2", "a"),
        track_frame(&mut artist, "3kbbbbbbbbbb2", "3kaaaaaaaaac2", "b"),
        fan.put(
            "create",
            "fm.plyr.list",
            "3klistaaaaaa2",
            "3kbbbbbbbbbb2",
            records::list("mix", "playlist", &[&b, &missing, &a], T1),
        ),
    ]);
    w.project(100);
    assert_eq!(
        w.rows("SELECT i.position, t.title FROM list_items i LEFT JOIN tracks t ON t.uri = i.subject_uri ORDER BY i.position"),
        ["0 | b", "1 | null", "2 | a"]
    );
    // Reordering the list replaces its items.
    w.given(&[fan.put(
        "update",
        "fm.plyr.list",
        "3klistaaaaaa2",
        "3kbbbbbbbbbc2",
        records::list("mix", "playlist", &[&a], T1),
    )]);
    w.project(100);
    assert_eq!(w.rows("SELECT position, subject_uri FROM list_items"), [format!("0 | {a}")]);
}

#[test]
fn alpha_teal_plays_are_normalized_and_matched_like_stable_ones() {
    let mut w = World::new();
    let (mut artist, mut fan) = (FrameBuilder::new(ARTIST), FrameBuilder::new(FAN));
    let uri = track_uri(ARTIST, TRACK);
    w.given(&[
        track_frame(&mut artist, TRACK, "3kaaaaaaaaab2", "Late Bloom"),
        fan.put(
            "create",
            "fm.teal.feed.play",
            "3kplayaaaaa22",
            "3kbbbbbbbbbb2",
            records::play("x", "y", Some(&uri), T2),
        ),
        fan.put(
            "create",
            "fm.teal.alpha.feed.play",
            "3kplayaaaaa32",
            "3kbbbbbbbbbc2",
            records::alpha_play("late bloom ", "TEST ARTIST", "https://plyr.fm/track/1234", T2),
        ),
        fan.put(
            "create",
            "fm.teal.feed.play",
            "3kplayaaaaa42",
            "3kbbbbbbbbbd2",
            records::play("other", "Test Artist", Some(&format!("https://plyr.fm/track/{TRACK}")), T2),
        ),
        fan.put(
            "create",
            "fm.teal.feed.play",
            "3kplayaaaaa52",
            "3kbbbbbbbbbe2",
            records::play("unrelated", "nobody", None, T2),
        ),
    ]);
    w.project(100);
    assert_eq!(
        w.one("SELECT origin_uri || ' ' || music_service_uri FROM plays WHERE collection = 'fm.teal.alpha.feed.play'"),
        "https://plyr.fm/track/1234 https://plyr.fm",
        "alpha fields renamed to the stable shape"
    );
    let count = w.one(&format!(
        "SELECT COUNT(*) FROM plays p, tracks t WHERE t.uri = '{uri}'
           AND (p.match_uri = t.uri OR p.match_rkey = t.rkey OR p.match_name = t.name_key)"
    ));
    assert_eq!(count, "3", "by AT-URI, by plyr.fm URL with the rkey, and by name on plyr.fm");
}

#[test]
fn now_playing_keeps_the_latest_status_with_its_expiry() {
    let mut w = World::new();
    let mut fan = FrameBuilder::new(FAN);
    w.given(&[
        fan.put(
            "update",
            "fm.teal.actor.status",
            "self",
            "3kbbbbbbbbbb2",
            records::status("one", T1, "2026-05-01T10:10:00Z"),
        ),
        fan.put(
            "update",
            "fm.teal.actor.status",
            "self",
            "3kbbbbbbbbbc2",
            records::status("two", T2, "2026-05-02T10:10:00Z"),
        ),
    ]);
    w.project(100);
    assert_eq!(
        w.one("SELECT json_extract(item, '$.trackName') || ' ' || expiry FROM now_playing"),
        "two 2026-05-02T10:10:00Z"
    );
    w.given(&[fan.delete("fm.teal.actor.status", "self", "3kbbbbbbbbbd2")]);
    w.project(100);
    assert_eq!(w.one("SELECT COUNT(*) FROM now_playing"), "0");
}

#[test]
fn comments_order_by_playback_position_and_edits_replace_text() {
    let mut w = World::new();
    let mut fan = FrameBuilder::new(FAN);
    let uri = track_uri(ARTIST, TRACK);
    w.given(&[
        fan.put(
            "create",
            "fm.plyr.comment",
            "3kcomaaaaaa22",
            "3kbbbbbbbbbb2",
            records::comment(&uri, "late", 90_000, T1),
        ),
        fan.put(
            "create",
            "fm.plyr.comment",
            "3kcomaaaaaa32",
            "3kbbbbbbbbbc2",
            records::comment(&uri, "early", 1_000, T2),
        ),
    ]);
    let mut edited = records::comment(&uri, "early, edited", 1_000, T2);
    edited["updatedAt"] = serde_json::json!("2026-05-03T00:00:00Z");
    w.given(&[fan.put("update", "fm.plyr.comment", "3kcomaaaaaa32", "3kbbbbbbbbbd2", edited)]);
    w.project(100);
    assert_eq!(
        w.rows(&format!("SELECT text, updated_at FROM comments WHERE subject_uri = '{uri}' ORDER BY timestamp_ms, sort_at_us, uri")),
        ["early, edited | 2026-05-03T00:00:00Z", "late | null"]
    );
}

#[test]
fn the_audit_trail_explains_every_event_of_a_record() {
    let mut w = World::new();
    let mut artist = FrameBuilder::new(ARTIST);
    let create = track_frame(&mut artist, TRACK, "3kaaaaaaaaab2", "song");
    let mut bad = serde_json::json!({"$type": "fm.plyr.track", "title": "", "artist": "a", "fileType": "mp3", "createdAt": T1});
    bad["duration"] = serde_json::json!(-1);
    // A create at an older rev than the delete, delivered after it (a reordered replay).
    let late_create = artist.track("create", TRACK, "3kaaaaaaaaab3", "late", T1);
    w.given(&[
        create,
        artist.put("update", "fm.plyr.track", TRACK, "3kaaaaaaaaac2", bad),
        artist.delete("fm.plyr.track", TRACK, "3kaaaaaaaaad2"),
        late_create,
        "not json".to_owned(),
    ]);
    w.project(100);
    let uri = track_uri(ARTIST, TRACK);
    assert_eq!(
        w.rows(&format!(
            "SELECT operation, validation, outcome, reason FROM audit WHERE uri = '{uri}' ORDER BY seq"
        )),
        [
            "create | valid | applied | null",
            "update | invalid | ignored | invalid",
            "delete | not checked | applied | null",
            "create | not checked | ignored | tombstone",
        ]
    );
    let errors = w.one(&format!("SELECT errors FROM audit WHERE uri = '{uri}' AND validation = 'invalid'"));
    assert!(
        errors.contains("$.title") && errors.contains("$.duration"),
        "every error with its path: {errors}"
    );
    assert!(
        w.one("SELECT reason FROM audit WHERE kind = 'rejected'").starts_with("rejected by ingest: not JSON")
    );
}

#[test]
fn a_record_that_does_not_match_its_cid_is_never_served() {
    let mut w = World::new();
    let mut artist = FrameBuilder::new(ARTIST);
    let honest = track_frame(&mut artist, TRACK, "3kaaaaaaaaab2", "honest");
    // Same commit, record altered after the CID was computed.
    let mut forged: serde_json::Value =
        serde_json::from_str(&track_frame(&mut artist, TRACK, "3kaaaaaaaaac2", "forged")).unwrap();
    forged["commit"]["record"]["title"] = serde_json::json!("tampered");
    w.given(&[honest, forged.to_string()]);
    w.project(100);
    assert_eq!(w.one("SELECT title FROM tracks"), "honest");
    let rows = w.rows("SELECT cid_check, outcome, reason FROM audit ORDER BY seq");
    assert_eq!(rows[0], "match | applied | null");
    assert!(
        rows[1].starts_with("mismatch:bafyrei") && rows[1].ends_with("| ignored | cid mismatch"),
        "{rows:?}"
    );
}
