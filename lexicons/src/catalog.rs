//! The `Catalog`: every loaded lexicon, parsed once by shrike and checked as a whole (no duplicate
//! ids), with a per-record entry cached for validation. Ids that do not match their file paths and
//! references that do not resolve are warnings: a reference is resolved when a record's validation
//! reaches it, and is an error for that record only.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
use shrike::lexicon::{Def, FieldSchema, ObjectDef};

use crate::error::{LexiconError, LexiconWarning, RecordError};
use crate::plan::{Plan, compile_record};
use crate::prepare::{KeyType, NULL_REF, prepare};
use crate::{builtin, files};

/// A set of lexicons, ready to validate records.
pub struct Catalog {
    pub(crate) inner: shrike::lexicon::Catalog,
    pub(crate) records: HashMap<String, RecordEntry>,
    /// NSID -> the file it came from, sorted by NSID.
    files: BTreeMap<String, String>,
    /// Found while loading, sorted.
    warnings: Vec<LexiconWarning>,
}

/// What validation needs about one record lexicon, computed once at load.
pub(crate) struct RecordEntry {
    pub key: KeyType,
    /// What the post-checks look at; `None` when nothing in this lexicon needs them.
    pub plan: Option<Arc<Plan>>,
    /// `{"type": "ref", "ref": <nsid>}`: the root handed to shrike's `validate_value`.
    pub root: FieldSchema,
}

impl fmt::Debug for Catalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Catalog").field("nsids", &self.files.keys().collect::<Vec<_>>()).finish()
    }
}

impl Catalog {
    /// The lexicons compiled into the binary (everything under `lexicons/schemas/`).
    pub fn builtin() -> Catalog {
        #[allow(clippy::expect_used)] // the embedded files are fixed and covered by tests
        Self::build(builtin::SOURCES.iter().copied(), true).expect("built-in lexicons are valid")
    }

