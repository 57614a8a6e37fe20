//! The ordering rules every read model shares, in one place.
//!
//! Per record, the repo `rev` (a TID, so it sorts as text) decides: a create or update applies only if
//! its rev is newer than the head's; a delete leaves a tombstone carrying its rev, so a replayed older
//! create cannot resurrect the record; the same rev and CID again is a duplicate; an update for a
//! record never seen is a create. Delivery order does not matter: any order of the same events gives
//! the same head.

use reprise_events::Operation;

/// The newest version of one record that was applied (or its tombstone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub rev: String,
    pub cid: Option<String>,
    pub deleted: bool,
}

/// What to do with an incoming commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Apply,
    /// A version with this rev (and CID) was already applied.
    Duplicate,
    /// A newer version is already applied.
    OlderRev,
    /// The record was deleted at a newer or equal rev.
    Tombstoned,
}

pub fn decide(head: Option<&Head>, op: Operation, rev: &str, cid: Option<&str>) -> Decision {
    let Some(head) = head else { return Decision::Apply };
    let deleting = op == Operation::Delete;
    if rev == head.rev && deleting == head.deleted && (deleting || cid == head.cid.as_deref()) {
        return Decision::Duplicate;
    }
    if rev > head.rev.as_str() {
        Decision::Apply
    } else if head.deleted {
        Decision::Tombstoned
    } else {
        Decision::OlderRev
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Decision::*;
    use Operation::*;

    fn head(rev: &str, deleted: bool) -> Head {
        Head { rev: rev.into(), cid: (!deleted).then(|| format!("cid-{rev}")), deleted }
    }

    #[test]
    fn rules() {
        let cid = |r: &str| format!("cid-{r}");
        for (h, op, rev, expected) in [
            (None, Create, "3b", Apply),
            (None, Update, "3b", Apply),
            (None, Delete, "3b", Apply),
            (Some(head("3b", false)), Update, "3c", Apply),
            (Some(head("3b", false)), Create, "3b", Duplicate),
            (Some(head("3b", false)), Update, "3a", OlderRev),
            (Some(head("3b", false)), Delete, "3a", OlderRev),
            (Some(head("3b", false)), Delete, "3c", Apply),
            (Some(head("3b", true)), Create, "3a", Tombstoned),
            (Some(head("3b", true)), Delete, "3b", Duplicate),
            (Some(head("3b", true)), Create, "3c", Apply),
        ] {
            let c = cid(rev);
            let got = decide(h.as_ref(), op, rev, (op != Delete).then_some(c.as_str()));
            assert_eq!(got, expected, "{h:?} {op:?} {rev}");
        }
        // Same rev, different CID: not a duplicate, and not newer either.
        assert_eq!(decide(Some(&head("3b", false)), Update, "3b", Some("other")), OlderRev);
    }
}
