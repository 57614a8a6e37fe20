//! Snapshots and log archives against both object-store backends: local files and S3 (a real s3s-fs).

#[path = "../../store/tests/support/s3s.rs"]
mod s3s;
#[macro_use]
#[path = "../../store/tests/support/backends.rs"]
mod backends;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use reprise_events::EventLog;
use reprise_ingest::{FixtureOptions, ingest_fixture};
use reprise_projector::{Catalog, Projector, VIEWS_FILE, rebuild};
use reprise_snapshots::{
    ExportOptions, SnapshotError, create_snapshot, export_log, import_log, list_snapshots, prune_snapshots,
    restore_snapshot,
};
use reprise_store::{ObjectKey, ObjectStore};
use reprise_testkit::dump_views;

/// Generated traffic split into two fixture files (two sources), so a node can be taken half way.
struct Traffic {
    dir: tempfile::TempDir,
}

impl Traffic {
    fn new(events: u64) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut all = Vec::new();
        reprise_testkit::generate(&mut all, events, 40, 7, &reprise_testkit::Mix::default())
            .expect("generate");
        let text = String::from_utf8(all).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        let (a, b) = lines.split_at(lines.len() / 2);
        std::fs::write(dir.path().join("part-1.jsonl"), a.join("\n") + "\n").expect("write");
        std::fs::write(dir.path().join("part-2.jsonl"), b.join("\n") + "\n").expect("write");
        Traffic { dir }
    }

    fn part(&self, n: u8) -> PathBuf {
        self.dir.path().join(format!("part-{n}.jsonl"))
    }
}

fn ingest(data: &Path, fixture: &Path) -> i64 {
    let mut log = EventLog::open(data).expect("open log");
    ingest_fixture(&mut log, fixture, &FixtureOptions::default(), &reprise_events::Shutdown::new())
        .expect("ingest");
    log.head()
}

fn project(data: &Path) -> i64 {
    let mut p = Projector::open(data, 300, Arc::new(Catalog::builtin())).expect("projector");
    p.catch_up(None).expect("catch up").checkpoint
}

/// The read models of a full rebuild of `data`'s log (up to `until`).
fn rebuilt(data: &Path, until: Option<i64>) -> String {
    let out = tempfile::tempdir().expect("temp dir");
    let views = out.path().join(VIEWS_FILE);
    rebuild(data, &views, until, &Catalog::builtin()).expect("rebuild");
    dump_views(&views)
}

fn log_rows(data: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(data.join("events.db")).expect("open");
    let mut stmt = conn.prepare("SELECT * FROM events ORDER BY seq").expect("prepare");
    let n = stmt.column_count();
    let mut rows: Vec<String> = stmt
        .query_map([], |r| {
            Ok((0..n).map(|i| format!("{:?}", r.get_ref(i).unwrap())).collect::<Vec<_>>().join("|"))
        })
        .expect("query")
        .map(Result::unwrap)
        .collect();
    let mut cursors = conn.prepare("SELECT * FROM source_cursors ORDER BY source").expect("prepare");
    rows.extend(
        cursors
            .query_map([], |r| Ok(format!("{:?}|{:?}|{:?}", r.get_ref(0)?, r.get_ref(1)?, r.get_ref(2)?)))
            .expect("query")
            .map(Result::unwrap),
    );
    rows
}

fn snapshot_key(id: &str) -> ObjectKey {
    ObjectKey::new("snapshots", id, "views.db.zst").expect("key")
}

async fn rewrite(store: &dyn ObjectStore, key: &ObjectKey, change: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = store.get(key, None).await.expect("get").bytes().await.expect("body");
    change(&mut bytes);
    store.put_bytes(key, bytes.into(), "application/octet-stream").await.expect("put");
}

