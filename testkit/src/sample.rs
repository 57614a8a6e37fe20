//! The small sample in `fixtures/plyr-sample.jsonl` (`reprise-bench generate --sample`): a week of
//! a small plyr.fm scene told in order, every record with its real CID, small enough to read. Six
//! artists with two albums each, eight listeners who like, unlike and comment, a playlist and an album
//! list, teal.fm plays in both the stable and the alpha collections, a few edits and deletes, and one
//! artist taken down at the end (their tracks leave the feeds; their history stays).

use std::io::{self, Write};

use serde_json::{Value, json};

use crate::generate::iso8601;
use crate::{GenerateReport, Rng, did, record_cid, tid};

const ARTISTS: &[(&str, &str, [&str; 2])] = &[
    ("nadia k", "nadia.plyr.example", ["late bloom", "glasshouse"]),
    ("The Quiet Room", "quietroom.plyr.example", ["small hours", "tidal"]),
    ("Golden Hour Club", "goldenhour.plyr.example", ["night bus", "sunline"]),
    ("Sleepwalk", "sleepwalk.plyr.example", ["paper moon", "undertow"]),
    ("Harbour Lights", "harbour.plyr.example", ["rust belt", "salt"]),
    ("Static Bloom", "staticbloom.plyr.example", ["noise floor", "afterglow"]),
];
const SONGS: &[&str] = &["intro", "open window", "slow river", "city rain", "north", "last train"];
const COMMENTS: &[&str] =
    &["love the bridge", "that synth line", "on repeat all week", "the drums here!", "perfect for mornings"];
/// The artist taken down at the end of the sample.
const TAKEN_DOWN: usize = 5;
const LISTENERS: u64 = 8;

struct Sample<W> {
    out: W,
    report: GenerateReport,
    clock: u64,
    seq: u64,
    rng: Rng,
}

/// One published track: who, where, and the CID of its current version (what strong refs point at).
struct Track {
    artist: usize,
    rkey: String,
    cid: String,
    title: String,
}

impl Track {
    fn uri(&self) -> String {
        format!("at://{}/fm.plyr.track/{}", artist_did(self.artist), self.rkey)
    }

    fn strong_ref(&self) -> Value {
        json!({"uri": self.uri(), "cid": self.cid})
    }
}

fn artist_did(i: usize) -> String {
    did(i as u64 + 1)
}

fn listener_did(i: u64) -> String {
    did(100 + i)
}

impl<W: Write> Sample<W> {
    fn line(&mut self, v: Value) -> io::Result<()> {
        let line = v.to_string();
        self.out.write_all(line.as_bytes())?;
        self.out.write_all(b"\n")?;
        self.report.events += 1;
        self.report.bytes += line.len() as u64 + 1;
        Ok(())
    }

    /// Moves the clock on by `minutes` (and a few seconds), as the scene's days go by.
    fn later(&mut self, minutes: u64) -> u64 {
        self.clock += minutes * 60_000_000 + self.rng.below(50_000_000);
        self.clock
    }

    /// A create or update of `record` at a fresh rev; returns the record's CID.
    fn put(
        &mut self,
        repo: &str,
        op: &str,
        collection: &str,
        rkey: &str,
        record: Value,
    ) -> io::Result<String> {
        let now = self.later(7);
        let cid = record_cid(&record);
        let commit = json!({"rev": tid(now, 1), "operation": op, "collection": collection, "rkey": rkey,
                            "record": record, "cid": cid});
        self.line(json!({"did": repo, "time_us": now, "kind": "commit", "commit": commit}))?;
        Ok(cid)
    }

    /// A create under a new TID record key; returns (rkey, CID).
    fn create(&mut self, repo: &str, collection: &str, mut record: Value) -> io::Result<(String, String)> {
        let rkey = tid(self.clock + 1, 2);
        record["$type"] = json!(collection);
        let cid = self.put(repo, "create", collection, &rkey, record)?;
        Ok((rkey, cid))
    }

    fn delete(&mut self, repo: &str, collection: &str, rkey: &str) -> io::Result<()> {
        let now = self.later(3);
        let commit =
            json!({"rev": tid(now, 1), "operation": "delete", "collection": collection, "rkey": rkey});
        self.line(json!({"did": repo, "time_us": now, "kind": "commit", "commit": commit}))
    }

    fn identity(&mut self, repo: &str, handle: &str) -> io::Result<()> {
        let now = self.later(1);
        self.seq += 1;
        let body = json!({"did": repo, "handle": handle, "seq": self.seq, "time": iso8601(now)});
        self.line(json!({"did": repo, "time_us": now, "kind": "identity", "identity": body}))
    }

    fn account(&mut self, repo: &str, status: &str) -> io::Result<()> {
        let now = self.later(1);
        self.seq += 1;
        let body =
            json!({"did": repo, "active": false, "status": status, "seq": self.seq, "time": iso8601(now)});
        self.line(json!({"did": repo, "time_us": now, "kind": "account", "account": body}))
    }

    fn now(&self) -> String {
        iso8601(self.clock)
    }
}

