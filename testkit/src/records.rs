//! Valid records of every indexed collection, for given/when/then tests (pass them to
//! `FrameBuilder::put`).

use serde_json::{Value, json};

/// A syntactically valid CID to use in strong refs.
pub const SOME_CID: &str = "bafyreif3ffmz3msj5ermbgwgcxssbrqhgrr2jrbmdgppvmnhqlwaxe7cau";

pub fn track_uri(did: &str, rkey: &str) -> String {
    format!("at://{did}/fm.plyr.track/{rkey}")
}

pub fn like(subject_uri: &str, created_at: &str) -> Value {
    json!({"$type": "fm.plyr.like", "subject": {"uri": subject_uri, "cid": SOME_CID}, "createdAt": created_at})
}

pub fn comment(subject_uri: &str, text: &str, timestamp_ms: i64, created_at: &str) -> Value {
    json!({"$type": "fm.plyr.comment", "subject": {"uri": subject_uri, "cid": SOME_CID}, "text": text,
           "timestampMs": timestamp_ms, "createdAt": created_at})
}

pub fn list(name: &str, list_type: &str, subjects: &[&str], created_at: &str) -> Value {
    let items: Vec<Value> =
        subjects.iter().map(|u| json!({"subject": {"uri": u, "cid": SOME_CID}})).collect();
    json!({"$type": "fm.plyr.list", "name": name, "listType": list_type, "items": items, "createdAt": created_at})
}

pub fn profile(bio: &str) -> Value {
    json!({"$type": "fm.plyr.actor.profile", "bio": bio, "avatar": "https://cdn.example/avatar.jpg",
           "createdAt": "2025-12-01T12:00:00Z"})
}

pub fn play(track_name: &str, artist: &str, origin_uri: Option<&str>, played_time: &str) -> Value {
    let mut v = json!({"$type": "fm.teal.feed.play", "trackName": track_name,
        "artists": [{"artistName": artist}], "musicServiceUri": "https://plyr.fm", "playedTime": played_time,
        "duration": 200});
    if let Some(o) = origin_uri {
        v["originUri"] = json!(o);
    }
    v
}

/// The same play as an older `fm.teal.alpha.feed.play` writer would write it.
pub fn alpha_play(track_name: &str, artist: &str, origin_url: &str, played_time: &str) -> Value {
    json!({"$type": "fm.teal.alpha.feed.play", "trackName": track_name, "artists": [{"artistName": artist}],
           "musicServiceBaseDomain": "plyr.fm", "originUrl": origin_url, "playedTime": played_time,
           "duration": 200})
}

pub fn status(track_name: &str, time: &str, expiry: &str) -> Value {
    json!({"$type": "fm.teal.actor.status", "time": time, "expiry": expiry,
           "item": {"trackName": track_name, "artists": [{"artistName": "Test Artist"}]}})
}
