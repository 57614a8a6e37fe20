//! Error types: `LexiconError` for schemas that cannot be loaded, `RecordError` and
//! `ValidationError` for records that do not fit their schema.

use std::fmt;
use std::path::PathBuf;

/// A lexicon schema (or a directory of them) could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LexiconError {
    /// A file or directory could not be read.
    #[error("could not read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A schema file is not JSON.
    #[error("{file}: not valid json: {source}")]
    Json {
        file: String,
        #[source]
        source: serde_json::Error,
    },
    /// A schema file is JSON but not a lexicon reprise accepts.
    #[error("{file}: invalid lexicon: {message}")]
    Schema { file: String, message: String },
    /// Two files declare the same NSID.
    #[error("{file}: duplicate lexicon id {nsid} (first declared in {first})")]
    Duplicate { file: String, nsid: String, first: String },
    /// A directory held no `*.json` files.
    #[error("no lexicon files found in {0}")]
    Empty(PathBuf),
}

impl LexiconError {
    pub(crate) fn schema(file: &str, message: impl Into<String>) -> Self {
        LexiconError::Schema { file: file.to_owned(), message: message.into() }
    }
}

/// Something about a set of lexicons that does not stop it loading; `reprise lexicon check` prints it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, thiserror::Error)]
pub enum LexiconWarning {
    /// A file's path spells another NSID than its `id` (the lexicon is loaded under its `id`).
    #[error("{file}: id {nsid} does not match the file path")]
    PathMismatch { file: String, nsid: String },
    /// A `ref` or union member names a definition no loaded file declares: an error only for a
    /// record whose validation reaches it.
    #[error("{file}: unresolved reference {reference}")]
    UnresolvedRef { file: String, reference: String },
}

/// One problem in a record: where it is and what is wrong.
///
/// `path` is a JSON path rooted at `$` (the record itself): `.name` selects an object field and
/// `[i]` an array element, e.g. `$.features[2].did`. Errors about the record as a whole use `$`;
/// an error about the record key uses the pseudo-path `rkey`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ValidationError {
    pub path: String,
    pub message: String,
}

impl ValidationError {
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        ValidationError { path: path.into(), message: message.into() }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Why a record was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The catalog holds no schema for this NSID.
    #[error("no lexicon for collection {0}")]
    UnknownCollection(String),
    /// The NSID has a schema, but its `main` definition is not a record.
    #[error("lexicon {0} does not define a record")]
    NotARecord(String),
    /// The record does not fit its schema; every problem found is listed, sorted by path.
    #[error("invalid record: {}", join(.0))]
    Invalid(Vec<ValidationError>),
}

impl RecordError {
    /// The individual problems when the record is invalid; empty for the other variants.
    pub fn errors(&self) -> &[ValidationError] {
        match self {
            RecordError::Invalid(errors) => errors,
            _ => &[],
        }
    }
}

fn join(errors: &[ValidationError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}
