//! The API's definition, in one place: every XRPC query, its parameters and its output. The
//! `fm.reprise.*` lexicons in `lexicons/schemas/fm/reprise/` are generated from this table (a test
//! keeps them in step), `/openapi.json` is generated from it and the view definitions, and `/`
//! lists it.

use serde_json::{Map, Value, json};

/// A query parameter and its constraints.
#[derive(Debug, Clone, Copy)]
pub enum Param {
    Limit,
    Cursor,
    /// A DID.
    Did(&'static str, &'static str),
    /// A DID or a handle.
    Actor(&'static str),
    /// An AT-URI of a record in the given collection.
    Uri(&'static str, &'static str),
    /// One of the listed values; the first is the default.
    Choice(&'static str, &'static [&'static str], &'static str),
    /// Free text of 1..=200 characters.
    Text(&'static str, &'static str),
}

impl Param {
    pub fn name(self) -> &'static str {
        match self {
            Param::Limit => "limit",
            Param::Cursor => "cursor",
            Param::Did(n, _)
            | Param::Actor(n)
            | Param::Uri(n, _)
            | Param::Choice(n, _, _)
            | Param::Text(n, _) => n,
        }
    }

    fn lexicon(self) -> Value {
        match self {
            Param::Limit => json!({"type": "integer", "minimum": 1, "maximum": 100, "default": 50}),
            Param::Cursor => json!({"type": "string", "minLength": 1,
                "description": "Opaque: pass back the previous page's cursor."}),
            Param::Did(_, d) => json!({"type": "string", "format": "did", "description": d}),
            Param::Actor(_) => {
                json!({"type": "string", "format": "at-identifier", "description": "A DID or a handle."})
            }
            Param::Uri(_, c) => {
                json!({"type": "string", "format": "at-uri", "description": format!("An {c} record.")})
            }
            // A closed set: any other value is refused with 400, so `enum`, not `knownValues`.
            Param::Choice(_, values, d) => {
                json!({"type": "string", "enum": values, "default": values[0], "description": d})
            }
            Param::Text(_, d) => {
                json!({"type": "string", "minLength": 1, "maxLength": 200, "description": d})
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
        match self {
            Param::Did(..) => {
                s["pattern"] = json!(format!("^{DID_PATTERN}$"));
                s["maxLength"] = json!(2048);
            }
            Param::Actor(_) => {
                s["pattern"] = json!(format!("^({DID_PATTERN}|{HANDLE_PATTERN})$"));
                s["maxLength"] = json!(2048);
            }
            Param::Uri(_, collection) => {
                let coll = if collection.contains('*') {
                    "fm\\.(plyr|teal)\\.[^/]+".to_owned()
                } else {
                    collection.replace('.', "\\.")
                };
                s["pattern"] = json!(format!("^at://{DID_PATTERN}/{coll}/{RKEY_PATTERN}$"));
            }
            // Whitespace alone is refused too.
            Param::Text(..) => s["pattern"] = json!("\\S"),
            // Unpadded base64url; any other content is refused as malformed.
            Param::Cursor => s["pattern"] = json!("^[A-Za-z0-9_-]+$"),
            Param::Limit | Param::Choice(..) => {}
        }
        s
    }
}

/// One XRPC query.
#[derive(Debug)]
pub struct Endpoint {
    pub nsid: &'static str,
    pub description: &'static str,
    pub params: &'static [Param],
    pub required: &'static [&'static str],
    /// Output properties: name, lexicon type (a `#view` ref, `[#view]` for arrays, or a plain type).
    pub output: &'static [(&'static str, &'static str)],
    pub example: &'static str,
}

const TRACK: &str = "fm.plyr.track";

pub const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        nsid: "fm.reprise.getTracks",
        description: "Tracks, newest first or most liked over a period, optionally by one artist or album.",
        params: &[
            Param::Limit,
            Param::Cursor,
            Param::Did("artist", "Only this artist's tracks."),
            Param::Text("album", "Only tracks whose album field is exactly this."),
            Param::Choice("sort", &["newest", "top"], "top: most likes received in the period."),
            Param::Choice("period", &["all", "day", "week", "month"], "For sort=top."),
        ],
        required: &[],
        output: &[("tracks", "[#trackView]"), ("cursor", "string")],
        example: "/xrpc/fm.reprise.getTracks?limit=10",
    },
    Endpoint {
        nsid: "fm.reprise.getTrack",
        description: "One track with its artist and counts.",
        params: &[Param::Uri("uri", TRACK)],
        required: &["uri"],
        output: &[("track", "#trackView")],
        example: "/xrpc/fm.reprise.getTrack?uri=at://did:plc:.../fm.plyr.track/...",
    },
    Endpoint {
        nsid: "fm.reprise.searchTracks",
        description: "Full-text search over title, artist, album and description, best match first.",
        params: &[Param::Text("q", "Words to search for."), Param::Limit, Param::Cursor],
        required: &["q"],
        output: &[("tracks", "[#trackView]"), ("cursor", "string")],
        example: "/xrpc/fm.reprise.searchTracks?q=bloom",
    },
    Endpoint {
        nsid: "fm.reprise.getLikes",
        description: "Who liked a track, newest first, one entry per liker.",
        params: &[Param::Uri("uri", TRACK), Param::Limit, Param::Cursor],
        required: &["uri"],
        output: &[("likes", "[#likeView]"), ("cursor", "string")],
        example: "/xrpc/fm.reprise.getLikes?uri=at://...",
    },
    Endpoint {
        nsid: "fm.reprise.getComments",
        description: "A track's comments by playback position (timestampMs), then creation time.",
        params: &[Param::Uri("uri", TRACK), Param::Limit, Param::Cursor],
        required: &["uri"],
        output: &[("comments", "[#commentView]"), ("cursor", "string")],
        example: "/xrpc/fm.reprise.getComments?uri=at://...",
    },
    Endpoint {
        nsid: "fm.reprise.getArtist",
        description: "An artist: handle, profile, account status and counts.",
        params: &[Param::Actor("actor")],
        required: &["actor"],
        output: &[("artist", "#artistView")],
        example: "/xrpc/fm.reprise.getArtist?actor=did:plc:...",
    },
    Endpoint {
        nsid: "fm.reprise.getActorLikes",
        description: "Tracks an actor liked, most recently liked first.",
        params: &[Param::Actor("actor"), Param::Limit, Param::Cursor],
        required: &["actor"],
        output: &[("tracks", "[#trackView]"), ("cursor", "string")],
        example: "/xrpc/fm.reprise.getActorLikes?actor=did:plc:...",
    },
    Endpoint {
        nsid: "fm.reprise.getLists",
        description: "An actor's lists (playlists, albums, liked), newest first.",
        params: &[
            Param::Actor("actor"),
            Param::Choice("listType", &["any", "playlist", "album", "liked"], "Only lists of this type."),
            Param::Limit,
            Param::Cursor,
        ],
        required: &["actor"],
        output: &[("lists", "[#listView]"), ("cursor", "string")],
        example: "/xrpc/fm.reprise.getLists?actor=did:plc:...&listType=album",
    },
    Endpoint {
        nsid: "fm.reprise.getList",
        description: "One list and its items in record order, each resolved to its track or marked missing.",
        params: &[Param::Uri("uri", "fm.plyr.list")],
        required: &["uri"],
        output: &[("list", "#listView"), ("items", "[#listItemView]")],
        example: "/xrpc/fm.reprise.getList?uri=at://.../fm.plyr.list/...",
    },
    Endpoint {
        nsid: "fm.reprise.getPlays",
        description: "Plays (teal.fm scrobbles) by an actor or of a track, newest first. Give exactly one of actor and track.",
        params: &[Param::Actor("actor"), Param::Uri("track", TRACK), Param::Limit, Param::Cursor],
        required: &[],
        output: &[("plays", "[#playView]"), ("cursor", "string")],
        example: "/xrpc/fm.reprise.getPlays?actor=did:plc:...",
    },
    Endpoint {
        nsid: "fm.reprise.getNowPlaying",
        description: "What an actor is playing now; an empty object when nothing is, or the status expired.",
        params: &[Param::Actor("actor")],
        required: &["actor"],
        output: &[("status", "#statusView")],
        example: "/xrpc/fm.reprise.getNowPlaying?actor=did:plc:...",
    },
    Endpoint {
        nsid: "fm.reprise.getStats",
        description: "Totals over visible content, the size of the log and how far behind ingest and projection are.",
        params: &[],
        required: &[],
        output: &[
            ("tracks", "integer"),
            ("artists", "integer"),
            ("likes", "integer"),
            ("comments", "integer"),
            ("plays", "integer"),
            ("totalDurationSeconds", "integer"),
            ("events", "integer"),
            ("projectedSeq", "integer"),
            ("ingestLagSeconds", "integer"),
        ],
        example: "/xrpc/fm.reprise.getStats",
    },
    Endpoint {
        nsid: "fm.reprise.getActivity",
        description: "Newest activity: tracks published, likes, comments, list changes.",
        params: &[Param::Limit, Param::Cursor],
        required: &[],
        output: &[("events", "[#activityView]"), ("cursor", "string")],
        example: "/xrpc/fm.reprise.getActivity?limit=20",
    },
    Endpoint {
        nsid: "fm.reprise.getRecordHistory",
        description: "Every event that touched a record, oldest first, with what reprise did with it and why (hidden and deleted accounts included).",
        params: &[Param::Uri("uri", "fm.plyr.* or fm.teal.*"), Param::Limit, Param::Cursor],
        required: &["uri"],
        output: &[("entries", "[#historyEntry]"), ("cursor", "string")],
        example: "/xrpc/fm.reprise.getRecordHistory?uri=at://...",
    },
    Endpoint {
        nsid: "fm.reprise.getActorHistory",
        description: "Every event that touched an account or its records, oldest first.",
        params: &[Param::Actor("actor"), Param::Limit, Param::Cursor],
        required: &["actor"],
        output: &[("entries", "[#historyEntry]"), ("cursor", "string")],
        example: "/xrpc/fm.reprise.getActorHistory?actor=did:plc:...",
    },
];

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
    let props: Map<String, Value> = e.params.iter().map(|p| (p.name().to_owned(), p.lexicon())).collect();
    let out: Map<String, Value> = e.output.iter().map(|(n, t)| ((*n).to_owned(), output_type(t))).collect();
    let out_required: Vec<&str> =
        e.output.iter().map(|(n, _)| *n).filter(|n| *n != "cursor" && *n != "status").collect();
    let mut params = json!({"type": "params", "properties": props});
    if !e.required.is_empty() {
        params["required"] = json!(e.required);
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
pub const DEFS: &str = include_str!("../../lexicons/schemas/fm/reprise/defs.json");

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
                let name = p.name();
                json!({"name": name, "in": "query", "required": e.required.contains(&name),
                       "schema": p.openapi_schema()})
            })
            .collect();
        let out = schema_of(&main["output"]["schema"]);
        paths.insert(
            format!("/xrpc/{}", e.nsid),
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
