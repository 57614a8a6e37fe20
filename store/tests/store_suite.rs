//! One test suite, run against every object-store backend: local files and S3 (a real s3s-fs server).

#[path = "support/s3s.rs"]
mod s3s;
#[macro_use]
#[path = "support/backends.rs"]
mod backends;

use std::time::Duration;

use bytes::Bytes;
use reprise_store::put_reader;
use reprise_store::{ByteRange, ObjectKey, ObjectStore, StoreError};

fn key(name: &str) -> ObjectKey {
    ObjectKey::new("originals", "bafkreitestcid", name).expect("valid key")
}

fn sample(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

async fn put_then_get_round_trips(store: &dyn ObjectStore) {
    let data = sample(300_000);
    store.put_bytes(&key("a"), Bytes::from(data.clone()), "audio/flac").await.expect("put");
    let got = store.get(&key("a"), None).await.expect("get");
    assert_eq!(got.meta.size, 300_000);
    assert_eq!(got.meta.content_type, "audio/flac");
    assert_eq!(got.range, None);
    assert_eq!(got.bytes().await.expect("body"), data);
}

async fn ranges_return_the_asked_bytes(store: &dyn ObjectStore) {
    let data = sample(10_000);
    store.put_bytes(&key("r"), Bytes::from(data.clone()), "audio/mpeg").await.expect("put");
    for (range, first, last) in [
        (ByteRange::Inclusive(0, 0), 0, 0),
        (ByteRange::Inclusive(100, 199), 100, 199),
        (ByteRange::Inclusive(9_990, 20_000), 9_990, 9_999),
        (ByteRange::From(9_000), 9_000, 9_999),
        (ByteRange::Suffix(10), 9_990, 9_999),
    ] {
        let got = store.get(&key("r"), Some(range)).await.expect("ranged get");
        assert_eq!(got.range, Some((first, last)), "{range:?}");
        assert_eq!(got.meta.size, 10_000, "{range:?}");
        assert_eq!(got.bytes().await.expect("body"), &data[first as usize..=last as usize], "{range:?}");
    }
    let err = store.get(&key("r"), Some(ByteRange::From(10_000))).await.expect_err("past the end");
    assert!(matches!(err, StoreError::RangeNotSatisfiable { size: 10_000 }), "{err:?}");
}

async fn head_and_exists_see_only_stored_objects(store: &dyn ObjectStore) {
    assert_eq!(store.head(&key("h")).await.expect("head"), None);
    assert!(!store.exists(&key("h")).await.expect("exists"));
    store.put_bytes(&key("h"), Bytes::from_static(b"abc"), "audio/wav").await.expect("put");
    let meta = store.head(&key("h")).await.expect("head").expect("present");
    assert_eq!((meta.size, meta.content_type.as_str()), (3, "audio/wav"));
    assert!(store.exists(&key("h")).await.expect("exists"));
}

async fn a_missing_object_is_not_found(store: &dyn ObjectStore) {
    let err = store.get(&key("missing"), None).await.expect_err("missing");
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
}

async fn put_replaces_the_previous_object(store: &dyn ObjectStore) {
    store.put_bytes(&key("o"), Bytes::from_static(b"first version"), "audio/mpeg").await.expect("put");
    store.put_bytes(&key("o"), Bytes::from_static(b"second"), "audio/ogg").await.expect("put again");
    let got = store.get(&key("o"), None).await.expect("get");
    assert_eq!(got.meta.content_type, "audio/ogg");
    assert_eq!(got.bytes().await.expect("body"), b"second");
}

async fn put_file_and_reader_store_their_bytes(store: &dyn ObjectStore) {
    let data = sample(70_000);
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), &data).expect("write");
    store.put_file(&key("f"), file.path(), "audio/mpeg").await.expect("put file");
    assert_eq!(store.get(&key("f"), None).await.expect("get").bytes().await.expect("body"), data);
    let size = put_reader(store, &key("s"), &mut &data[..], "audio/mpeg").await.expect("put reader");
    assert_eq!(size, 70_000);
    assert_eq!(store.get(&key("s"), None).await.expect("get").bytes().await.expect("body"), data);
}

