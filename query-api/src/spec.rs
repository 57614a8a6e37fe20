//! The API's definition, in one place: every XRPC query, its parameters, its output and the function
//! that answers it. The router is built by iterating this table, `params.rs` parses each request's
//! parameters from its row, and the `fm.reprise.*` lexicons in `lexicons/schemas/fm/reprise/` (a test
//! keeps them in step), `/openapi.json` and the `/` page are generated from it (`spec/docs.rs`).

mod docs;

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

pub use docs::{DEFS, lexicon, openapi};

use crate::params::Args;
use crate::{ApiError, AppState, feeds, history, lists, social};

/// A query parameter: its name, what it accepts, and whether the query needs it. Rows build them
/// with the constructors below; `params.rs` parses each kind into its typed value.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub kind: Kind,
    /// Refused with 400 when absent.
    pub required: bool,
}

/// What a parameter accepts. A new kind is a variant here, its lexicon and OpenAPI schema in
/// `spec/docs.rs`, and its parsing and typed value in `params.rs`.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// The page size: 1..=100, 50 when absent.
    Limit,
    /// An opaque position from a previous page: `ints` integers and a text key (what the handler's
    /// query orders by). Parsed after every other parameter, as it continues the list they describe.
    Cursor { ints: usize },
    /// A DID.
    Did { doc: &'static str },
    /// A DID or a handle.
    Actor,
    /// An AT-URI of one record of `collection`; `fm.plyr.* or fm.teal.*` names collections by prefix.
    Uri { collection: &'static str },
    /// One of `values` (a `Choice` type's); the first is the default.
    Choice { values: &'static [&'static str], doc: &'static str },
    /// Free text of 1..=200 characters, not all whitespace.
    Text { doc: &'static str },
}

impl Param {
    const fn new(name: &'static str, kind: Kind) -> Param {
        Param { name, kind, required: false }
    }

    pub const LIMIT: Param = Param::new("limit", Kind::Limit);

    /// A cursor carrying `ints` integers besides its text key.
    pub const fn cursor(ints: usize) -> Param {
        Param::new("cursor", Kind::Cursor { ints })
    }

    pub const fn did(name: &'static str, doc: &'static str) -> Param {
        Param::new(name, Kind::Did { doc })
    }

    pub const fn actor(name: &'static str) -> Param {
        Param::new(name, Kind::Actor)
    }

    pub const fn uri(name: &'static str, collection: &'static str) -> Param {
        Param::new(name, Kind::Uri { collection })
    }

    pub const fn choice<C: Choice>(name: &'static str, doc: &'static str) -> Param {
        Param::new(name, Kind::Choice { values: C::VALUES, doc })
    }

    pub const fn text(name: &'static str, doc: &'static str) -> Param {
        Param::new(name, Kind::Text { doc })
    }

    /// The same parameter, refused when absent.
    pub const fn required(self) -> Param {
        Param { required: true, ..self }
    }
}

/// A closed set of values for a `Kind::Choice` parameter, as a Rust enum, so a handler matches on
/// variants and never restates the strings. Declare one with `choice!`.
pub trait Choice: Copy + PartialEq + 'static {
    /// The values clients send, the default first.
    const VALUES: &'static [&'static str];
    /// The variants, in the order of `VALUES`.
    const ALL: &'static [Self];

    /// The value clients send for this variant.
    fn value(self) -> &'static str {
        Self::ALL.iter().position(|c| *c == self).map_or(Self::VALUES[0], |i| Self::VALUES[i])
    }
}

/// Declares an enum and its `Choice` values: `choice!(Name { Variant = "value", ... })`.
macro_rules! choice {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $value:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($variant),+ }

        impl Choice for $name {
            const VALUES: &'static [&'static str] = &[$($value),+];
            const ALL: &'static [Self] = &[$($name::$variant),+];
        }
    };
}

choice!(
    /// getTracks' order.
    Sort { Newest = "newest", Top = "top" }
);
choice!(
    /// The window getTracks' `sort=top` counts likes in.
    Period { All = "all", Day = "day", Week = "week", Month = "month" }
);
choice!(
    /// getLists' filter on the list type (`any`: no filter).
    ListType { Any = "any", Playlist = "playlist", Album = "album", Liked = "liked" }
);

/// A check across parameters, made as soon as the parameters it names are parsed.
#[derive(Debug, Clone, Copy)]
pub enum Rule {
    /// Exactly one of these parameters is given.
    ExactlyOne(&'static [&'static str]),
}

impl Rule {
    /// The parameters it is about.
    pub fn names(self) -> &'static [&'static str] {
        match self {
            Rule::ExactlyOne(names) => names,
        }
    }
}

/// What a handler returns: the response body, or the error to answer with.
pub(crate) type Reply = Pin<Box<dyn Future<Output = Result<Value, ApiError>> + Send>>;
/// Answers one request whose parameters `params.rs` has parsed from the row's `params`.
pub(crate) type Handler = fn(AppState, Args) -> Reply;

