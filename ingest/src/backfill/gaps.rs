//! Gap repair: when the log holds gap events (a cursor older than a host keeps, a host switch wider
//! than the replay window, a blind host), every repo the log knows may have missed commits in the gap.
//! Which ones is unknowable from the stream, so all of them are backfilled; repos done at their current
//! rev are skipped cheaply (`getLatestCommit`), so only repos that changed are fetched again. A gap that
//! names a repo (the firehose's `tooBig` commits and `#sync` messages) adds that repo.

use reprise_events::{EventKind, LogReader};

use super::progress::Progress;
use crate::IngestError;

/// What a repair covers: the gap events not yet repaired and the repos to backfill for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GapRepair {
    /// How many unrepaired gap events there are.
    pub gaps: usize,
    /// The seq of the last of them: mark it repaired once every repo is backfilled.
    pub through_seq: i64,
    /// Every DID with a commit in the log, and every DID a gap names.
    pub dids: Vec<String>,
}

/// The repair the log needs, or `None` when every gap is repaired.
pub fn plan_gap_repair(reader: &LogReader, progress: &Progress) -> Result<Option<GapRepair>, IngestError> {
    let gaps = reader.read_kind_after(EventKind::Gap, progress.gaps_repaired_through()?)?;
    let Some(last) = gaps.last() else { return Ok(None) };
    // A gap that names its repo (a firehose `tooBig` commit or `#sync`) may be about a repo the log has
    // no commit of yet.
    let mut dids = reader.dids_with(EventKind::Commit)?;
    dids.extend(gaps.iter().filter_map(|g| g.envelope.did.clone()));
    dids.sort();
    dids.dedup();
    Ok(Some(GapRepair { gaps: gaps.len(), through_seq: last.seq, dids }))
}

#[cfg(test)]
mod tests {
    use reprise_events::{Envelope, EventLog, GapRange, NewEvent, Operation};

    use super::*;

    fn event(envelope: Envelope) -> NewEvent {
        NewEvent { envelope, frame: b"{}".to_vec(), source_cursor: None, received_at_us: 1 }
    }

    #[test]
    fn gaps_are_repaired_once_and_new_gaps_plan_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = EventLog::open(dir.path()).unwrap();
        let progress = Progress::open(dir.path()).unwrap();
        let commit = Envelope {
            kind: Some(EventKind::Commit),
            did: Some("did:plc:a".into()),
            collection: Some("fm.plyr.track".into()),
            rkey: Some("k".into()),
            operation: Some(Operation::Delete),
            rev: Some("3kaaaaaaaaaa2".into()),
            ..Default::default()
        };
        log.append("h", &[event(commit)], None).unwrap();
        assert_eq!(plan_gap_repair(&log.reader().unwrap(), &progress).unwrap(), None);
        log.append("h", &[event(Envelope::gap(GapRange { from: 1, to: 2 }))], None).unwrap();
        let plan = plan_gap_repair(&log.reader().unwrap(), &progress).unwrap().unwrap();
        assert_eq!(plan, GapRepair { gaps: 1, through_seq: 2, dids: vec!["did:plc:a".into()] });
        progress.mark_gaps_repaired(plan.through_seq, plan.gaps, plan.dids.len()).unwrap();
        assert_eq!(plan_gap_repair(&log.reader().unwrap(), &progress).unwrap(), None);
        log.append("h", &[event(Envelope::gap(GapRange { from: 5, to: 9 }))], None).unwrap();
        assert_eq!(
            plan_gap_repair(&log.reader().unwrap(), &progress).unwrap().map(|p| p.through_seq),
            Some(3)
        );
        let too_big =
            Envelope { did: Some("did:plc:b".into()), ..Envelope::gap(GapRange { from: 9, to: 10 }) };
        log.append("h", &[event(too_big)], None).unwrap();
        let plan = plan_gap_repair(&log.reader().unwrap(), &progress).unwrap().unwrap();
        assert_eq!(plan.dids, ["did:plc:a", "did:plc:b"], "the repo a gap names is repaired too");
    }
}
