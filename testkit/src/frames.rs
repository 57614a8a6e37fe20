//! Hand-built frames for given/when/then tests.

use serde_json::{Value, json};

/// Builds commit frames for one repo; revs must be given explicitly so tests control ordering.
#[derive(Debug, Clone)]
pub struct FrameBuilder {
    pub did: String,
    pub time_us: u64,
}

impl FrameBuilder {
    pub fn new(did: &str) -> Self {
        FrameBuilder { did: did.to_owned(), time_us: 1_779_719_009_000_000 }
    }

    fn next_time(&mut self) -> u64 {
        self.time_us += 1_000;
        self.time_us
    }

    /// A create or update commit carrying `record` and its real CID.
    pub fn put(&mut self, op: &str, collection: &str, rkey: &str, rev: &str, record: Value) -> String {
        let cid = crate::record_cid(&record);
        json!({
            "did": self.did, "time_us": self.next_time(), "kind": "commit",
            "commit": {"rev": rev, "operation": op, "collection": collection, "rkey": rkey,
                       "record": record, "cid": cid}
        })
        .to_string()
    }

    pub fn delete(&mut self, collection: &str, rkey: &str, rev: &str) -> String {
        json!({
            "did": self.did, "time_us": self.next_time(), "kind": "commit",
            "commit": {"rev": rev, "operation": "delete", "collection": collection, "rkey": rkey}
        })
        .to_string()
    }

    /// An `fm.plyr.track` create with the given title and createdAt.
    pub fn track(&mut self, op: &str, rkey: &str, rev: &str, title: &str, created_at: &str) -> String {
        let record = json!({
            "$type": "fm.plyr.track", "title": title, "artist": "Test Artist", "fileType": "mp3",
            "createdAt": created_at, "duration": 200, "album": "Tests",
            "audioUrl": format!("https://audio.example/{rkey}.mp3"),
        });
        self.put(op, "fm.plyr.track", rkey, rev, record)
    }
}

pub fn identity(did: &str, seq: u64, handle: Option<&str>) -> String {
    let mut body = json!({"did": did, "seq": seq, "time": "2026-05-25T14:23:29.950Z"});
    if let Some(h) = handle {
        body["handle"] = json!(h);
    }
    json!({"did": did, "time_us": 1_779_719_010_000_000u64 + seq, "kind": "identity", "identity": body})
        .to_string()
}

pub fn account(did: &str, seq: u64, active: bool, status: Option<&str>) -> String {
    let mut body = json!({"did": did, "seq": seq, "active": active, "time": "2026-05-25T14:23:29.950Z"});
    if let Some(s) = status {
        body["status"] = json!(s);
    }
    json!({"did": did, "time_us": 1_779_719_010_000_000u64 + seq, "kind": "account", "account": body})
        .to_string()
}
