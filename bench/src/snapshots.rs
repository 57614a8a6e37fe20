//! `snapshots`: snapshot create and restore of the read models, and log export and import, on the
//! `--events` node (the `log` suite's log plus its rebuilt views.db) through the local object store.
//! Each is compared with a plain copy of the same file on the same disk, measured in the same run.

use std::path::{Path, PathBuf};
use std::time::Instant;

use reprise_snapshots::{ExportOptions, create_snapshot, export_log, import_log, restore_snapshot};
use reprise_store::{LocalStore, ObjectStore};

use crate::Options;
use crate::measure::{emit, median_of};
use crate::suites::{err, fresh_dir, logged_node};

fn seconds(f: impl FnOnce() -> Result<(), String>) -> Result<f64, String> {
    let t = Instant::now();
    f()?;
    Ok(t.elapsed().as_secs_f64())
}

/// A plain copy of `file` (read and written once, then fsynced): what any archive step costs at least.
fn copy_seconds(file: &Path, scratch: &Path) -> Result<f64, String> {
    let target = scratch.join("copy");
    let s = seconds(|| {
        std::fs::copy(file, &target).map_err(err)?;
        std::fs::File::open(&target).and_then(|f| f.sync_all()).map_err(err)
    });
    std::fs::remove_file(&target).map_err(err)?;
    s
}

/// The node the suite works on: the log suite's events.db (hard-linked) and a rebuilt views.db.
fn node(opts: &Options) -> Result<PathBuf, String> {
    let log = logged_node(opts)?;
    let node = opts.dir.join(format!("snapshot-node-{}", opts.events));
    if !node.join("views.db").exists() {
        fresh_dir(&node)?;
        std::fs::hard_link(log.join("events.db"), node.join("events.db"))
            .or_else(|_| std::fs::copy(log.join("events.db"), node.join("events.db")).map(|_| ()))
            .map_err(err)?;
        eprintln!("rebuilding the read models of {} events for the snapshots suite", opts.events);
        let catalog = reprise_projector::Catalog::builtin();
        reprise_projector::rebuild(&node, &node.join("views.db"), None, &catalog).map_err(err)?;
    }
    Ok(node)
}

pub fn run(opts: &Options) -> Result<(), String> {
    let node = node(opts)?;
    let scratch = opts.dir.join("snapshot-scratch");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(err)?;
    let views = node.join("views.db");
    let events = node.join("events.db");
    let (views_bytes, log_bytes) = (size(&views)?, size(&events)?);

    // Snapshot create, then restore of that snapshot into a node holding the same log.
    let views_copy = median_of(opts.runs, || {
        fresh_dir(&scratch)?;
        copy_seconds(&views, &scratch)
    })?;
    let store_dir = scratch.join("store");
    let mut object_bytes = 0;
    let create = median_of(opts.runs, || {
        fresh_dir(&scratch)?;
        let store = LocalStore::new(&store_dir);
        seconds(|| {
            let m = runtime.block_on(create_snapshot(&store, &node)).map_err(err)?;
            object_bytes = m.object.bytes;
            Ok(())
        })
    })?;
    emit("snapshots", "snapshot_create_seconds", create, "s", views_copy);
    emit("snapshots", "snapshot_object_bytes", object_bytes as f64, "bytes", views_bytes as f64);
    let restore_node = scratch.join("restore-node");
    let restore = median_of(opts.runs, || {
        fresh_dir(&restore_node)?;
        std::fs::hard_link(&events, restore_node.join("events.db")).map_err(err)?;
        let store = LocalStore::new(&store_dir);
        seconds(|| {
            runtime.block_on(restore_snapshot(&store, &restore_node, "latest")).map(|_| ()).map_err(err)
        })
    })?;
    emit("snapshots", "snapshot_restore_seconds", restore, "s", views_copy);

    // The whole log exported in 100k-event segments, then imported into an empty node.
    let log_copy = median_of(opts.runs, || {
        fresh_dir(&scratch)?;
        copy_seconds(&events, &scratch)
    })?;
    let head = reprise_events::LogReader::open(&node).map_err(err)?.head().map_err(err)?;
    let mut archive_bytes = 0;
    let export = median_of(opts.runs, || {
        fresh_dir(&scratch)?;
        let store = LocalStore::new(&store_dir);
        let o = ExportOptions { to: Some(head), ..Default::default() };
        seconds(|| {
            let r = runtime.block_on(export_log(&store, &node, o)).map_err(err)?;
            archive_bytes = r.uploaded.iter().map(|s| s.object.bytes).sum();
            Ok(())
        })
    })?;
    emit("snapshots", "log_export_seconds", export, "s", log_copy);
    emit("snapshots", "log_archive_bytes", archive_bytes as f64, "bytes", log_bytes as f64);
    let import_node = scratch.join("import-node");
    let import = median_of(opts.runs, || {
        fresh_dir(&import_node)?;
        let store: &dyn ObjectStore = &LocalStore::new(&store_dir);
        seconds(|| runtime.block_on(import_log(store, &import_node)).map(|_| ()).map_err(err))
    })?;
    emit("snapshots", "log_import_seconds", import, "s", log_copy);
    std::fs::remove_dir_all(&scratch).map_err(err)?;
    Ok(())
}

fn size(path: &Path) -> Result<u64, String> {
    Ok(std::fs::metadata(path).map_err(err)?.len())
}
