//! Given/when/then helpers: frames into a real log, the projector over it, and a readable dump.

#![allow(dead_code)]

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

    /// Appends events as another source (a backfill) would write them.
    pub fn given_from(&mut self, source: &str, events: &[NewEvent]) {
        self.log.append(source, events, None).unwrap();
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

impl World {
    /// The rows of `sql` against views.db, each as "a | b | c".
    pub fn rows(&self, sql: &str) -> Vec<String> {
        let conn = rusqlite::Connection::open(self.dir.path().join(VIEWS_FILE)).unwrap();
        let mut stmt = conn.prepare(sql).unwrap();
        let n = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        let mut out = Vec::new();
        while let Some(r) = rows.next().unwrap() {
            let cells: Vec<String> = (0..n)
                .map(|i| match r.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Null => "null".to_owned(),
                    rusqlite::types::ValueRef::Integer(v) => v.to_string(),
                    rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                    other => format!("{other:?}"),
                })
                .collect();
            out.push(cells.join(" | "));
        }
        out
    }

    pub fn one(&self, sql: &str) -> String {
        let rows = self.rows(sql);
        assert_eq!(rows.len(), 1, "{sql}: {rows:?}");
        rows.into_iter().next().unwrap()
    }
}
