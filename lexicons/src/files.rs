//! What the CLI runs against files: loading a directory of lexicons, `check_dir` for
//! `reprise lexicon check DIR`, and `validate_file` for checking one record file.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::catalog::Catalog;
use crate::error::{LexiconError, LexiconWarning, RecordError, ValidationError};

/// Read every `*.json` file under `dir`, recursively, as `(path relative to dir, text)`,
/// sorted by path.
pub(crate) fn read_dir_json(dir: &Path) -> Result<Vec<(String, String)>, LexiconError> {
    let mut paths = Vec::new();
    collect(dir, &mut paths)?;
    if paths.is_empty() {
        return Err(LexiconError::Empty(dir.to_owned()));
    }
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = read(&path)?;
            let relative = path.strip_prefix(dir).unwrap_or(&path);
            let name = relative.to_string_lossy().replace('\\', "/");
            Ok((name, text))
        })
        .collect()
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), LexiconError> {
    let io = |source| LexiconError::Io { path: dir.to_owned(), source };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    Ok(())
}

fn read(path: &Path) -> Result<String, LexiconError> {
    std::fs::read_to_string(path).map_err(|source| LexiconError::Io { path: path.to_owned(), source })
}

/// What `check_dir` found in a directory that loads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// Every NSID, sorted.
    pub nsids: Vec<String>,
    /// Ids that do not match their paths and references that do not resolve, sorted.
    pub warnings: Vec<LexiconWarning>,
}

/// Check every lexicon file under `dir`: an error if one cannot be loaded, warnings for ids that do
/// not match their paths and references that do not resolve.
pub fn check_dir(dir: impl AsRef<Path>) -> Result<CheckReport, LexiconError> {
    let catalog = Catalog::load_dir(dir)?;
    let nsids = catalog.nsids().into_iter().map(str::to_owned).collect();
    Ok(CheckReport { nsids, warnings: catalog.warnings().to_vec() })
}

/// The result of checking one record file, with the exit code the CLI should use.
#[derive(Debug)]
pub enum FileOutcome {
    /// The record fits its lexicon (exit 0).
    Valid,
    /// The record does not fit; print each as `path: message` (exit 1).
    Invalid(Vec<ValidationError>),
    /// The check could not run: unreadable or non-JSON file, unknown NSID, bad schema (exit 2).
    CouldNotRun(String),
}

impl FileOutcome {
    /// 0 for valid, 1 for invalid, 2 when the check could not run.
    pub fn exit_code(&self) -> i32 {
        match self {
            FileOutcome::Valid => 0,
            FileOutcome::Invalid(_) => 1,
            FileOutcome::CouldNotRun(_) => 2,
        }
    }
}

/// Validate the JSON record in `file` as a record of `nsid`, with its record key if known.
pub fn validate_file(
    catalog: &Catalog,
    nsid: &str,
    file: impl AsRef<Path>,
    rkey: Option<&str>,
) -> FileOutcome {
    let file = file.as_ref();
    let text = match read(file) {
        Ok(text) => text,
        Err(e) => return FileOutcome::CouldNotRun(e.to_string()),
    };
    let record: Value = match serde_json::from_str(&text) {
        Ok(record) => record,
        Err(e) => {
            return FileOutcome::CouldNotRun(format!("{}: not valid json: {e}", file.display()));
        }
    };
    let result = match rkey {
        Some(rkey) => catalog.validate_record(nsid, rkey, &record),
        None => catalog.validate_record_data(nsid, &record),
    };
    match result {
        Ok(()) => FileOutcome::Valid,
        Err(RecordError::Invalid(errors)) => FileOutcome::Invalid(errors),
        Err(other) => FileOutcome::CouldNotRun(other.to_string()),
    }
}