fn refused<T: std::fmt::Debug>(r: Result<T, SnapshotError>, expected: &str) {
    match r {
        Err(SnapshotError::Refused(msg)) => {
            assert!(msg.contains(expected), "expected {expected:?} in {msg:?}")
        }
        other => panic!("expected a refusal containing {expected:?}, got {other:?}"),
    }
}

async fn restore_then_tail_equals_a_full_rebuild(store: &dyn ObjectStore) {
    let traffic = Traffic::new(1_500);
    let data = tempfile::tempdir().expect("data dir");
    ingest(data.path(), &traffic.part(1));
    let half = project(data.path());
    let manifest = create_snapshot(store, data.path()).await.expect("snapshot");
    assert_eq!(manifest.checkpoint_seq, half);
    assert_eq!(manifest.schema_version, reprise_projector::SCHEMA_VERSION);
    assert!(
        manifest.row_counts["tracks"] > 0 && manifest.row_counts["checkpoint"] == 1,
        "{:?}",
        manifest.row_counts
    );
    assert!(manifest.object.bytes > 0 && manifest.object.bytes < manifest.db.bytes);

    // The node moves on, then its read models are lost: restore, and let the projector tail the log.
    let full = ingest(data.path(), &traffic.part(2));
    assert!(full > half);
    project(data.path());
    std::fs::write(data.path().join(VIEWS_FILE), b"lost").expect("clobber");
    let restored = restore_snapshot(store, data.path(), "latest").await.expect("restore");
    assert_eq!(restored, manifest);
    assert_eq!(
        rusqlite::Connection::open(data.path().join(VIEWS_FILE))
            .unwrap()
            .query_row("SELECT seq FROM checkpoint", [], |r| r.get::<_, i64>(0))
            .unwrap(),
        half
    );
    assert_eq!(project(data.path()), full);
    assert_eq!(dump_views(&data.path().join(VIEWS_FILE)), rebuilt(data.path(), None));
}

async fn a_replica_from_segments_and_a_snapshot_equals_the_origin(store: &dyn ObjectStore) {
    let traffic = Traffic::new(1_200);
    let origin = tempfile::tempdir().expect("origin");
    ingest(origin.path(), &traffic.part(1));
    let seg = ExportOptions { segment_events: 250, ..Default::default() };
    // Only full segments are sealed; a re-run uploads nothing new.
    let first = export_log(store, origin.path(), seg).await.expect("export");
    assert_eq!(first.uploaded.len() as i64, first.head / 250);
    assert_eq!(first.uploaded[0].first_seq, 1);
    let again = export_log(store, origin.path(), seg).await.expect("export again");
    assert_eq!((again.uploaded.len(), again.kept), (0, first.uploaded.len()));

    ingest(origin.path(), &traffic.part(2));
    project(origin.path());
    create_snapshot(store, origin.path()).await.expect("snapshot");
    let head = EventLog::open(origin.path()).unwrap().head();
    let rest = export_log(store, origin.path(), ExportOptions { to: Some(head), ..seg })
        .await
        .expect("seal the rest");
    assert_eq!(rest.uploaded[0].first_seq, first.next_seq);
    assert_eq!(rest.uploaded.last().unwrap().last_seq, head);
    assert_eq!(rest.next_seq, head + 1);

    let replica = tempfile::tempdir().expect("replica");
    let imported = import_log(store, replica.path()).await.expect("import");
    assert_eq!((imported.head, imported.events), (head, head));
    restore_snapshot(store, replica.path(), "latest").await.expect("restore");
    project(replica.path());
    assert_eq!(log_rows(replica.path()), log_rows(origin.path()));
    assert_eq!(dump_views(&replica.path().join(VIEWS_FILE)), dump_views(&origin.path().join(VIEWS_FILE)));
    // The cursors came along: the replica's ingest resumes, finding everything already there.
    let mut log = EventLog::open(replica.path()).unwrap();
    let r = ingest_fixture(
        &mut log,
        &traffic.part(2),
        &FixtureOptions::default(),
        &reprise_events::Shutdown::new(),
    )
    .unwrap();
    assert_eq!((r.appended, log.head()), (0, head));

    // A node that holds anything refuses an import, unchanged.
    refused(import_log(store, replica.path()).await, "not empty");
    assert_eq!(log_rows(replica.path()), log_rows(origin.path()));
}

