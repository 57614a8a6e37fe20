//! `reprise ingest --fixture FILE.jsonl`: Jetstream v1 frames, one per line, into the log.
//!
//! The whole file is read every time and the log drops what it already holds, so ingesting a file
//! twice, or again after a crash, adds nothing the second time. The source is named after the file,
//! and the line number is its cursor.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use reprise_events::{Envelope, EventLog, NewEvent, Shutdown};

use crate::lines::{CappedLine, read_capped};
use crate::{IngestError, decode_v1, now_us};

#[derive(Debug, Clone)]
pub struct FixtureOptions {
    /// Events per log transaction.
    pub batch_size: usize,
    /// Longer lines are kept only up to this many bytes and rejected as oversized.
    pub max_frame_bytes: usize,
}

impl Default for FixtureOptions {
    fn default() -> Self {
        FixtureOptions { batch_size: 1000, max_frame_bytes: 4 << 20 }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FixtureReport {
    pub source: String,
    pub lines: u64,
    pub appended: u64,
    pub duplicates: u64,
    pub rejected: u64,
    /// Stopped early because shutdown was requested (after finishing the current batch).
    pub interrupted: bool,
}

/// The log source name for a fixture file.
pub fn fixture_source(path: &Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_else(|| path.to_string_lossy());
    format!("fixture:{name}")
}

/// Decoded batches waiting for the log writer: two keep the decoder busy while the writer waits on
/// fsync, and bound memory to a few thousand frames whatever the file size.
const BATCHES_IN_FLIGHT: usize = 2;

/// Appends every line of `path` to `log`. Checks `shutdown` between batches.
///
/// Reading and decoding run on their own thread, feeding the writer through a bounded channel, so
/// parsing overlaps the writer's fsync instead of waiting for it.
pub fn ingest_fixture(
    log: &mut EventLog,
    path: &Path,
    opts: &FixtureOptions,
    shutdown: &Shutdown,
) -> Result<FixtureReport, IngestError> {
    let read_err = |source| IngestError::Read { path: path.to_owned(), source };
    let mut reader = BufReader::with_capacity(1 << 20, File::open(path).map_err(read_err)?);
    let mut report = FixtureReport { source: fixture_source(path), ..Default::default() };
    let batch_size = opts.batch_size.max(1);
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<NewEvent>>(BATCHES_IN_FLIGHT);
    std::thread::scope(|scope| {
        let decoder = scope.spawn(move || -> std::io::Result<()> {
            let mut lines = 0i64;
            let mut line = CappedLine::default();
            let mut batch = Vec::with_capacity(batch_size);
            while read_capped(&mut reader, &mut line, opts.max_frame_bytes)? {
                lines += 1;
                batch.push(to_event(&line, lines, opts.max_frame_bytes));
                if batch.len() >= batch_size {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(batch_size));
                    if tx.send(full).is_err() {
                        break; // the writer stopped
                    }
                }
            }
            if !batch.is_empty() {
                let _ = tx.send(batch);
            }
            Ok(())
        });
        let mut written = Ok(());
        for mut batch in rx.iter() {
            written = flush(log, &mut report, &mut batch);
            if written.is_err() || shutdown.is_stopped() {
                report.interrupted = written.is_ok();
                break;
            }
        }
        // Dropping the receiver (end of `rx.iter()` scope) unblocks a decoder still sending.
        drop(rx);
        decoder.join().expect("fixture decoder panicked").map_err(read_err)?;
        written?;
        Ok(report)
    })
}

fn to_event(line: &CappedLine, line_no: i64, max: usize) -> NewEvent {
    let envelope = if line.truncated() {
        Envelope::rejected(crate::stream::oversized(line.full_len, max))
    } else if line.bytes.iter().all(u8::is_ascii_whitespace) {
        Envelope::rejected("empty line")
    } else {
        let mut decoded = decode_v1(&line.bytes).envelope;
        if line.unterminated && decoded.reject_reason.is_some() {
            let reason = decoded.reject_reason.take().unwrap_or_default();
            decoded.reject_reason = Some(format!("torn final line (no newline): {reason}"));
        }
        decoded
    };
    NewEvent { envelope, frame: line.bytes.clone(), source_cursor: Some(line_no), received_at_us: now_us() }
}

fn flush(
    log: &mut EventLog,
    report: &mut FixtureReport,
    batch: &mut Vec<NewEvent>,
) -> Result<(), IngestError> {
    if batch.is_empty() {
        return Ok(());
    }
    let cursor = batch.last().and_then(|e| e.source_cursor);
    report.lines += batch.len() as u64;
    report.rejected += batch.iter().filter(|e| e.envelope.reject_reason.is_some()).count() as u64;
    let out = log.append(&report.source, batch, cursor)?;
    report.appended += out.appended as u64;
    report.duplicates += out.duplicates as u64;
    tracing::debug!(source = %report.source, appended = out.appended, duplicates = out.duplicates, head = out.head, "appended batch");
    batch.clear();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingesting_a_file_again_never_moves_its_cursor_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lines.jsonl");
        let lines: String = (0..2_500).map(|i| format!("not json {i}\n")).collect();
        std::fs::write(&path, lines).unwrap();
        let mut log = EventLog::open(&dir.path().join("data")).unwrap();
        let opts = FixtureOptions { batch_size: 1000, ..Default::default() };
        ingest_fixture(&mut log, &path, &opts, &Shutdown::new()).unwrap();
        let source = fixture_source(&path);
        assert_eq!(log.cursor(&source).unwrap().unwrap().cursor, 2_500);
        // Read again from line 1 and stopped after its first batch (a restart, a kill): the file was
        // already read to its end, so its position stays there.
        let stopped = Shutdown::new();
        stopped.stop();
        let r = ingest_fixture(&mut log, &path, &opts, &stopped).unwrap();
        assert!(r.interrupted && r.lines == 1000 && r.duplicates == 1000, "{r:?}");
        assert_eq!(log.cursor(&source).unwrap().unwrap().cursor, 2_500);
    }
}
