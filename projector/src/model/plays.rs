//! teal.fm plays, from `fm.teal.feed.play` and `fm.teal.alpha.feed.play` records (alpha records
//! already normalized to the stable shape).
//!
//! Matching a play to a plyr.fm track happens when read, so a play counts whatever order the play
//! and the track arrive in. At apply time each play gets up to three match keys:
//! - `match_uri`: its `originUri` when that is the AT-URI of an `fm.plyr.track` record;
//! - `match_rkey`: the last path segment of a plyr.fm web URL in `originUri` when it has the shape
//!   of a record key (a TID), so `https://plyr.fm/track/<rkey>` links match;
//! - `match_name`: for plays whose `musicServiceUri` is plyr.fm (any scheme, `www.` or not), the
//!   lowercased, trimmed track name and first artist name, joined by U+001F.
//!
//! A track's plays are those with `match_uri` = its URI, or `match_rkey` = its rkey, or
//! `match_name` = its own name key: each play is counted once even when several keys match.

use rusqlite::{Transaction, params};
use serde::Deserialize;
use serde_json::Value;

use crate::model::descriptor::{AccountRows, Folds, Model, decode, delete_row};
use crate::types::{ModelError, Version, sort_at};

pub(crate) static MODEL: Model = Model {
    name: "plays",
    folds: Folds::Records { collections: &["fm.teal.feed.play", "fm.teal.alpha.feed.play"], upsert, remove },
    tables: "
CREATE TABLE IF NOT EXISTS plays (
    uri                TEXT NOT NULL,
    did                TEXT NOT NULL,
    collection         TEXT NOT NULL,
    track_name         TEXT NOT NULL,
    artists            TEXT NOT NULL,
    release_name       TEXT,
    duration           INTEGER,
    played_time        TEXT,
    sort_at_us         INTEGER NOT NULL,
    origin_uri         TEXT,
    music_service_uri  TEXT,
    match_uri          TEXT,
    match_rkey         TEXT,
    match_name         TEXT,
    seq                INTEGER PRIMARY KEY
);",
    apply_indexes: "CREATE INDEX IF NOT EXISTS plays_by_actor ON plays (did, sort_at_us DESC, uri DESC);",
    indexes: "
CREATE INDEX IF NOT EXISTS plays_by_match_uri ON plays (match_uri) WHERE match_uri IS NOT NULL;
CREATE INDEX IF NOT EXISTS plays_by_match_rkey ON plays (match_rkey) WHERE match_rkey IS NOT NULL;
CREATE INDEX IF NOT EXISTS plays_by_match_name ON plays (match_name) WHERE match_name IS NOT NULL;
CREATE INDEX IF NOT EXISTS plays_by_time ON plays (sort_at_us);",
    account: AccountRows::BySeq { remove_all: &["DELETE FROM plays WHERE did = ?1"] },
    finish_bulk: None,
};

const DELETE: &str = "DELETE FROM plays WHERE seq = ?1";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Artist<'a> {
    artist_name: Option<&'a str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Play<'a> {
    track_name: &'a str,
    #[serde(borrow, default)]
    artists: Vec<Artist<'a>>,
    release_name: Option<&'a str>,
    duration: Option<i64>,
    played_time: Option<&'a str>,
    origin_uri: Option<&'a str>,
    music_service_uri: Option<&'a str>,
}

/// The name key plyr.fm tracks and plays share: lowercased, trimmed, title and artist.
pub fn name_key(title: &str, artist: &str) -> String {
    format!("{}\u{1f}{}", title.trim().to_lowercase(), artist.trim().to_lowercase())
}

fn is_plyr(uri: &str) -> bool {
    let host = uri.split("://").nth(1).unwrap_or(uri).split(['/', '?', '#']).next().unwrap_or("");
    let host = host.strip_prefix("www.").unwrap_or(host).to_ascii_lowercase();
    host == "plyr.fm"
}

fn looks_like_rkey(s: &str) -> bool {
    s.len() == 13 && s.bytes().all(|b| b"234567abcdefghijklmnopqrstuvwxyz".contains(&b))
}

fn upsert<'r>(
    tx: &Transaction<'_>,
    v: &Version<'_>,
    record: &'r Value,
    _bulk: bool,
) -> Result<Option<&'r str>, ModelError> {
    let r: Play<'_> = decode(record)?;
    let first_artist = r.artists.iter().find_map(|a| a.artist_name).unwrap_or("");
    let origin = r.origin_uri.unwrap_or("");
    let match_uri = (origin.starts_with("at://") && origin.contains("/fm.plyr.track/")).then_some(origin);
    let match_rkey = (is_plyr(origin))
        .then(|| origin.trim_end_matches('/').rsplit('/').next().unwrap_or(""))
        .filter(|s| looks_like_rkey(s));
    let match_name = r.music_service_uri.filter(|u| is_plyr(u)).map(|_| name_key(r.track_name, first_artist));
    let artists: Vec<&str> = r.artists.iter().filter_map(|a| a.artist_name).collect();
    let sort = match r.played_time {
        Some(t) => sort_at(t, v.received_at_us)?,
        None => v.received_at_us,
    };
    delete_row(tx, DELETE, v.replaces)?;
    tx.prepare_cached(
        "INSERT INTO plays (uri, did, collection, track_name, artists, release_name, duration,
            played_time, sort_at_us, origin_uri, music_service_uri, match_uri, match_rkey, match_name, seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )?
    .execute(params![
        v.uri,
        v.did,
        v.collection,
        r.track_name,
        serde_json::to_string(&artists).unwrap_or_default(),
        r.release_name,
        r.duration,
        r.played_time,
        sort,
        r.origin_uri,
        r.music_service_uri,
        match_uri,
        match_rkey,
        match_name,
        v.seq
    ])?;
    Ok(None)
}

fn remove(tx: &Transaction<'_>, _did: &str, seq: Option<i64>, _bulk: bool) -> Result<(), rusqlite::Error> {
    delete_row(tx, DELETE, seq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plyr_hosts_and_rkeys() {
        for yes in ["https://plyr.fm", "https://plyr.fm/track/1", "plyr.fm", "http://www.PLYR.fm/x"] {
            assert!(is_plyr(yes), "{yes}");
        }
        for no in ["https://notplyr.fm", "https://plyr.fm.evil.com", "https://example.com/plyr.fm"] {
            assert!(!is_plyr(no), "{no}");
        }
        assert!(looks_like_rkey("3mtjtghiqeo22"));
        assert!(!looks_like_rkey("1234"));
        assert_eq!(name_key(" Late Bloom ", "Example ARTIST"), "late bloom\u{1f}example artist");
    }
}
