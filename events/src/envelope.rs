//! The envelope: the few fields of an event the log indexes, and the identity used to drop duplicates.

use xxhash_rust::xxh3::Xxh3;

/// What kind of fact an event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A repo commit touching one record.
    Commit,
    /// A DID's handle or document changed.
    Identity,
    /// An account's hosting status changed.
    Account,
    /// Input that could not be understood; kept with the reason.
    Rejected,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Commit => "commit",
            EventKind::Identity => "identity",
            EventKind::Account => "account",
            EventKind::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "commit" => EventKind::Commit,
            "identity" => EventKind::Identity,
            "account" => EventKind::Account,
            "rejected" => EventKind::Rejected,
            _ => return None,
        })
    }
}

/// A commit's operation on its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Create,
    Update,
    Delete,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Delete => "delete",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "create" => Operation::Create,
            "update" => Operation::Update,
            "delete" => Operation::Delete,
            _ => return None,
        })
    }
}

/// The indexed part of an event. Ingest fills it from the wire; everything else stays in the raw frame.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Envelope {
    pub kind: Option<EventKind>,
    pub did: Option<String>,
    pub collection: Option<String>,
    pub rkey: Option<String>,
    pub operation: Option<Operation>,
    /// The repo revision (a TID) of a commit.
    pub rev: Option<String>,
    /// The record CID of a create or update.
    pub cid: Option<String>,
    /// The source's own clock for the event (Jetstream `time_us`), unix microseconds.
    pub event_time_us: Option<i64>,
    /// The upstream sequence number of identity and account events.
    pub upstream_seq: Option<i64>,
    /// Why a rejected event was rejected.
    pub reject_reason: Option<String>,
}

impl Envelope {
    /// The kind, defaulting to rejected: an envelope nobody classified is not trusted.
    pub fn kind(&self) -> EventKind {
        self.kind.unwrap_or(EventKind::Rejected)
    }

    /// A rejected envelope carrying only its reason.
    pub fn rejected(reason: impl Into<String>) -> Self {
        Envelope { kind: Some(EventKind::Rejected), reject_reason: Some(reason.into()), ..Default::default() }
    }

    /// The 64-bit identity hash under which duplicates are looked up. Collisions are harmless: the log
    /// compares the full identity before treating an event as a duplicate.
    ///
    /// A commit is identified by (did, collection, rkey, rev, operation, cid) and an identity or account
    /// event by (kind, did, upstream seq), so the same upstream event delivered by two hosts, or twice by
    /// one, is the same event. A rejected frame has no trustworthy fields, so it is identified by where it
    /// was received and its bytes.
    pub(crate) fn identity_hash(&self, source: &str, cursor: Option<i64>, frame: &[u8]) -> i64 {
        let mut h = Xxh3::new();
        let mut field = |bytes: &[u8]| {
            h.update(&(bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        };
        field(self.kind().as_str().as_bytes());
        match self.kind() {
            EventKind::Rejected => {
                field(source.as_bytes());
                field(&cursor.unwrap_or(i64::MIN).to_le_bytes());
                field(frame);
            }
            _ => {
                for part in [&self.did, &self.collection, &self.rkey, &self.rev, &self.cid] {
                    field(part.as_deref().unwrap_or("\u{0}").as_bytes());
                }
                field(self.operation.map(Operation::as_str).unwrap_or("").as_bytes());
                field(&self.upstream_seq.unwrap_or(i64::MIN).to_le_bytes());
            }
        }
        h.digest() as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(rev: &str) -> Envelope {
        Envelope {
            kind: Some(EventKind::Commit),
            did: Some("did:plc:a".into()),
            collection: Some("fm.plyr.track".into()),
            rkey: Some("3k".into()),
            operation: Some(Operation::Create),
            rev: Some(rev.into()),
            cid: Some("bafy".into()),
            event_time_us: Some(1),
            ..Default::default()
        }
    }

    #[test]
    fn the_same_commit_from_two_hosts_has_one_identity() {
        let mut other_host = commit("3a");
        other_host.event_time_us = Some(999);
        assert_eq!(
            commit("3a").identity_hash("host-a", Some(1), b"x"),
            other_host.identity_hash("host-b", Some(999), b"y")
        );
        assert_ne!(commit("3a").identity_hash("h", None, b""), commit("3b").identity_hash("h", None, b""));
    }

    #[test]
    fn rejected_frames_are_identified_by_receipt_and_bytes() {
        let r = Envelope::rejected("not json");
        assert_eq!(r.identity_hash("f", Some(3), b"zz"), r.identity_hash("f", Some(3), b"zz"));
        assert_ne!(r.identity_hash("f", Some(3), b"zz"), r.identity_hash("f", Some(4), b"zz"));
        assert_ne!(r.identity_hash("f", Some(3), b"zz"), r.identity_hash("f", Some(3), b"zy"));
    }

    #[test]
    fn field_boundaries_matter() {
        let mut a = commit("3a");
        a.did = Some("did:plc:ab".into());
        a.collection = Some("c".into());
        let mut b = commit("3a");
        b.did = Some("did:plc:a".into());
        b.collection = Some("bc".into());
        assert_ne!(a.identity_hash("", None, b""), b.identity_hash("", None, b""));
    }
}
