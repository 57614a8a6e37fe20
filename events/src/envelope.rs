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
    /// A stretch of a source's history reprise knows it did not receive (a cursor below the host's
    /// retention floor, a host switch wider than the replay window); `Envelope::gap` names it.
    Gap,
    /// A media job's state change (requested, fetched, transcoded, stored, failed, retry scheduled),
    /// appended by reprise itself; the frame is the job event's JSON. Since event schema 3.
    Media,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Commit => "commit",
            EventKind::Identity => "identity",
            EventKind::Account => "account",
            EventKind::Rejected => "rejected",
            EventKind::Gap => "gap",
            EventKind::Media => "media",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "commit" => EventKind::Commit,
            "identity" => EventKind::Identity,
            "account" => EventKind::Account,
            "rejected" => EventKind::Rejected,
            "gap" => EventKind::Gap,
            "media" => EventKind::Media,
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

/// The outcome of re-encoding a commit's record to DAG-CBOR and comparing its CID with the frame's.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CidCheck {
    /// The record hashes to the CID the frame claims.
    Match,
    /// The record hashes to `computed`, not to the frame's CID: the version must not be served.
    Mismatch { computed: String },
    /// The record could not be encoded (e.g. it holds a float), so its CID could not be checked.
    Unverifiable(String),
}

impl CidCheck {
    /// The column text: `match`, `mismatch:<computed cid>`, `unverifiable:<reason>`.
    pub fn to_column(&self) -> String {
        match self {
            CidCheck::Match => "match".to_owned(),
            CidCheck::Mismatch { computed } => format!("mismatch:{computed}"),
            CidCheck::Unverifiable(reason) => format!("unverifiable:{reason}"),
        }
    }

    pub fn from_column(s: &str) -> Option<Self> {
        if s == "match" {
            return Some(CidCheck::Match);
        }
        if let Some(computed) = s.strip_prefix("mismatch:") {
            return Some(CidCheck::Mismatch { computed: computed.to_owned() });
        }
        s.strip_prefix("unverifiable:").map(|r| CidCheck::Unverifiable(r.to_owned()))
    }
}

/// The source positions a gap event covers: nothing from `from` (inclusive) to `to` (exclusive) was
/// received from that source. Both are in the source's cursor unit (v1 `time_us`, v2 `seq`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GapRange {
    pub from: i64,
    pub to: i64,
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
    /// For creates and updates received since event schema 2: whether the record matches its CID.
    /// `None`: not checked (deletes, other kinds, and every event written with schema 1).
    pub cid_check: Option<CidCheck>,
    /// For gap events: the missing range.
    pub gap: Option<GapRange>,
}

impl Envelope {
    /// The kind, defaulting to rejected: an envelope nobody classified is not trusted.
    pub fn kind(&self) -> EventKind {
        self.kind.unwrap_or(EventKind::Rejected)
    }

    /// A gap event's envelope: nothing between `range.from` and `range.to` was received.
    pub fn gap(range: GapRange) -> Self {
        Envelope { kind: Some(EventKind::Gap), gap: Some(range), ..Default::default() }
    }

    /// A media job event's envelope: the account and the blob CID it is about.
    pub fn media(did: &str, blob_cid: &str) -> Self {
        Envelope {
            kind: Some(EventKind::Media),
            did: Some(did.to_owned()),
            cid: Some(blob_cid.to_owned()),
            ..Default::default()
        }
    }

    /// A rejected envelope carrying only its reason.
    pub fn rejected(reason: impl Into<String>) -> Self {
        Envelope { kind: Some(EventKind::Rejected), reject_reason: Some(reason.into()), ..Default::default() }
    }

