//! Lexicon schemas and record validation for reprise.
//!
//! This crate owns the lexicon JSON files reprise indexes (`fm.plyr.*`, `fm.teal.*` and the
//! `com.atproto.*` definitions they reference), embedded in the binary and overridable by a
//! directory, and one small API over shrike's lexicon module: validate a record and get every
//! error with its JSON path. Where shrike accepts what Lexicon v1 rejects, the wrapper adds the
//! missing check; `lexicons/GAPS.md` lists each one.
//!
//! ```
//! use reprise_lexicons::{Catalog, RecordError};
//!
//! let catalog = Catalog::builtin();
//! let like = serde_json::json!({"$type": "fm.plyr.like", "createdAt": "2026-08-21T09:12:03Z"});
//! let err = catalog.validate_record("fm.plyr.like", "3mtjtghiqeo22", &like).unwrap_err();
//! assert_eq!(err.errors()[0].to_string(), "$.subject: required field missing");
//! ```

mod builtin;
mod catalog;
mod error;
mod files;
mod formats;
mod plan;
mod postcheck;
mod prepare;
mod teal;
mod validate;

pub use catalog::Catalog;
pub use error::{LexiconError, LexiconWarning, RecordError, ValidationError};
pub use files::{CheckReport, FileOutcome, check_dir, validate_file};
pub use prepare::KeyType;
pub use teal::normalize_teal_alpha;