/// Writes the sample (a few hundred Jetstream v1 lines) to `out`.
pub fn sample(out: impl Write) -> io::Result<GenerateReport> {
    let mut s = Sample {
        out,
        report: GenerateReport::default(),
        clock: 1_772_366_400_000_000,
        seq: 7_000,
        rng: Rng::new(17),
    };
    for (i, (_, handle, _)) in ARTISTS.iter().enumerate() {
        s.identity(&artist_did(i), handle)?;
    }
    for l in 0..LISTENERS {
        s.identity(&listener_did(l), &format!("listener{l}.example.com"))?;
    }
    for (i, (name, _, _)) in ARTISTS.iter().enumerate() {
        let bio = format!("{name}: songs from a small room");
        let record = json!({"$type": "fm.plyr.actor.profile", "bio": bio, "createdAt": s.now()});
        s.put(&artist_did(i), "create", "fm.plyr.actor.profile", "self", record)?;
    }

    // Each artist releases two albums of three tracks, over a week.
    let mut tracks: Vec<Track> = Vec::new();
    for album in 0..2 {
        for (i, (name, _, albums)) in ARTISTS.iter().enumerate() {
            for n in 0..3 {
                let title = format!("{} {}", s.rng.pick(SONGS), album * 3 + n + 1);
                let now = s.now();
                let record = track_record(&mut s.rng, &title, name, albums[album], &now);
                let (rkey, cid) = s.create(&artist_did(i), "fm.plyr.track", record)?;
                tracks.push(Track { artist: i, rkey, cid, title });
            }
            s.later(600);
        }
    }
    // A remaster, a typo fixed, and two tracks pulled.
    for t in [0, 7, 20] {
        let track = &tracks[t];
        let (name, _, albums) = ARTISTS[track.artist];
        let title = format!("{} (remaster)", track.title);
        let now = s.now();
        let record = track_record(&mut s.rng, &title, name, albums[t / 18], &now);
        let (repo, rkey) = (artist_did(track.artist), track.rkey.clone());
        tracks[t].cid = s.put(&repo, "update", "fm.plyr.track", &rkey, record)?;
        tracks[t].title = title;
    }
    for t in [4, 27] {
        let (repo, rkey) = (artist_did(tracks[t].artist), tracks[t].rkey.clone());
        s.delete(&repo, "fm.plyr.track", &rkey)?;
    }
    let live: Vec<usize> = (0..tracks.len()).filter(|t| ![4, 27].contains(t)).collect();

    // Listeners like (the first tracks most), comment, change their minds, and scrobble.
    let mut likes = Vec::new();
    for l in 0..LISTENERS {
        for _ in 0..9 {
            let t = live[(s.rng.below(live.len() as u64) * s.rng.below(live.len() as u64) / live.len() as u64)
                as usize];
            let record = json!({"subject": tracks[t].strong_ref(), "createdAt": s.now()});
            let (rkey, _) = s.create(&listener_did(l), "fm.plyr.like", record)?;
            likes.push((l, rkey));
        }
    }
    for i in [3, 17, 40, 61] {
        let (l, rkey) = likes[i].clone();
        s.delete(&listener_did(l), "fm.plyr.like", &rkey)?;
    }
    for c in 0..20u64 {
        let t = live[s.rng.below(live.len() as u64) as usize];
        let record = json!({"subject": tracks[t].strong_ref(), "text": *s.rng.pick(COMMENTS),
                            "timestampMs": 5_000 + s.rng.below(180_000), "createdAt": s.now()});
        s.create(&listener_did(c % LISTENERS), "fm.plyr.comment", record)?;
    }
    let playlist: Vec<Value> =
        [0, 6, 13, 19, 24, 31].iter().map(|&t| json!({"subject": tracks[t].strong_ref()})).collect();
    let record =
        json!({"name": "sunday morning", "listType": "playlist", "items": playlist, "createdAt": s.now()});
    s.create(&listener_did(0), "fm.plyr.list", record)?;
    let album: Vec<Value> = (0..3).map(|t| json!({"subject": tracks[t].strong_ref()})).collect();
    let record = json!({"name": ARTISTS[0].2[0], "listType": "album", "items": album, "createdAt": s.now()});
    s.create(&artist_did(0), "fm.plyr.list", record)?;
    for p in 0..70u64 {
        let t = &tracks[live[s.rng.below(live.len() as u64) as usize]];
        let artist = ARTISTS[t.artist].0;
        let played = s.now();
        let (collection, record) = if p % 3 == 0 {
            // Older teal.fm clients still write the alpha collection, with a web URL for the track.
            let url = format!("https://plyr.fm/track/{}", t.rkey);
            (
                "fm.teal.alpha.feed.play",
                json!({"trackName": t.title, "artists": [{"artistName": artist}],
                "originUrl": url, "musicServiceBaseDomain": "plyr.fm", "playedTime": played, "duration": 200}),
            )
        } else {
            (
                "fm.teal.feed.play",
                json!({"trackName": t.title, "artists": [{"artistName": artist}],
                "originUri": t.uri(), "musicServiceUri": "https://plyr.fm", "playedTime": played, "duration": 200}),
            )
        };
        s.create(&listener_did(p % LISTENERS), collection, record)?;
    }

    s.account(&artist_did(TAKEN_DOWN), "takendown")?;
    s.out.flush()?;
    Ok(s.report)
}

fn track_record(rng: &mut Rng, title: &str, artist: &str, album: &str, created_at: &str) -> Value {
    json!({
        "$type": "fm.plyr.track", "title": title, "artist": artist, "album": album, "fileType": "mp3",
        "duration": 150 + rng.below(200), "createdAt": created_at,
        "audioUrl": format!("https://audio.plyr.fm/audio/{:016x}.mp3", rng.next_u64()),
        "imageUrl": format!("https://images.plyr.fm/images/{:016x}.jpg", rng.next_u64()),
        "description": format!("from {album}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_reproducible_and_every_record_has_its_real_cid() {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let report = sample(&mut a).unwrap();
        sample(&mut b).unwrap();
        assert_eq!(a, b);
        assert!((200..=400).contains(&report.events), "{report:?}");
        for line in String::from_utf8(a).unwrap().lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            if let Some(record) = v["commit"].get("record") {
                assert_eq!(v["commit"]["cid"], record_cid(record), "{line}");
            }
        }
    }
}
