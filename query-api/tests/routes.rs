//! The spec table drives the router: every row answers at its path through `router()` (with its own
//! parameter checks, not the fallback's "no such endpoint"), and an XRPC path no row names is the
//! fallback's.

mod support;

use axum::http::StatusCode;
use reprise_query_api::spec::ENDPOINTS;
use support::{Fixture, call};

#[tokio::test]
async fn every_row_is_routed_and_nothing_else_is() {
    let mut f = Fixture::new();
    f.add(&[]);
    let s = f.state();
    for e in ENDPOINTS {
        let (status, body) = call(&s, &e.path()).await;
        assert_ne!(body["message"], "no such endpoint", "{} is not routed", e.nsid);
        // Without parameters: a 400 naming the first required one, or an answer.
        match e.params.iter().find(|p| p.required) {
            Some(p) => {
                assert_eq!(status, StatusCode::BAD_REQUEST, "{}: {body}", e.nsid);
                assert_eq!(body["message"], format!("{} is required", p.name), "{}", e.nsid);
            }
            None if e.rules.is_empty() => assert_eq!(status, StatusCode::OK, "{}: {body}", e.nsid),
            None => assert_eq!(status, StatusCode::BAD_REQUEST, "{}: {body}", e.nsid),
        }
    }
    for path in ["/xrpc/fm.reprise.getNothing", "/xrpc/fm.reprise.gettracks", "/xrpc/fm.reprise.getTracks/x"]
    {
        let (status, body) = call(&s, path).await;
        assert_eq!(
            (status, body["message"].as_str()),
            (StatusCode::NOT_FOUND, Some("no such endpoint")),
            "{path}"
        );
    }
}

/// Hostile query strings reach the parameter checks as text and are refused there, never with a 500.
#[tokio::test]
async fn hostile_query_strings_are_refused_by_name() {
    let mut f = Fixture::new();
    f.add(&[]);
    let s = f.state();
    let long = "a".repeat(20_000);
    let many = "limit=5&".repeat(5_000);
    for (url, want) in [
        ("/xrpc/fm.reprise.getArtist?actor=%FF%FE.com".to_owned(), "actor must be a DID or a handle"),
        ("/xrpc/fm.reprise.getArtist?actor=did:plc:%00".to_owned(), "actor must be a DID, got"),
        (format!("/xrpc/fm.reprise.searchTracks?q={long}"), "q must be 1 to 200 characters"),
        (format!("/xrpc/fm.reprise.getTracks?{many}limit=0"), "limit must be an integer from 1 to 100"),
        ("/xrpc/fm.reprise.getTracks?sort=top%00".to_owned(), "sort must be one of newest, top"),
        (
            "/xrpc/fm.reprise.getTrack?uri=at://did:plc:x/fm.plyr.track/%2E%2E".to_owned(),
            "uri must be an at:// URI",
        ),
        ("/xrpc/fm.reprise.getActivity?cursor=%F0%9F%8E%B5".to_owned(), "malformed cursor"),
    ] {
        let (status, body) = call(&s, &url).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{}: {body}", &url[..80.min(url.len())]);
        assert!(body["message"].as_str().unwrap().starts_with(want), "{}: {body}", &url[..80.min(url.len())]);
    }
}
