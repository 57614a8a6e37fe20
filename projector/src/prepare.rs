//! The part of applying an event that depends on nothing but the event: finding a commit's record in
//! its frame, parsing it, checking it against its lexicon and normalizing alpha teal records. Being
//! pure, it can run ahead of the writer: a rebuild prepares batches on a second thread while the
//! single SQLite writer applies the previous one.

use reprise_events::{CidCheck, EventKind, Operation, StoredEvent};
use reprise_lexicons::{Catalog, RecordError, normalize_teal_alpha};
use serde_json::Value;

use crate::model::{self, RecordModel};

/// An event read from the log, with its record ready for the models.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub event: StoredEvent,
    /// For a commit of a collection a model folds: that model.
    pub model: Option<RecordModel>,
    /// For a create or update of an indexed collection whose CID was not refused: the record
    /// (normalized to the stable shape) or every reason it is not a valid version. `None` otherwise.
    pub record: Option<Result<Value, String>>,
    /// A commit's record URI.
    pub uri: Option<String>,
    /// The CID check as the audit column writes it.
    pub cid_check: Option<String>,
}

pub(crate) fn prepare(catalog: &Catalog, event: StoredEvent) -> Prepared {
    let env = &event.envelope;
    let model = match env.kind() {
        EventKind::Commit => env.collection.as_deref().and_then(model::for_collection),
        _ => None,
    };
    let record = wants_record(&event, model.is_some())
        .map(|(collection, rkey)| checked_record(catalog, &event, collection, rkey));
    let uri = match (env.kind(), &env.did, &env.collection, &env.rkey) {
        (EventKind::Commit, Some(did), Some(c), Some(rkey)) => Some(format!("at://{did}/{c}/{rkey}")),
        _ => None,
    };
    let cid_check = env.cid_check.as_ref().map(|c| c.to_column());
    Prepared { event, model, record, uri, cid_check }
}

pub(crate) fn prepare_all(catalog: &Catalog, events: Vec<StoredEvent>) -> Vec<Prepared> {
    events.into_iter().map(|e| prepare(catalog, e)).collect()
}

/// The collection and record key of a commit (of a collection a model folds: `indexed`) whose record
/// the model will read.
fn wants_record(event: &StoredEvent, indexed: bool) -> Option<(&str, &str)> {
    let env = &event.envelope;
    let upsert = matches!(env.operation, Some(Operation::Create | Operation::Update));
    let refused = matches!(env.cid_check, Some(CidCheck::Mismatch { .. }));
    if !indexed || !upsert || refused {
        return None;
    }
    Some((env.collection.as_deref()?, env.rkey.as_deref()?))
}

fn checked_record(
    catalog: &Catalog,
    event: &StoredEvent,
    collection: &str,
    rkey: &str,
) -> Result<Value, String> {
    let raw = reprise_ingest::commit_record(&event.frame)?;
    let record: Value = serde_json::from_str(raw.get()).map_err(|e| format!("record is not JSON: {e}"))?;
    if let Err(e) = catalog.validate_record(collection, rkey, &record) {
        return Err(match e {
            RecordError::Invalid(errors) => {
                errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
            }
            other => other.to_string(),
        });
    }
    Ok(normalize_teal_alpha(collection, record).1)
}
