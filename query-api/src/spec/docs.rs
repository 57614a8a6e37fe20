//! What is generated from the table: each endpoint's lexicon, and the OpenAPI document (lexicon
//! types as JSON Schema, plus the exact syntax `params.rs` accepts).

use serde_json::{Map, Value, json};

use super::{ENDPOINTS, Endpoint, Kind, Param};
use crate::params::{DEFAULT_LIMIT, MAX_LIMIT, MAX_TEXT_CHARS};

impl Param {
    fn lexicon(self) -> Value {
        match self.kind {
            Kind::Limit => {
                json!({"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT})
            }
            Kind::Cursor { .. } => json!({"type": "string", "minLength": 1,
                "description": "Opaque: pass back the previous page's cursor."}),
            Kind::Did { doc } => json!({"type": "string", "format": "did", "description": doc}),
            Kind::Actor => {
                json!({"type": "string", "format": "at-identifier", "description": "A DID or a handle."})
            }
            Kind::Uri { collection } => {
                json!({"type": "string", "format": "at-uri", "description": format!("An {collection} record.")})
            }
            // A closed set: any other value is refused with 400, so `enum`, not `knownValues`.
            Kind::Choice { values, doc } => {
                json!({"type": "string", "enum": values, "default": values[0], "description": doc})
            }
            Kind::Text { doc } => {
                json!({"type": "string", "minLength": 1, "maxLength": MAX_TEXT_CHARS, "description": doc})
            }
        }
    }
}

/// The syntax `params.rs` accepts, as ECMA/Python regular expressions, so the OpenAPI document
/// (and the fuzzer reading it) knows exactly which values are valid. Keep the two in step: the
/// fuzz step of `scripts/test` sends values generated from these patterns and fails on a 500.
const DID_PATTERN: &str = "did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]";
const HANDLE_PATTERN: &str =
    "@?([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?";
const RKEY_PATTERN: &str = "(?!\\.{1,2}$)[a-zA-Z0-9._:~-]{1,512}";

impl Param {
    /// The JSON Schema of this parameter for OpenAPI: the lexicon's constraints plus the exact
    /// syntax of DIDs, handles and AT-URIs, which lexicon formats only name.
    pub fn openapi_schema(self) -> Value {
        let mut s = self.lexicon();
        if let Some(o) = s.as_object_mut() {
            o.remove("format");
        }
        match self.kind {
            Kind::Did { .. } => {
                s["pattern"] = json!(format!("^{DID_PATTERN}$"));
                s["maxLength"] = json!(2048);
            }
            Kind::Actor => {
                s["pattern"] = json!(format!("^({DID_PATTERN}|{HANDLE_PATTERN})$"));
                s["maxLength"] = json!(2048);
            }
            Kind::Uri { collection } => {
                let coll = if collection.contains('*') {
                    "fm\\.(plyr|teal)\\.[^/]+".to_owned()
                } else {
                    collection.replace('.', "\\.")
                };
                s["pattern"] = json!(format!("^at://{DID_PATTERN}/{coll}/{RKEY_PATTERN}$"));
            }
            // Whitespace alone is refused too.
            Kind::Text { .. } => s["pattern"] = json!("\\S"),
            // Unpadded base64url; any other content is refused as malformed.
            Kind::Cursor { .. } => s["pattern"] = json!("^[A-Za-z0-9_-]+$"),
            Kind::Limit | Kind::Choice { .. } => {}
        }
        s
    }
}

fn output_type(t: &str) -> Value {
    if let Some(inner) = t.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        return json!({"type": "array", "items": output_type(inner)});
    }
    match t.strip_prefix('#') {
        Some(view) => json!({"type": "ref", "ref": format!("fm.reprise.defs#{view}")}),
        None => json!({"type": t}),
    }
}

/// The lexicon document of one endpoint.
pub fn lexicon(e: &Endpoint) -> Value {
    let props: Map<String, Value> = e.params.iter().map(|p| (p.name.to_owned(), p.lexicon())).collect();
    let out: Map<String, Value> = e.output.iter().map(|(n, t)| ((*n).to_owned(), output_type(t))).collect();
    let out_required: Vec<&str> =
        e.output.iter().map(|(n, _)| *n).filter(|n| *n != "cursor" && *n != "status").collect();
    let required: Vec<&str> = e.params.iter().filter(|p| p.required).map(|p| p.name).collect();
    let mut params = json!({"type": "params", "properties": props});
    if !required.is_empty() {
        params["required"] = json!(required);
    }
    json!({
        "lexicon": 1,
        "id": e.nsid,
        "defs": {"main": {
            "type": "query",
            "description": e.description,
            "parameters": params,
            "output": {"encoding": "application/json",
                       "schema": {"type": "object", "required": out_required, "properties": out}},
            "errors": [{"name": "InvalidRequest"}, {"name": "NotFound"}]
        }}
    })
}

/// The view definitions (`fm.reprise.defs`), shared by the lexicons and the OpenAPI document.
pub const DEFS: &str = include_str!("../../../lexicons/schemas/fm/reprise/defs.json");

/// Converts a lexicon type to JSON Schema for OpenAPI.
fn schema_of(v: &Value) -> Value {
    match v["type"].as_str().unwrap_or("") {
        "object" => {
            let props: Map<String, Value> = v["properties"]
                .as_object()
                .map(|m| m.iter().map(|(k, p)| (k.clone(), schema_of(p))).collect())
                .unwrap_or_default();
            let mut s = json!({"type": "object", "properties": props});
            if let Some(r) = v.get("required") {
                s["required"] = r.clone();
            }
            s
        }
        "array" => json!({"type": "array", "items": schema_of(&v["items"])}),
        "ref" => {
            let r = v["ref"].as_str().unwrap_or("");
            match r.rsplit_once('#') {
                Some((_, name)) => json!({"$ref": format!("#/components/schemas/{name}")}),
                None => {
                    json!({"type": "object", "properties": {"uri": {"type": "string"}, "cid": {"type": "string"}}})
                }
            }
        }
        "unknown" => json!({}),
        t @ ("string" | "integer" | "boolean") => {
            let mut s = json!({"type": t});
            for key in ["minimum", "maximum", "minLength", "maxLength", "default", "enum", "description"] {
                if let Some(x) = v.get(key) {
                    s[key] = x.clone();
                }
            }
            s
        }
        _ => json!({}),
    }
}

/// The OpenAPI 3.0 document for every endpoint.
pub fn openapi() -> Value {
    let defs: Value = serde_json::from_str(DEFS).unwrap_or_default();
    let schemas: Map<String, Value> = defs["defs"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), schema_of(v))).collect())
        .unwrap_or_default();
    let error = json!({"description": "XRPC error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    let mut paths = Map::new();
    for e in ENDPOINTS {
        let lex = lexicon(e);
        let main = &lex["defs"]["main"];
        let params: Vec<Value> = e
            .params
            .iter()
            .map(|p| {
                json!({"name": p.name, "in": "query", "required": p.required, "schema": p.openapi_schema()})
            })
            .collect();
        let out = schema_of(&main["output"]["schema"]);
        paths.insert(
            e.path(),
            json!({"get": {
                "operationId": e.nsid, "summary": e.description, "parameters": params,
                "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": out}}},
                              "400": error, "404": error, "429": error, "503": error}
            }}),
        );
    }
    let mut all = schemas;
    all.insert(
        "Error".into(),
        json!({"type": "object", "required": ["error", "message"],
               "properties": {"error": {"type": "string"}, "message": {"type": "string"}}}),
    );
    json!({
        "openapi": "3.0.3",
        "info": {"title": "reprise", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Read API over plyr.fm and teal.fm records on the AT Protocol."},
        "paths": paths,
        "components": {"schemas": all}
    })
}