    /// The 64-bit key under which duplicates are looked up. It is not unique: the log compares the
    /// full identity before treating an event as a duplicate, so hash collisions are harmless.
    ///
    /// A commit is identified by (did, collection, rkey, rev, operation, cid) and an identity or account
    /// event by (kind, did, upstream seq), so the same upstream event delivered by two hosts, or twice by
    /// one, is the same event. A rejected frame has no trustworthy fields, and a media job event may
    /// repeat its fields (a second `requested`), so both are identified by source, cursor and bytes.
    ///
    /// The key's high bits are an ordinal that grows with time (the rev's TID timestamp, the upstream
    /// seq, the source cursor), its low bits a hash: live events then land at the end of the index
    /// instead of on a random page each, which is what keeps durable appends fast.
    pub(crate) fn identity_key(&self, source: &str, cursor: Option<i64>, frame: &[u8]) -> i64 {
        let mut h = Xxh3::new();
        let mut field = |bytes: &[u8]| {
            h.update(&(bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        };
        field(self.kind().as_str().as_bytes());
        let (class, ordinal) = match self.kind() {
            EventKind::Rejected | EventKind::Media => {
                field(source.as_bytes());
                field(&cursor.unwrap_or(i64::MIN).to_le_bytes());
                field(frame);
                (2, (cursor.unwrap_or(0).max(0) as u64) >> 20)
            }
            EventKind::Gap => {
                let range = self.gap.unwrap_or(GapRange { from: 0, to: 0 });
                field(source.as_bytes());
                field(&range.from.to_le_bytes());
                field(&range.to.to_le_bytes());
                (3, (range.from.max(0) as u64) >> 20)
            }
            kind => {
                for part in [&self.did, &self.collection, &self.rkey, &self.rev, &self.cid] {
                    field(part.as_deref().unwrap_or("\u{0}").as_bytes());
                }
                field(self.operation.map(Operation::as_str).unwrap_or("").as_bytes());
                field(&self.upstream_seq.unwrap_or(i64::MIN).to_le_bytes());
                match kind {
                    EventKind::Commit => (0, self.rev.as_deref().and_then(tid_micros).unwrap_or(0) >> 20),
                    _ => (1, self.upstream_seq.unwrap_or(0).max(0) as u64),
                }
            }
        };
        let ordinal = ordinal & ((1 << 36) - 1);
        ((class << 60) | (ordinal << 24) | (h.digest() & 0xFF_FFFF)) as i64
    }
}

/// The timestamp (unix microseconds) inside a TID, if `s` is one.
fn tid_micros(s: &str) -> Option<u64> {
    const ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";
    if s.len() != 13 {
        return None;
    }
    let mut v = 0u64;
    for b in s.bytes() {
        v = (v << 5) | ALPHABET.iter().position(|&a| a == b)? as u64;
    }
    Some((v >> 10) & ((1 << 53) - 1))
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
            commit("3a").identity_key("host-a", Some(1), b"x"),
            other_host.identity_key("host-b", Some(999), b"y")
        );
        assert_ne!(commit("3a").identity_key("h", None, b""), commit("3b").identity_key("h", None, b""));
    }

    #[test]
    fn rejected_frames_are_identified_by_receipt_and_bytes() {
        let r = Envelope::rejected("not json");
        assert_eq!(r.identity_key("f", Some(3), b"zz"), r.identity_key("f", Some(3), b"zz"));
        assert_ne!(r.identity_key("f", Some(3), b"zz"), r.identity_key("f", Some(4), b"zz"));
        assert_ne!(r.identity_key("f", Some(3), b"zz"), r.identity_key("f", Some(3), b"zy"));
    }

    #[test]
    fn keys_of_later_revs_sort_later() {
        assert_eq!(tid_micros("3mmoojp7vgo2g").map(|us| us / 1_000_000_000_000), Some(1_779));
        assert_eq!(tid_micros("not a tid"), None);
        let (early, late) = (commit("3kaaaaaaaaaa2"), commit("3mmoojp7vgo2g"));
        assert!(early.identity_key("", None, b"") < late.identity_key("", None, b""));
    }

    #[test]
    fn gaps_are_identified_by_source_and_range() {
        let g = |from, to| Envelope::gap(GapRange { from, to });
        assert_eq!(g(1, 5).identity_key("h", Some(9), b"a"), g(1, 5).identity_key("h", Some(7), b"b"));
        assert_ne!(g(1, 5).identity_key("h", None, b""), g(1, 6).identity_key("h", None, b""));
        assert_ne!(g(1, 5).identity_key("h", None, b""), g(1, 5).identity_key("i", None, b""));
    }

    #[test]
    fn cid_checks_round_trip_through_their_column() {
        for c in [
            CidCheck::Match,
            CidCheck::Mismatch { computed: "bafyrei".into() },
            CidCheck::Unverifiable("float at $.x: not allowed".into()),
        ] {
            assert_eq!(CidCheck::from_column(&c.to_column()), Some(c));
        }
        assert_eq!(CidCheck::from_column("maybe"), None);
    }

    #[test]
    fn field_boundaries_matter() {
        let mut a = commit("3a");
        a.did = Some("did:plc:ab".into());
        a.collection = Some("c".into());
        let mut b = commit("3a");
        b.did = Some("did:plc:a".into());
        b.collection = Some("bc".into());
        assert_ne!(a.identity_key("", None, b""), b.identity_key("", None, b""));
    }
}
