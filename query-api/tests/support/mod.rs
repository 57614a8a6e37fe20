//! A real log and real read models for API tests, and helpers to call the router.

#![allow(dead_code)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use reprise_events::{EventLog, NewEvent};
use reprise_projector::{Projector, VIEWS_FILE};
use reprise_query_api::{AppState, router};
use serde_json::Value;
use tower::ServiceExt;

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub log: EventLog,
    received: i64,
}

impl Fixture {
    pub fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(dir.path()).unwrap();
        Fixture { dir, log, received: 1_779_800_000_000_000 }
    }

    pub fn add(&mut self, frames: &[String]) {
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
        self.project();
    }

    /// Applies whatever the log holds beyond the checkpoint.
    pub fn project(&self) {
        Projector::open(self.dir.path(), 100, std::sync::Arc::new(reprise_projector::Catalog::builtin()))
            .unwrap()
            .catch_up(None)
            .unwrap();
    }

    pub fn state(&self) -> AppState {
        AppState::open(self.dir.path().join(VIEWS_FILE)).unwrap()
    }
}

pub async fn call(state: &AppState, uri: &str) -> (StatusCode, Value) {
    let (status, bytes) = call_raw(state, uri).await;
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// The status and the body exactly as sent.
pub async fn call_raw(state: &AppState, uri: &str) -> (StatusCode, Vec<u8>) {
    let resp = router(state.clone()).oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
    let status = resp.status();
    (status, resp.into_body().collect().await.unwrap().to_bytes().to_vec())
}

pub async fn all_pages(state: &AppState, base: &str) -> Vec<String> {
    collect(state, base, "tracks").await.iter().map(|t| t["uri"].as_str().unwrap().to_owned()).collect()
}

/// Follows cursors and returns every item under `key`.
pub async fn collect(state: &AppState, base: &str, key: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{base}&cursor={c}"),
            None => base.to_owned(),
        };
        let (status, body) = call(state, &url).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        items.extend(body[key].as_array().unwrap().iter().cloned());
        match body.get("cursor") {
            Some(c) => cursor = Some(c.as_str().unwrap().to_owned()),
            None => return items,
        }
    }
}
