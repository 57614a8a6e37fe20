//! Given/when/then helpers: frames into a real log, the projector over it, and a readable dump.

use reprise_events::{EventLog, NewEvent};
use reprise_projector::{Projector, VIEWS_FILE};

pub struct World {
    pub dir: tempfile::TempDir,
    pub log: EventLog,
    received: i64,
}

impl World {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(dir.path()).unwrap();
        World { dir, log, received: 1_779_800_000_000_000 }
    }

    /// Appends frames as ingest would, one batch.
    pub fn given(&mut self, frames: &[String]) {
        let events: Vec<NewEvent> = frames
            .iter()
            .map(|f| {
                self.received += 1;
                let d = reprise_ingest::decode_v1(f.as_bytes());
                NewEvent {
                    envelope: d.envelope,
                    frame: f.clone().into_bytes(),
                    source_cursor: d.cursor,
                    received_at_us: self.received,
                }
            })
            .collect();
        self.log.append("test", &events, None).unwrap();
    }

    pub fn project(&self, batch: usize) {
        Projector::open(self.dir.path(), batch, std::sync::Arc::new(reprise_projector::Catalog::builtin()))
            .unwrap()
            .catch_up(None)
            .unwrap();
    }

    /// Titles of the tracks currently served, by rkey.
    pub fn titles(&self) -> Vec<(String, String)> {
        let conn = rusqlite::Connection::open(self.dir.path().join(VIEWS_FILE)).unwrap();
        let mut stmt = conn.prepare("SELECT rkey, title FROM tracks ORDER BY rkey").unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
    }
}
