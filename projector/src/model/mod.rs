//! The registry: every read model, listed once. Each model is one file declaring a
//! [`Model`](descriptor::Model) (what it folds, its tables and indexes, how a version is applied and
//! removed, which rows an account owns); schema creation, the pipeline's dispatch, account removal and
//! a rebuild's end iterate [`MODELS`], so adding a model is its file and its entry here.

pub(crate) mod descriptor;

mod comments;
mod likes;
mod lists;
mod now_playing;
pub(crate) mod plays;
mod profiles;
mod tracks;

use reprise_events::EventKind;

use descriptor::{ApplyEvent, Folds, Model, Remove, Upsert};

/// Every read model. The order is the order their tables are created in and an account's rows are
/// removed in; nothing else depends on it.
pub(crate) static MODELS: &[&Model] = &[
    &tracks::MODEL,
    &likes::MODEL,
    &comments::MODEL,
    &lists::MODEL,
    &profiles::MODEL,
    &plays::MODEL,
    &now_playing::MODEL,
    &crate::media::MODEL,
];

/// The model of a record collection, with the functions that fold its versions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordModel {
    pub model: &'static Model,
    pub upsert: Upsert,
    pub remove: Remove,
}

/// The model that folds `collection`'s records, if any.
pub(crate) fn for_collection(collection: &str) -> Option<RecordModel> {
    MODELS.iter().find_map(|model| match model.folds {
        Folds::Records { collections, upsert, remove } if collections.contains(&collection) => {
            Some(RecordModel { model, upsert, remove })
        }
        _ => None,
    })
}

/// How events of `kind` (other than commits) are folded, if a model folds them.
pub(crate) fn for_event(kind: EventKind) -> Option<ApplyEvent> {
    MODELS.iter().find_map(|model| match model.folds {
        Folds::Events { kinds, apply } if kinds.contains(&kind) => Some(apply),
        _ => None,
    })
}

#[cfg(test)]
mod tests;