/// One XRPC query.
#[derive(Debug)]
pub struct Endpoint {
    pub nsid: &'static str,
    pub description: &'static str,
    pub params: &'static [Param],
    pub rules: &'static [Rule],
    /// Output properties: name, lexicon type (a `#view` ref, `[#view]` for arrays, or a plain type).
    pub output: &'static [(&'static str, &'static str)],
    pub example: &'static str,
    pub(crate) handler: Handler,
}

impl Endpoint {
    /// Where the router serves it.
    pub fn path(&self) -> String {
        format!("/xrpc/{}", self.nsid)
    }
}

const TRACK: &str = "fm.plyr.track";

pub const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        nsid: "fm.reprise.getTracks",
        description: "Tracks, newest first or most liked over a period, optionally by one artist or album.",
        params: &[
            Param::LIMIT,
            Param::cursor(1),
            Param::did("artist", "Only this artist's tracks."),
            Param::text("album", "Only tracks whose album field is exactly this."),
            Param::choice::<Sort>("sort", "top: most likes received in the period."),
            Param::choice::<Period>("period", "For sort=top."),
        ],
        rules: &[],
        output: &[("tracks", "[#trackView]"), ("cursor", "string")],
        example: "/xrpc/fm.reprise.getTracks?limit=10",
        handler: |s, a| Box::pin(feeds::get_tracks(s, a)),
    },
    Endpoint {
        nsid: "fm.reprise.getTrack",
        description: "One track with its artist and counts.",
        params: &[Param::uri("uri", TRACK).required()],
        rules: &[],
        output: &[("track", "#trackView")],
        example: "/xrpc/fm.reprise.getTrack?uri=at://did:plc:.../fm.plyr.track/...",
        handler: |s, a| Box::pin(feeds::get_track(s, a)),
    },
    Endpoint {
        nsid: "fm.reprise.searchTracks",
        description: "Full-text search over title, artist, album and description, best match first.",
        params: &[Param::text("q", "Words to search for.").required(), Param::LIMIT, Param::cursor(1)],
        rules: &[],
        output: &[("tracks", "[#trackView]"), ("cursor", "string")],
        example: "/xrpc/fm.reprise.searchTracks?q=bloom",
        handler: |s, a| Box::pin(feeds::search_tracks(s, a)),
    },
    Endpoint {
        nsid: "fm.reprise.getLikes",
        description: "Who liked a track, newest first, one entry per liker.",
        params: &[Param::uri("uri", TRACK).required(), Param::LIMIT, Param::cursor(1)],
        rules: &[],
        output: &[("likes", "[#likeView]"), ("cursor", "string")],
        example: "/xrpc/fm.reprise.getLikes?uri=at://...",
        handler: |s, a| Box::pin(social::get_likes(s, a)),
    },
    Endpoint {
        nsid: "fm.reprise.getComments",
        description: "A track's comments by playback position (timestampMs), then creation time.",
        params: &[Param::uri("uri", TRACK).required(), Param::LIMIT, Param::cursor(2)],
        rules: &[],
        output: &[("comments", "[#commentView]"), ("cursor", "string")],
        example: "/xrpc/fm.reprise.getComments?uri=at://...",
        handler: |s, a| Box::pin(social::get_comments(s, a)),
    },
    Endpoint {
        nsid: "fm.reprise.getArtist",
        description: "An artist: handle, profile, account status and counts.",
        params: &[Param::actor("actor").required()],
        rules: &[],
        output: &[("artist", "#artistView")],
        example: "/xrpc/fm.reprise.getArtist?actor=did:plc:...",
        handler: |s, a| Box::pin(social::get_artist(s, a)),
    },
    Endpoint {
        nsid: "fm.reprise.getActorLikes",
        description: "Tracks an actor liked, most recently liked first.",
        params: &[Param::actor("actor").required(), Param::LIMIT, Param::cursor(1)],
        rules: &[],
        output: &[("tracks", "[#trackView]"), ("cursor", "string")],
        example: "/xrpc/fm.reprise.getActorLikes?actor=did:plc:...",
        handler: |s, a| Box::pin(feeds::get_actor_likes(s, a)),
    },
    Endpoint {
        nsid: "fm.reprise.getLists",
        description: "An actor's lists (playlists, albums, liked), newest first.",
        params: &[
            Param::actor("actor").required(),
            Param::choice::<ListType>("listType", "Only lists of this type."),
            Param::LIMIT,
            Param::cursor(1),
        ],
        rules: &[],
        output: &[("lists", "[#listView]"), ("cursor", "string")],
        example: "/xrpc/fm.reprise.getLists?actor=did:plc:...&listType=album",
        handler: |s, a| Box::pin(lists::get_lists(s, a)),
    },
    Endpoint {
        nsid: "fm.reprise.getList",
        description: "One list and its items in record order, each resolved to its track or marked missing.",
        params: &[Param::uri("uri", "fm.plyr.list").required()],
        rules: &[],
        output: &[("list", "#listView"), ("items", "[#listItemView]")],
        example: "/xrpc/fm.reprise.getList?uri=at://.../fm.plyr.list/...",
        handler: |s, a| Box::pin(lists::get_list(s, a)),
    },
    Endpoint {
        nsid: "fm.reprise.getPlays",
        description: "Plays (teal.fm scrobbles) by an actor or of a track, newest first. Give exactly one of actor and track.",
        params: &[Param::actor("actor"), Param::uri("track", TRACK), Param::LIMIT, Param::cursor(1)],
        rules: &[Rule::ExactlyOne(&["actor", "track"])],
        output: &[("plays", "[#playView]"), ("cursor", "string")],
        example: "/xrpc/fm.reprise.getPlays?actor=did:plc:...",
        handler: |s, a| Box::pin(lists::get_plays(s, a)),
    },
    Endpoint {
        nsid: "fm.reprise.getNowPlaying",
        description: "What an actor is playing now; an empty object when nothing is, or the status expired.",
        params: &[Param::actor("actor").required()],
        rules: &[],
        output: &[("status", "#statusView")],
        example: "/xrpc/fm.reprise.getNowPlaying?actor=did:plc:...",
        handler: |s, a| Box::pin(lists::get_now_playing(s, a)),
    },
    Endpoint {
        nsid: "fm.reprise.getStats",
        description: "Totals over visible content, the size of the log and how far behind ingest and projection are.",
        params: &[],
        rules: &[],
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
        handler: |s, a| Box::pin(history::get_stats(s, a)),
    },
    Endpoint {
        nsid: "fm.reprise.getActivity",
        description: "Newest activity: tracks published, likes, comments, list changes.",
        params: &[Param::LIMIT, Param::cursor(1)],
        rules: &[],
        output: &[("events", "[#activityView]"), ("cursor", "string")],
        example: "/xrpc/fm.reprise.getActivity?limit=20",
        handler: |s, a| Box::pin(social::get_activity(s, a)),
    },
    Endpoint {
        nsid: "fm.reprise.getRecordHistory",
        description: "Every event that touched a record, oldest first, with what reprise did with it and why (hidden and deleted accounts included).",
        params: &[Param::uri("uri", "fm.plyr.* or fm.teal.*").required(), Param::LIMIT, Param::cursor(1)],
        rules: &[],
        output: &[("entries", "[#historyEntry]"), ("cursor", "string")],
        example: "/xrpc/fm.reprise.getRecordHistory?uri=at://...",
        handler: |s, a| Box::pin(history::get_record_history(s, a)),
    },
    Endpoint {
        nsid: "fm.reprise.getActorHistory",
        description: "Every event that touched an account or its records, oldest first.",
        params: &[Param::actor("actor").required(), Param::LIMIT, Param::cursor(1)],
        rules: &[],
        output: &[("entries", "[#historyEntry]"), ("cursor", "string")],
        example: "/xrpc/fm.reprise.getActorHistory?actor=did:plc:...",
        handler: |s, a| Box::pin(history::get_actor_history(s, a)),
    },
];

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// What `params.rs` relies on: names unique per row, rules naming the row's own parameters (not the
    /// cursor, which is parsed last), at least one value per choice, a cursor with at least one integer.
    #[test]
    fn every_row_is_well_formed() {
        let mut nsids = HashSet::new();
        for e in ENDPOINTS {
            assert!(nsids.insert(e.nsid), "{} twice", e.nsid);
            assert!(e.nsid.starts_with("fm.reprise.") && e.example.starts_with(&e.path()), "{}", e.nsid);
            let mut names = HashSet::new();
            for p in e.params {
                assert!(names.insert(p.name), "{}: {} twice", e.nsid, p.name);
                match p.kind {
                    Kind::Limit => assert_eq!(p.name, "limit"),
                    Kind::Cursor { ints } => assert!(p.name == "cursor" && ints >= 1, "{}", e.nsid),
                    Kind::Choice { values, .. } => assert!(!values.is_empty(), "{}: {}", e.nsid, p.name),
                    _ => {}
                }
            }
            for rule in e.rules {
                let named = rule.names();
                assert!(named.len() >= 2, "{}: {rule:?}", e.nsid);
                for n in named {
                    let p = e.params.iter().find(|p| p.name == *n);
                    let p = p.unwrap_or_else(|| panic!("{}: {rule:?} names no parameter {n}", e.nsid));
                    assert!(!p.required && !matches!(p.kind, Kind::Cursor { .. }), "{}: {n}", e.nsid);
                }
            }
        }
    }

    #[test]
    fn choices_map_values_to_variants() {
        assert_eq!(Sort::VALUES, ["newest", "top"]);
        assert_eq!((Sort::Newest.value(), Sort::Top.value()), ("newest", "top"));
        assert_eq!(Period::ALL.iter().map(|p| p.value()).collect::<Vec<_>>(), Period::VALUES);
        assert_eq!(ListType::Liked.value(), "liked");
    }
}
