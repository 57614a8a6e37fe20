//! Identity resolution against a local server playing the PLC directory and a did:web host, with
//! well-formed, legacy and hostile DID documents.

use reprise_testkit::http_server as http;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::{Reply, TestServer};
use reprise_atproto_net::{
    GuardedHttp, IdentityConfig, IdentityError, IdentityResolver, KeyForm, NetError, NetPolicy,
};

const DID: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";

fn doc(id: &str, key_type: &str, service: &str) -> String {
    format!(
        r#"{{"@context":["https://www.w3.org/ns/did/v1"],"id":"{id}","alsoKnownAs":["https://x.example","at://Artist.example.com"],
        "verificationMethod":[{{"id":"{id}#atproto","type":"{key_type}","controller":"{id}","publicKeyMultibase":"zQ3shXjHeiBuRCKmM36cuYnm7YEMzhGnCmCyW92sRJ9pribSF"}}],
        "service":{service}}}"#
    )
}

fn pds_service(endpoint: &str) -> String {
    format!(
        r##"[{{"id":"#atproto_pds","type":"AtprotoPersonalDataServer","serviceEndpoint":"{endpoint}"}}]"##
    )
}

fn resolver_for(server: &TestServer, ttl_secs: u64) -> IdentityResolver {
    let policy = NetPolicy { allow_private_networks: false, allowed_addrs: vec![server.addr()] };
    let http = GuardedHttp::new(policy, Duration::from_secs(1), Duration::from_millis(500));
    let config = IdentityConfig { plc_url: server.url(), cache_ttl_secs: ttl_secs };
    IdentityResolver::new(&config, http).expect("resolver").did_web_over_http()
}

async fn plc_serving(body: String) -> (TestServer, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let server = TestServer::start(move |path| {
        assert_eq!(path, format!("/{DID}"));
        counter.fetch_add(1, Ordering::SeqCst);
        Reply::json(body.clone())
    })
    .await;
    (server, hits)
}

#[tokio::test]
async fn plc_dids_resolve_to_pds_handle_and_key() {
    let (plc, _) = plc_serving(doc(DID, "Multikey", &pds_service("https://pds.example.com/"))).await;
    let resolved = resolver_for(&plc, 600).resolve(DID).await.expect("resolve");
    assert_eq!(resolved.pds, "https://pds.example.com");
    assert_eq!(resolved.handle.as_deref(), Some("artist.example.com"));
    assert_eq!(resolved.signing_key.as_ref().map(|k| k.form), Some(KeyForm::Multikey));
}

#[tokio::test]
async fn legacy_secp256k1_keys_are_accepted() {
    let body = doc(DID, "EcdsaSecp256k1VerificationKey2019", &pds_service("https://pds.example.com"));
    let (plc, _) = plc_serving(body).await;
    let resolved = resolver_for(&plc, 600).resolve(DID).await.expect("resolve");
    assert_eq!(resolved.signing_key.as_ref().map(|k| k.form), Some(KeyForm::LegacySecp256k1));
}

