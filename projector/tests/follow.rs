//! The follow loop `reprise run` uses: woken by the log's head, it applies each append, reports the
//! batch, and stops when told.

mod support;

use std::sync::Arc;

use reprise_events::Shutdown;
use reprise_projector::{Catalog, Projector, follow};
use reprise_testkit::FrameBuilder;
use support::World;
use tokio::sync::watch;

const DID: &str = "did:plc:mcc5yghbk7tixqryac2yxku7";
const T1: &str = "2026-05-01T10:00:00.000Z";

#[tokio::test]
async fn follow_applies_each_append_as_it_commits_and_stops_when_told() {
    let mut w = World::new();
    let mut r = FrameBuilder::new(DID);
    let projector = Projector::open(w.dir.path(), 100, Arc::new(Catalog::builtin())).unwrap();
    let stop = Shutdown::new();
    let (seen_tx, mut seen_rx) = watch::channel(0i64);
    let following = tokio::spawn(follow(projector, vec![w.log.subscribe()], None, stop.clone(), move |r| {
        seen_tx.send_replace(r.checkpoint);
    }));
    w.given(&[r.track("create", "3kaaaaaaaaaa2", "3kaaaaaaaaab2", "first", T1)]);
    seen_rx.wait_for(|c| *c >= 1).await.unwrap();
    assert_eq!(w.rows("SELECT title FROM tracks"), ["first"]);
    w.given(&[r.track("update", "3kaaaaaaaaaa2", "3kaaaaaaaaac2", "second", T1)]);
    seen_rx.wait_for(|c| *c >= 2).await.unwrap();
    assert_eq!(w.rows("SELECT title FROM tracks"), ["second"]);
    stop.stop();
    following.await.unwrap().unwrap();
}
