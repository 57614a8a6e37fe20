//! The values the pipeline and the read models exchange: what happened to an event (`Outcome`,
//! `Ignored`), the version of a record a model applies (`Version`) and how a model fails
//! (`ModelError`), a record's sort time (`sort_at`), and what a run did (`ApplyReport`). They depend
//! on nothing else in the crate, so every module can use them without importing the pipeline.

use std::borrow::Cow;

/// What happened to one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    Ignored(Ignored),
}

/// Why an event changed nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ignored {
    /// No read model covers this kind or collection.
    NotIndexed,
    /// Ingest could not understand the frame.
    Rejected(String),
    Duplicate,
    OlderRev,
    Tombstoned,
    /// An account or identity event older (by upstream seq) than one already applied.
    OlderSeq,
    /// The account is deleted: its records are gone and new ones are not indexed.
    AccountDeleted,
    /// The record does not match the CID the commit claims.
    CidMismatch,
    /// The record is not a valid version; every error, with its path.
    Invalid(String),
}

impl Ignored {
    pub fn reason(&self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            Ignored::Rejected(r) => return Cow::Owned(format!("rejected by ingest: {r}")),
            Ignored::NotIndexed => "not indexed",
            Ignored::Duplicate => "duplicate",
            Ignored::OlderRev => "older rev",
            Ignored::Tombstoned => "tombstone",
            Ignored::OlderSeq => "older seq",
            Ignored::AccountDeleted => "account deleted",
            Ignored::CidMismatch => "cid mismatch",
            Ignored::Invalid(_) => "invalid",
        })
    }
}

/// A model's failure to apply a version: a database error stops the batch; a decode error makes the
/// version invalid.
#[derive(Debug)]
pub(crate) enum ModelError {
    Sql(rusqlite::Error),
    Decode(String),
}

impl From<rusqlite::Error> for ModelError {
    fn from(e: rusqlite::Error) -> Self {
        ModelError::Sql(e)
    }
}

/// The version of a record being applied.
#[derive(Debug)]
pub(crate) struct Version<'e> {
    pub uri: &'e str,
    pub did: &'e str,
    pub collection: &'e str,
    pub rkey: &'e str,
    pub cid: &'e str,
    pub rev: &'e str,
    pub seq: i64,
    /// The seq (row key) of the version this one replaces, if its row exists.
    pub replaces: Option<i64>,
    pub received_at_us: i64,
}

/// A record's claimed time, but never later than when it arrived (a future date must not pin
/// anything to the top of a feed).
pub(crate) fn sort_at(claimed: &str, received_at_us: i64) -> Result<i64, ModelError> {
    let t =
        claimed.parse::<jiff::Timestamp>().map_err(|e| ModelError::Decode(format!("{claimed:?}: {e}")))?;
    Ok(t.as_microsecond().min(received_at_us))
}

/// Counts of what a run of the projector did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApplyReport {
    pub events: u64,
    pub applied: u64,
    pub ignored: u64,
    pub checkpoint: i64,
}

impl ApplyReport {
    pub(crate) fn add(&mut self, other: ApplyReport) {
        self.events += other.events;
        self.applied += other.applied;
        self.ignored += other.ignored;
        self.checkpoint = other.checkpoint;
    }
}
