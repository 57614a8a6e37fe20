//! Compiles, once per record lexicon, the plan the post-checks follow: the schema pruned to the
//! fields that can hold something shrike lets through (datetimes, integers, blobs), the strings in a
//! format the wrapper checks itself, and the
//! objects, arrays, refs and union members that lead to them. A track record then costs three
//! field lookups instead of a second full walk.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use shrike::lexicon::{Catalog as Inner, Def, FieldSchema, ObjectDef};

use crate::formats::Format;

/// What to post-check in a value.
#[derive(Debug)]
pub(crate) enum Plan {
    Datetime,
    /// A string format the wrapper checks itself ([`crate::formats`]).
    Format(Format),
    Integer,
    Blob(Option<Vec<String>>),
    Array(Arc<Plan>),
    /// Only the properties with something to check.
    Object(Vec<(String, Arc<Plan>)>),
    /// `(type name as written in $type, plan)` for the members with something to check.
    Union(Vec<(String, Arc<Plan>)>),
}

/// The plan for record lexicon `nsid`, or `None` when nothing in it needs post-checks.
pub(crate) fn compile_record(inner: &Inner, nsid: &str) -> Option<Arc<Plan>> {
    Compiler { inner, memo: HashMap::new(), in_progress: HashSet::new() }.def(nsid, "main")
}

/// `#name` is relative to `nsid`; `a.b.c` means `a.b.c#main` (shrike's `split_ref`, without
/// allocating).
pub(crate) fn resolve_ref<'a>(nsid: &'a str, reference: &'a str) -> (&'a str, &'a str) {
    match reference.split_once('#') {
        Some(("", name)) => (nsid, name),
        Some((target, name)) => (target, name),
        None => (reference, "main"),
    }
}

struct Compiler<'a> {
    inner: &'a Inner,
    memo: HashMap<(String, String), Option<Arc<Plan>>>,
    /// Definitions being compiled; a reference back into one (a recursive lexicon) is not
    /// followed, so post-checks stop at the recursion.
    in_progress: HashSet<(String, String)>,
}

impl Compiler<'_> {
    fn def(&mut self, nsid: &str, name: &str) -> Option<Arc<Plan>> {
        let key = (nsid.to_owned(), name.to_owned());
        if let Some(plan) = self.memo.get(&key) {
            return plan.clone();
        }
        if !self.in_progress.insert(key.clone()) {
            return None;
        }
        let inner = self.inner;
        let plan = match inner.get(nsid).and_then(|s| s.defs.get(name)) {
            Some(Def::Object(obj)) => self.object(nsid, obj),
            Some(Def::Record(r)) => self.object(nsid, &r.record),
            _ => None,
        };
        self.in_progress.remove(&key);
        self.memo.insert(key, plan.clone());
        plan
    }

    fn object(&mut self, nsid: &str, obj: &ObjectDef) -> Option<Arc<Plan>> {
        let mut props: Vec<(String, Arc<Plan>)> = obj
            .properties
            .iter()
            .filter_map(|(name, field)| Some((name.clone(), self.field(nsid, field)?)))
            .collect();
        props.sort_by(|a, b| a.0.cmp(&b.0));
        (!props.is_empty()).then(|| Arc::new(Plan::Object(props)))
    }

    fn field(&mut self, nsid: &str, field: &FieldSchema) -> Option<Arc<Plan>> {
        match field {
            FieldSchema::String { format: Some(f), .. } if f == "datetime" => Some(Arc::new(Plan::Datetime)),
            FieldSchema::String { format: Some(f), .. } => {
                Format::from_renamed(f).map(|f| Arc::new(Plan::Format(f)))
            }
            FieldSchema::Integer { .. } => Some(Arc::new(Plan::Integer)),
            FieldSchema::Blob { accept, .. } => Some(Arc::new(Plan::Blob(accept.clone()))),
            FieldSchema::Array { items, .. } => {
                let items = self.field(nsid, items)?;
                Some(Arc::new(Plan::Array(items)))
            }
            FieldSchema::Object(obj) => self.object(nsid, obj),
            FieldSchema::Ref { reference, .. } => {
                let (target, name) = resolve_ref(nsid, reference);
                self.def(target, name)
            }
            FieldSchema::Union { refs, .. } => {
                let members: Vec<(String, Arc<Plan>)> = refs
                    .iter()
                    .filter_map(|r| {
                        let (target, name) = resolve_ref(nsid, r);
                        let plan = self.def(target, name)?;
                        let type_name = match name {
                            "main" => target.to_owned(),
                            _ => format!("{target}#{name}"),
                        };
                        Some((type_name, plan))
                    })
                    .collect();
                (!members.is_empty()).then(|| Arc::new(Plan::Union(members)))
            }
            _ => None,
        }
    }
}