#[tokio::test]
async fn did_web_documents_come_from_the_well_known_path() {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let host = Arc::new(std::sync::OnceLock::<String>::new());
    let did_cell = host.clone();
    let server = TestServer::start(move |path| {
        assert_eq!(path, "/.well-known/did.json");
        counter.fetch_add(1, Ordering::SeqCst);
        Reply::json(doc(
            did_cell.get().expect("did set"),
            "Multikey",
            &pds_service("https://pds.example.com"),
        ))
    })
    .await;
    let did = format!("did:web:127.0.0.1%3A{}", server.addr().port());
    host.set(did.clone()).expect("set once");
    let resolved = resolver_for(&server, 600).resolve(&did).await.expect("resolve");
    assert_eq!(resolved.pds, "https://pds.example.com");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn results_are_cached_until_invalidated_or_expired() {
    let (plc, hits) = plc_serving(doc(DID, "Multikey", &pds_service("https://pds.example.com"))).await;
    let cached = resolver_for(&plc, 600);
    cached.resolve(DID).await.expect("first");
    cached.resolve(DID).await.expect("second");
    assert_eq!(hits.load(Ordering::SeqCst), 1, "second resolve is served from the cache");
    cached.invalidate(DID);
    cached.resolve(DID).await.expect("after invalidate");
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    let uncached = resolver_for(&plc, 0);
    uncached.resolve(DID).await.expect("ttl 0");
    uncached.resolve(DID).await.expect("ttl 0 again");
    assert_eq!(hits.load(Ordering::SeqCst), 4, "a zero ttl never serves from the cache");
}

type Expect = fn(&IdentityError) -> bool;

fn check_hostile(
    name: &str,
    got: Result<impl std::fmt::Debug, IdentityError>,
    expected: fn(&IdentityError) -> bool,
) {
    match got {
        Err(e) => assert!(expected(&e), "{name}: {e:?}"),
        Ok(v) => panic!("{name}: resolved to {v:?}"),
    }
}

#[tokio::test]
async fn hostile_documents_are_refused() {
    let huge = format!(r#"{{"id":"{DID}","alsoKnownAs":["{}"]}}"#, "a".repeat(100_000));
    let wrong_entries = r##"[42, "x", {"id":"#atproto_pds","type":"AtprotoPersonalDataServer","serviceEndpoint":{"a":1}},
        {"id":"#atproto_pds","type":"SomethingElse","serviceEndpoint":"https://pds.example.com"}]"##;
    let cases: Vec<(&str, String, Expect)> = vec![
        ("no service", doc(DID, "Multikey", "[]"), |e| matches!(e, IdentityError::NoPds)),
        ("wrong entries", doc(DID, "Multikey", wrong_entries), |e| matches!(e, IdentityError::NoPds)),
        ("service not a list", doc(DID, "Multikey", "7"), |e| matches!(e, IdentityError::InvalidDocument(_))),
        (
            "other did",
            doc("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", "Multikey", &pds_service("https://p.example")),
            |e| matches!(e, IdentityError::DidMismatch(_)),
        ),
        ("huge", huge, |e| matches!(e, IdentityError::TooLarge { .. })),
        ("not json", "<html>".into(), |e| matches!(e, IdentityError::InvalidDocument(_))),
        ("loopback pds", doc(DID, "Multikey", &pds_service("http://127.0.0.1:2583")), |e| {
            matches!(e, IdentityError::Net(NetError::Refused { .. }))
        }),
        ("unique-local pds", doc(DID, "Multikey", &pds_service("http://[fd00::1]")), |e| {
            matches!(e, IdentityError::Net(NetError::Refused { .. }))
        }),
        ("metadata pds", doc(DID, "Multikey", &pds_service("http://169.254.169.254/")), |e| {
            matches!(e, IdentityError::Net(NetError::Refused { .. }))
        }),
        ("file pds", doc(DID, "Multikey", &pds_service("file:///etc/passwd")), |e| {
            matches!(e, IdentityError::InvalidEndpoint(_) | IdentityError::Net(NetError::Refused { .. }))
        }),
        ("pds with credentials", doc(DID, "Multikey", &pds_service("https://u:p@pds.example")), |e| {
            matches!(e, IdentityError::InvalidEndpoint(_))
        }),
    ];
    for (name, body, expected) in cases {
        let (plc, _) = plc_serving(body).await;
        check_hostile(name, resolver_for(&plc, 600).resolve(DID).await, expected);
    }
    for (status, expected) in [(404u16, "NotFound"), (410, "Deactivated"), (500, "Status")] {
        let plc = TestServer::start(move |_| Reply::status(status)).await;
        let err = resolver_for(&plc, 600).resolve(DID).await.expect_err("status");
        assert!(format!("{err:?}").starts_with(expected), "{status}: {err:?}");
    }
}

#[tokio::test]
async fn malformed_dids_and_private_directories_are_refused_before_connecting() {
    let plc = TestServer::start(|_| Reply::status(500)).await;
    let resolver = resolver_for(&plc, 600);
    for did in [
        "did:plc:short",
        "did:plc:EWVI7NXZYOUN6ZHXRHS64OIZ",
        "did:web:evil.com/path",
        "did:key:z6Mk",
        "did:web:a%3A1%3A2",
        "",
    ] {
        let err = resolver.resolve(did).await.expect_err(did);
        assert!(matches!(err, IdentityError::InvalidDid(_)), "{did}: {err:?}");
    }
    assert_eq!(plc.accepted(), 0);

    let http = GuardedHttp::new(NetPolicy::default(), Duration::from_secs(1), Duration::from_millis(500));
    let config = IdentityConfig { plc_url: plc.url(), cache_ttl_secs: 600 };
    let guarded = IdentityResolver::new(&config, http).expect("resolver");
    let err = guarded.resolve(DID).await.expect_err("refused");
    assert!(matches!(err, IdentityError::Net(NetError::Refused { .. })), "{err:?}");
    let err = guarded.resolve("did:web:localhost").await.expect_err("refused");
    assert!(matches!(err, IdentityError::Net(NetError::Refused { .. })), "{err:?}");
    assert_eq!(plc.accepted(), 0, "no connection may reach a refused directory");
}