async fn corrupt_truncated_and_unknown_snapshots_are_refused_and_change_nothing(store: &dyn ObjectStore) {
    let traffic = Traffic::new(600);
    let data = tempfile::tempdir().expect("data dir");
    ingest(data.path(), &traffic.part(1));
    project(data.path());
    let m = create_snapshot(store, data.path()).await.expect("snapshot");
    ingest(data.path(), &traffic.part(2));
    project(data.path());
    let views = data.path().join(VIEWS_FILE);
    let before = std::fs::read(&views).unwrap();
    let unchanged = || assert!(std::fs::read(&views).unwrap() == before, "views.db changed");
    let no_temporaries = || {
        let left: Vec<_> = std::fs::read_dir(data.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(left.is_empty(), "temporary files left: {left:?}");
    };

    let original = store.get(&snapshot_key(&m.id), None).await.unwrap().bytes().await.unwrap();
    rewrite(store, &snapshot_key(&m.id), |b| b.truncate(b.len() - 100)).await;
    refused(restore_snapshot(store, data.path(), &m.id).await, "truncated");
    unchanged();
    rewrite(store, &snapshot_key(&m.id), |b| {
        b.clear();
        b.extend_from_slice(&original);
        let mid = b.len() / 2;
        b[mid] ^= 0x40;
    })
    .await;
    refused(restore_snapshot(store, data.path(), &m.id).await, "corrupt");
    unchanged();
    no_temporaries();

    let manifest_key = ObjectKey::new("snapshots", &m.id, "manifest.json").unwrap();
    store.put_bytes(&snapshot_key(&m.id), original.into(), "application/zstd").await.unwrap();
    let edit = |field: &'static str, value: serde_json::Value| {
        move |b: &mut Vec<u8>| {
            let mut v: serde_json::Value = serde_json::from_slice(b).unwrap();
            v[field] = value;
            *b = serde_json::to_vec(&v).unwrap();
        }
    };
    rewrite(store, &manifest_key, edit("schema_version", 99.into())).await;
    refused(restore_snapshot(store, data.path(), &m.id).await, "schema version 99");
    rewrite(store, &manifest_key, edit("format", 7.into())).await;
    refused(restore_snapshot(store, data.path(), &m.id).await, "manifest format 7");
    let listed = list_snapshots(store).await.unwrap();
    assert!(listed[0].manifest.as_ref().is_err_and(|e| e.contains("manifest format 7")), "{listed:?}");
    store.put_bytes(&manifest_key, b"{not json".to_vec().into(), "application/json").await.unwrap();
    refused(restore_snapshot(store, data.path(), &m.id).await, "not JSON");
    unchanged();
    assert!(matches!(
        restore_snapshot(store, data.path(), "no-such-id").await,
        Err(SnapshotError::NotFound(_))
    ));
    assert!(matches!(restore_snapshot(store, data.path(), "../x").await, Err(SnapshotError::NotFound(_))));

    // A sound snapshot meant for another log (a node whose log lacks, or differs at, the checkpoint).
    let good = create_snapshot(store, data.path()).await.expect("snapshot");
    let other = tempfile::tempdir().unwrap();
    refused(restore_snapshot(store, other.path(), &good.id).await, "import the log first");
    ingest(other.path(), &traffic.part(2));
    ingest(other.path(), &traffic.part(1));
    refused(restore_snapshot(store, other.path(), &good.id).await, "another log");
    assert!(!other.path().join(VIEWS_FILE).exists());
    unchanged();
}