async fn presigned_urls_serve_the_object_when_offered(store: &dyn ObjectStore) {
    store.put_bytes(&key("p"), Bytes::from_static(b"presigned body"), "audio/mpeg").await.expect("put");
    let Some(url) = store.presign_get(&key("p"), Duration::from_secs(60)).await.expect("presign") else {
        return;
    };
    let response = reqwest::get(&url).await.expect("GET presigned");
    assert_eq!(response.status(), 200, "{url}");
    assert_eq!(&response.bytes().await.expect("body")[..], b"presigned body");
}

async fn list_names_the_objects_under_a_prefix(store: &dyn ObjectStore) {
    assert_eq!(store.list("snapshots").await.expect("list empty"), vec![]);
    let put = |prefix: &'static str, cid: &'static str, name: &'static str, len: usize| async move {
        let key = ObjectKey::new(prefix, cid, name).expect("key");
        store.put_bytes(&key, Bytes::from(sample(len)), "application/zstd").await.expect("put");
        key
    };
    let b = put("snapshots", "id-2", "data.zst", 10).await;
    let a = put("snapshots", "id-1", "manifest.json", 3).await;
    let c = put("snapshots", "id-2", "manifest.json", 0).await;
    put("snapshotsx", "id-1", "other", 5).await;
    put("originals", "id-1", "x", 5).await;
    let listed = store.list("snapshots").await.expect("list");
    let got: Vec<(String, u64)> = listed.iter().map(|o| (o.key.as_path(), o.size)).collect();
    assert_eq!(got, vec![(a.as_path(), 3), (b.as_path(), 10), (c.as_path(), 0)]);
    let err = store.list("../etc").await.expect_err("a prefix cannot escape");
    assert!(matches!(err, StoreError::InvalidKey(_)), "{err:?}");
}

async fn delete_removes_the_object_and_tolerates_a_missing_one(store: &dyn ObjectStore) {
    store.put_bytes(&key("d"), Bytes::from_static(b"bye"), "audio/mpeg").await.expect("put");
    store.put_bytes(&key("kept"), Bytes::from_static(b"stay"), "audio/mpeg").await.expect("put");
    store.delete(&key("d")).await.expect("delete");
    assert!(!store.exists(&key("d")).await.expect("exists"));
    assert!(matches!(store.get(&key("d"), None).await, Err(StoreError::NotFound)));
    store.delete(&key("d")).await.expect("deleting again is fine");
    store.delete(&key("never")).await.expect("deleting a missing key is fine");
    let names: Vec<String> =
        store.list("originals").await.expect("list").into_iter().map(|o| o.key.name().to_owned()).collect();
    assert_eq!(names, ["kept"]);
}

#[test]
fn keys_cannot_escape_the_store() {
    for (prefix, cid, name) in
        [("..", "c", "n"), ("p", "../../etc", "n"), ("p", "c", ""), ("p", "c", "a/b"), ("p", "c", ".hidden")]
    {
        assert!(ObjectKey::new(prefix, cid, name).is_err(), "{prefix}/{cid}/{name}");
    }
    for path in ["a/b", "a/b/c/d", "../b/c", "a//c"] {
        assert!(ObjectKey::from_path(path).is_err(), "{path}");
    }
    assert_eq!(ObjectKey::from_path("a/b/c").expect("valid").as_path(), "a/b/c");
}

every_backend!(
    put_then_get_round_trips,
    ranges_return_the_asked_bytes,
    head_and_exists_see_only_stored_objects,
    a_missing_object_is_not_found,
    put_replaces_the_previous_object,
    put_file_and_reader_store_their_bytes,
    presigned_urls_serve_the_object_when_offered,
    list_names_the_objects_under_a_prefix,
    delete_removes_the_object_and_tolerates_a_missing_one,
);

#[tokio::test]
async fn s3_offers_presigned_urls() {
    let backend = backends::s3();
    let url = backend.store.presign_get(&key("x"), Duration::from_secs(60)).await.expect("presign");
    assert!(url.is_some_and(|u| u.contains("X-Amz-Signature")));
}
