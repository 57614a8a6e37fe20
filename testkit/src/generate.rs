//! A realistic bulk fixture: many repos writing tracks, likes, comments, lists, plays and profiles,
//! with updates, deletes, account and identity events, and a sprinkle of redelivered frames.

use std::io::{self, Write};

use serde_json::json;

use crate::{Rng, did, fake_cid, record_cid, tid};

/// Shares of each event type, in parts per thousand.
#[derive(Debug, Clone)]
pub struct Mix {
    pub track_create: u64,
    pub track_update: u64,
    pub track_delete: u64,
    pub like: u64,
    pub comment: u64,
    pub list: u64,
    pub play: u64,
    pub profile: u64,
    pub account: u64,
    pub identity: u64,
    /// A frame delivered again (Jetstream is at-least-once).
    pub redelivery: u64,
}

impl Default for Mix {
    fn default() -> Self {
        Mix {
            track_create: 250,
            track_update: 60,
            track_delete: 30,
            like: 300,
            comment: 60,
            list: 30,
            play: 220,
            profile: 20,
            account: 10,
            identity: 10,
            redelivery: 10,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenerateReport {
    pub events: u64,
    pub bytes: u64,
    pub redeliveries: u64,
}

const TITLES: &[&str] =
    &["late bloom", "greenhouse", "night bus", "tidal", "small hours", "paper moon", "rust belt"];
const WORDS: &[&str] =
    &["recorded", "in", "one", "take", "on", "a", "rainy", "tuesday", "with", "friends", "live"];
const ARTISTS: &[&str] = &["Example Artist", "The Quiet Room", "nadia k", "Golden Hour Club", "Sleepwalk"];

struct State {
    rng: Rng,
    clock: u64,
    repos: u64,
    /// (repo, rkey, CID of the latest version) of every live track.
    tracks: Vec<(u64, String, String)>,
    last: String,
    seq: u64,
    /// The CID of the record the last commit carried.
    last_cid: String,
}

impl State {
    fn tick(&mut self) -> u64 {
        self.clock += 20 + self.rng.below(400);
        self.clock
    }

    fn repo(&mut self) -> u64 {
        // A few prolific repos and a long tail, like real networks.
        let r = self.rng.below(self.repos * 4);
        if r < self.repos { r % (self.repos / 20).max(1) } else { r % self.repos }
    }

    fn commit(
        &mut self,
        repo: u64,
        op: &str,
        collection: &str,
        rkey: &str,
        record: Option<serde_json::Value>,
    ) -> String {
        let now = self.tick();
        let rev = tid(now, (repo % 1024) as u16);
        let mut commit = json!({"rev": rev, "operation": op, "collection": collection, "rkey": rkey});
        if let Some(record) = record {
            // The real CID of the record; the generator still draws the fake one it used to, so every
            // other field of a seeded fixture stays as it was.
            let _ = fake_cid(&mut self.rng, 0x71);
            let cid = record_cid(&record);
            commit["cid"] = json!(cid);
            self.last_cid = cid;
            commit["record"] = record;
        }
        json!({"did": did(repo), "time_us": now, "kind": "commit", "commit": commit}).to_string()
    }

    fn created_at(&self) -> String {
        iso8601(self.clock)
    }

    /// A strong ref to a track and the CID of its latest version (the generator's first frame is always a
    /// track, so there is one).
    fn strong_ref(&mut self) -> serde_json::Value {
        let (repo, rkey, cid) = self.tracks[self.rng.below(self.tracks.len() as u64) as usize].clone();
        // The draw the fake CID used to take, so seeded fixtures keep every other field.
        let _ = fake_cid(&mut self.rng, 0x71);
        json!({"uri": format!("at://{}/fm.plyr.track/{rkey}", did(repo)), "cid": cid})
    }

    fn track_record(&mut self) -> serde_json::Value {
        let title = format!("{} {}", self.rng.pick(TITLES), self.rng.below(1000));
        let description: Vec<&str> = (0..8).map(|_| *self.rng.pick(WORDS)).collect();
        json!({
            "$type": "fm.plyr.track", "title": title, "artist": self.rng.pick(ARTISTS),
            "fileType": "mp3", "createdAt": self.created_at(), "album": self.rng.pick(TITLES),
            "duration": 90 + self.rng.below(400),
            "audioUrl": format!("https://audio.plyr.fm/audio/{:016x}.mp3", self.rng.next_u64()),
            "imageUrl": format!("https://images.plyr.fm/images/{:016x}.jpg", self.rng.next_u64()),
            "description": description.join(" "),
            "audioBlob": {"$type": "blob", "ref": {"$link": fake_cid(&mut self.rng, 0x55)},
                          "mimeType": "audio/mpeg", "size": 1_000_000 + self.rng.below(9_000_000)},
        })
    }

    fn next_frame(&mut self, mix: &Mix) -> String {
        let total = mix.track_create
            + mix.track_update
            + mix.track_delete
            + mix.like
            + mix.comment
            + mix.list
            + mix.play
            + mix.profile
            + mix.account
            + mix.identity;
        let mut roll = self.rng.below(total);
        let mut take = |share: u64| {
            let hit = roll < share;
            roll = roll.saturating_sub(share);
            hit
        };
        let repo = self.repo();
        if take(mix.track_create) || self.tracks.is_empty() {
            let rkey = tid(self.clock + 7, (repo % 1024) as u16);
            let record = self.track_record();
            let line = self.commit(repo, "create", "fm.plyr.track", &rkey, Some(record));
            self.tracks.push((repo, rkey, self.last_cid.clone()));
            return line;
        }
        if take(mix.track_update) {
            let i = self.rng.below(self.tracks.len() as u64) as usize;
            let (owner, rkey, _) = self.tracks[i].clone();
            let record = self.track_record();
            let line = self.commit(owner, "update", "fm.plyr.track", &rkey, Some(record));
            self.tracks[i].2 = self.last_cid.clone();
            return line;
        }
        if take(mix.track_delete) {
            let i = self.rng.below(self.tracks.len() as u64) as usize;
            let (owner, rkey, _) = self.tracks.swap_remove(i);
            return self.commit(owner, "delete", "fm.plyr.track", &rkey, None);
        }
        let rkey = tid(self.clock + 3, (repo % 1024) as u16);
        if take(mix.like) {
            let record = json!({"$type": "fm.plyr.like", "subject": self.strong_ref(), "createdAt": self.created_at()});
            return self.commit(repo, "create", "fm.plyr.like", &rkey, Some(record));
        }
        if take(mix.comment) {
            let record = json!({"$type": "fm.plyr.comment", "subject": self.strong_ref(), "text": "love the bridge",
                "timestampMs": self.rng.below(200_000), "createdAt": self.created_at()});
            return self.commit(repo, "create", "fm.plyr.comment", &rkey, Some(record));
        }
        if take(mix.list) {
            let items: Vec<_> =
                (0..1 + self.rng.below(8)).map(|_| json!({"subject": self.strong_ref()})).collect();
            let record = json!({"$type": "fm.plyr.list", "name": "road trip", "listType": "playlist",
                "items": items, "createdAt": self.created_at()});
            return self.commit(repo, "create", "fm.plyr.list", &rkey, Some(record));
        }
        if take(mix.play) {
            let record = json!({"$type": "fm.teal.feed.play", "trackName": self.rng.pick(TITLES),
                "artists": [{"artistName": self.rng.pick(ARTISTS)}], "duration": 200,
                "musicServiceUri": "https://plyr.fm", "playedTime": self.created_at()});
            return self.commit(repo, "create", "fm.teal.feed.play", &rkey, Some(record));
        }
        if take(mix.profile) {
            let record = json!({"$type": "fm.plyr.actor.profile", "bio": "making songs in a small room",
                "createdAt": self.created_at()});
            return self.commit(repo, "update", "fm.plyr.actor.profile", "self", Some(record));
        }
        self.seq += 1;
        let now = self.tick();
        let (kind, body) = if take(mix.account) {
            let active = self.rng.below(3) > 0;
            let mut body =
                json!({"did": did(repo), "seq": self.seq, "active": active, "time": self.created_at()});
            if !active {
                body["status"] = json!(*self.rng.pick(&["deactivated", "takendown", "deleted"]));
            }
            ("account", body)
        } else {
            let handle = format!("artist{repo}.example.com");
            (
                "identity",
                json!({"did": did(repo), "seq": self.seq, "handle": handle, "time": self.created_at()}),
            )
        };
        json!({"did": did(repo), "time_us": now, "kind": kind, kind: body}).to_string()
    }
}

/// Unix microseconds as an RFC 3339 UTC datetime with microseconds, as records write `createdAt`.
pub(crate) fn iso8601(micros: u64) -> String {
    let secs = (micros / 1_000_000) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil(days);
    let frac = micros % 1_000_000;
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac:06}Z", rem / 3600, rem / 60 % 60, rem % 60)
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn civil(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Writes `events` Jetstream v1 lines to `out` from `repos` repos, reproducibly from `seed`.
pub fn generate(
    out: &mut impl Write,
    events: u64,
    repos: u64,
    seed: u64,
    mix: &Mix,
) -> io::Result<GenerateReport> {
    let mut st = State {
        rng: Rng::new(seed),
        clock: 1_767_225_600_000_000, // 2026-01-01
        repos: repos.max(1),
        tracks: Vec::new(),
        last: String::new(),
        seq: 1_000,
        last_cid: String::new(),
    };
    let mut report = GenerateReport::default();
    while report.events < events {
        let line = if !st.last.is_empty() && st.rng.below(1000) < mix.redelivery {
            report.redeliveries += 1;
            st.last.clone()
        } else {
            st.next_frame(mix)
        };
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
        report.bytes += line.len() as u64 + 1;
        report.events += 1;
        st.last = line;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_determinism() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(20_454), (2026, 1, 1));
        let (mut a, mut b) = (Vec::new(), Vec::new());
        generate(&mut a, 500, 20, 9, &Mix::default()).unwrap();
        generate(&mut b, 500, 20, 9, &Mix::default()).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.iter().filter(|&&c| c == b'\n').count(), 500);
    }
}