async fn corrupt_truncated_and_gapped_segments_are_refused_and_change_nothing(store: &dyn ObjectStore) {
    let traffic = Traffic::new(600);
    let origin = tempfile::tempdir().expect("origin");
    let head = ingest(origin.path(), &traffic.part(1));
    let opts = ExportOptions { to: Some(head), segment_events: 100, ..Default::default() };
    let r = export_log(store, origin.path(), opts).await.expect("export");
    let key = |i: usize| {
        let s = &r.uploaded[i];
        ObjectKey::new("log", "segments", &format!("{}-{}.db.zst", s.first_seq, s.last_seq)).unwrap()
    };
    let replica = tempfile::tempdir().expect("replica");
    let empty = || {
        assert!(!replica.path().join("events.db").exists(), "the log was created");
        assert_eq!(std::fs::read_dir(replica.path()).unwrap().count(), 0, "files left behind");
    };
    let last = r.uploaded.len() - 1;
    let original = store.get(&key(last), None).await.unwrap().bytes().await.unwrap();
    rewrite(store, &key(last), |b| b.truncate(b.len() / 2)).await;
    refused(import_log(store, replica.path()).await, "truncated");
    empty();
    rewrite(store, &key(last), |b| {
        b.clear();
        b.extend_from_slice(&original);
        b[40] ^= 1;
    })
    .await;
    refused(import_log(store, replica.path()).await, "corrupt");
    empty();
    store.put_bytes(&key(last), original.into(), "application/zstd").await.unwrap();

    let manifest = ObjectKey::new("log", "manifest", "manifest.json").unwrap();
    let saved = store.get(&manifest, None).await.unwrap().bytes().await.unwrap();
    rewrite(store, &manifest, |b| {
        let mut v: serde_json::Value = serde_json::from_slice(b).unwrap();
        v["segments"].as_array_mut().unwrap().remove(1);
        *b = serde_json::to_vec(&v).unwrap();
    })
    .await;
    refused(import_log(store, replica.path()).await, "without gaps");
    rewrite(store, &manifest, |b| {
        let mut v: serde_json::Value = serde_json::from_slice(&saved).unwrap();
        v["log_format"] = 42.into();
        *b = serde_json::to_vec(&v).unwrap();
    })
    .await;
    refused(import_log(store, replica.path()).await, "log format 42");
    refused(export_log(store, origin.path(), opts).await, "log format 42");
    empty();
    store.put_bytes(&manifest, saved.into(), "application/json").await.unwrap();
    refused(export_log(store, origin.path(), ExportOptions { from: Some(head + 5), ..opts }).await, "gap");
    refused(
        export_log(store, origin.path(), ExportOptions { to: Some(head + 1), ..opts }).await,
        "past the log's head",
    );
    assert_eq!(import_log(store, replica.path()).await.expect("intact again").head, head);
}

async fn retention_keeps_the_newest_snapshots(store: &dyn ObjectStore) {
    let traffic = Traffic::new(300);
    let data = tempfile::tempdir().expect("data dir");
    ingest(data.path(), &traffic.part(1));
    project(data.path());
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(create_snapshot(store, data.path()).await.expect("snapshot").id);
    }
    assert_eq!(prune_snapshots(store, 0).await.unwrap(), Vec::<String>::new());
    assert_eq!(prune_snapshots(store, 2).await.unwrap(), ids[..1]);
    let listed: Vec<String> = list_snapshots(store).await.unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(listed, ids[1..]);
    let objects = store.list("snapshots").await.unwrap();
    assert_eq!(objects.len(), 4, "{objects:?}");
}

every_backend!(
    restore_then_tail_equals_a_full_rebuild,
    a_replica_from_segments_and_a_snapshot_equals_the_origin,
    corrupt_truncated_and_unknown_snapshots_are_refused_and_change_nothing,
    corrupt_truncated_and_gapped_segments_are_refused_and_change_nothing,
    retention_keeps_the_newest_snapshots,
);
