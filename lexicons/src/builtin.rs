//! The lexicon files compiled into the binary: every schema under `lexicons/schemas/`, embedded with
//! `include_str!` so a release build needs no files at run time. To add a schema, put the file under
//! `schemas/` in atproto layout and add a line here; `tests/catalog.rs` fails while the two disagree.

/// `(path relative to lexicons/schemas, file contents)` for every built-in schema.
pub(crate) const SOURCES: &[(&str, &str)] = &[
    ("com/atproto/label/defs.json", include_str!("../schemas/com/atproto/label/defs.json")),
    ("com/atproto/repo/strongRef.json", include_str!("../schemas/com/atproto/repo/strongRef.json")),
    ("fm/plyr/actor/profile.json", include_str!("../schemas/fm/plyr/actor/profile.json")),
    ("fm/plyr/authFullApp.json", include_str!("../schemas/fm/plyr/authFullApp.json")),
    ("fm/plyr/comment.json", include_str!("../schemas/fm/plyr/comment.json")),
    ("fm/plyr/like.json", include_str!("../schemas/fm/plyr/like.json")),
    ("fm/plyr/list.json", include_str!("../schemas/fm/plyr/list.json")),
    ("fm/plyr/privateMedia.json", include_str!("../schemas/fm/plyr/privateMedia.json")),
    ("fm/plyr/privateMediaAccess.json", include_str!("../schemas/fm/plyr/privateMediaAccess.json")),
    ("fm/plyr/track.json", include_str!("../schemas/fm/plyr/track.json")),
    ("fm/teal/actor/status.json", include_str!("../schemas/fm/teal/actor/status.json")),
    ("fm/teal/alpha/actor/status.json", include_str!("../schemas/fm/teal/alpha/actor/status.json")),
    ("fm/teal/alpha/feed/defs.json", include_str!("../schemas/fm/teal/alpha/feed/defs.json")),
    ("fm/teal/alpha/feed/play.json", include_str!("../schemas/fm/teal/alpha/feed/play.json")),
    ("fm/teal/feed/defs.json", include_str!("../schemas/fm/teal/feed/defs.json")),
    ("fm/teal/feed/play.json", include_str!("../schemas/fm/teal/feed/play.json")),
];