    /// Load every `*.json` file under `dir`, recursively, instead of the built-in set.
    ///
    /// Any layout loads; a file whose path spells another NSID than its `id` (neither atproto layout,
    /// `fm/plyr/track.json`, nor flat, `fm.plyr.track.json`) is a warning.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<Catalog, LexiconError> {
        let docs = files::read_dir_json(dir.as_ref())?;
        Self::build(docs.iter().map(|(n, t)| (n.as_str(), t.as_str())), true)
    }

    /// Build a catalog from `(name, json)` pairs; `name` only labels errors.
    pub fn from_documents<'a>(
        docs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Catalog, LexiconError> {
        Self::build(docs, false)
    }

    fn build<'a>(
        docs: impl IntoIterator<Item = (&'a str, &'a str)>,
        check_paths: bool,
    ) -> Result<Catalog, LexiconError> {
        let mut catalog = Catalog {
            inner: shrike::lexicon::Catalog::new(),
            records: HashMap::new(),
            files: BTreeMap::new(),
            warnings: Vec::new(),
        };
        let mut keys = Vec::new();
        for (file, text) in docs {
            let prepared = prepare(file, text)?;
            if check_paths && nsid_from_path(file) != prepared.id {
                let nsid = prepared.id.clone();
                catalog.warnings.push(LexiconWarning::PathMismatch { file: file.to_owned(), nsid });
            }
            if let Some(first) = catalog.files.get(&prepared.id) {
                return Err(LexiconError::Duplicate {
                    file: file.to_owned(),
                    nsid: prepared.id,
                    first: first.clone(),
                });
            }
            catalog
                .inner
                .add_schema(&prepared.bytes)
                .map_err(|e| LexiconError::schema(file, e.to_string()))?;
            if let Some(key) = prepared.record_key {
                keys.push((prepared.id.clone(), key));
            }
            catalog.files.insert(prepared.id, file.to_owned());
        }
        catalog.check_refs();
        catalog.warnings.sort();
        catalog.warnings.dedup();
        for (nsid, key) in keys {
            let plan = compile_record(&catalog.inner, &nsid);
            let root = FieldSchema::Ref { reference: nsid.clone(), description: None };
            catalog.records.insert(nsid, RecordEntry { key, plan, root });
        }
        Ok(catalog)
    }

    /// What loading found that does not stop the catalog from working, sorted.
    pub fn warnings(&self) -> &[LexiconWarning] {
        &self.warnings
    }

    /// Whether a lexicon with this NSID is loaded (any kind, not only records).
    pub fn has(&self, nsid: &str) -> bool {
        self.files.contains_key(nsid)
    }

    /// Every loaded NSID, sorted.
    pub fn nsids(&self) -> Vec<&str> {
        self.files.keys().map(String::as_str).collect()
    }

    /// The key type of a record lexicon, or `None` if `nsid` is not a loaded record.
    pub fn record_key_type(&self, nsid: &str) -> Option<&KeyType> {
        self.records.get(nsid).map(|r| &r.key)
    }

    /// Validate `record`, stored under `collection`/`rkey`, against its lexicon.
    ///
    /// Checks the record key against the lexicon's key type, `$type` against `collection`,
    /// and the data against the schema; every problem found is reported.
    pub fn validate_record(&self, collection: &str, rkey: &str, record: &Value) -> Result<(), RecordError> {
        crate::validate::validate(self, collection, Some(rkey), record)
    }

    /// Like [`Catalog::validate_record`] when the record key is not known (a file on disk).
    pub fn validate_record_data(&self, collection: &str, record: &Value) -> Result<(), RecordError> {
        crate::validate::validate(self, collection, None, record)
    }

    /// Every `ref` and union member that names no loaded definition, as warnings.
    fn check_refs(&mut self) {
        let mut unresolved = Vec::new();
        for (nsid, file) in &self.files {
            let Some(schema) = self.inner.get(nsid) else {
                continue;
            };
            let mut refs = Vec::new();
            for def in schema.defs.values() {
                def_refs(def, &mut refs);
            }
            for reference in refs {
                let (target, name) = shrike::lexicon::split_ref(nsid, reference);
                let found = self.inner.get(&target).is_some_and(|s| s.defs.contains_key(name));
                if !found && target != NULL_REF {
                    let (file, reference) = (file.clone(), reference.to_owned());
                    unresolved.push(LexiconWarning::UnresolvedRef { file, reference });
                }
            }
        }
        self.warnings.extend(unresolved);
    }
}

/// `fm/plyr/track.json` and `fm.plyr.track.json` both give `fm.plyr.track`.
fn nsid_from_path(file: &str) -> String {
    let stem = file.strip_suffix(".json").unwrap_or(file);
    stem.replace(['/', '\\'], ".")
}

fn def_refs<'a>(def: &'a Def, out: &mut Vec<&'a str>) {
    match def {
        Def::Record(r) => object_refs(&r.record, out),
        Def::Object(o) => object_refs(o, out),
        Def::ArrayDef(a) => field_refs(&a.items, out),
        Def::Query(q) => {
            let output = q.output.as_ref().and_then(|b| b.schema.as_ref());
            output.into_iter().for_each(|f| field_refs(f, out));
        }
        Def::Procedure(p) => {
            let bodies = [p.input.as_ref(), p.output.as_ref()];
            let schemas = bodies.into_iter().flatten().filter_map(|b| b.schema.as_ref());
            schemas.for_each(|f| field_refs(f, out));
        }
        Def::Subscription(s) => {
            let message = s.message.as_ref().and_then(|m| m.schema.as_ref());
            message.into_iter().for_each(|f| field_refs(f, out));
        }
        _ => {}
    }
}

fn object_refs<'a>(obj: &'a ObjectDef, out: &mut Vec<&'a str>) {
    obj.properties.values().for_each(|f| field_refs(f, out));
}

fn field_refs<'a>(field: &'a FieldSchema, out: &mut Vec<&'a str>) {
    match field {
        FieldSchema::Ref { reference, .. } => out.push(reference),
        FieldSchema::Union { refs, .. } => out.extend(refs.iter().map(String::as_str)),
        FieldSchema::Array { items, .. } => field_refs(items, out),
        FieldSchema::Object(o) => object_refs(o, out),
        _ => {}
    }
}
