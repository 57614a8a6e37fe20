//! WAL checkpoints on their own thread, so the appender only ever waits for its own WAL fsync.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses the threshold, copying megabytes
//! into the database file and fsyncing it while the appender waits. Here the appender's connection has
//! automatic checkpoints off and nudges this thread instead, which checkpoints with its own connection
//! (PASSIVE: it never blocks the writer or readers).

use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

use rusqlite::Connection;

use crate::LogError;

/// The log's commits between nudges: about 4 MB of WAL at 1,000 typical events per commit.
pub(crate) const COMMITS_PER_CHECKPOINT: u32 = 5;

/// Checkpoints one WAL-mode database file on a background thread; the projector uses one for
/// `views.db` too. The writer's own connection must have `wal_autocheckpoint = 0`.
#[derive(Debug)]
pub struct Checkpointer {
    nudge: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
    commits: u32,
    every: u32,
}

impl Checkpointer {
    /// Starts the thread; it checkpoints after every `every` commits.
    pub fn start(path: &Path, every: u32) -> Result<Self, LogError> {
        let conn = Connection::open(path)?;
        conn.execute_batch("PRAGMA busy_timeout = 5000; PRAGMA synchronous = FULL;")?;
        // One pending nudge is enough: a checkpoint covers every frame committed before it starts.
        let (nudge, rx) = sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("events-checkpoint".into())
            .spawn(move || run(conn, rx))
            .map_err(|e| LogError::Io { path: path.to_owned(), source: e })?;
        Ok(Checkpointer { nudge: Some(nudge), thread: Some(thread), commits: 0, every: every.max(1) })
    }

    /// Called after each commit.
    pub fn committed(&mut self) {
        self.commits += 1;
        if self.commits >= self.every {
            self.commits = 0;
            if let Some(n) = &self.nudge {
                match n.try_send(()) {
                    Ok(()) | Err(TrySendError::Full(())) => {}
                    Err(TrySendError::Disconnected(())) => self.nudge = None,
                }
            }
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.nudge = None; // ends the thread after a last checkpoint
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(conn: Connection, nudges: Receiver<()>) {
    while nudges.recv().is_ok() {
        checkpoint(&conn);
    }
    checkpoint(&conn);
}

fn checkpoint(conn: &Connection) {
    // A failed checkpoint loses nothing (the frames stay in the WAL); the next one retries.
    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
}
