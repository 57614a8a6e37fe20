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
    ("fm/reprise/defs.json", include_str!("../schemas/fm/reprise/defs.json")),
    ("fm/reprise/getActivity.json", include_str!("../schemas/fm/reprise/getActivity.json")),
    ("fm/reprise/getActorHistory.json", include_str!("../schemas/fm/reprise/getActorHistory.json")),
    ("fm/reprise/getActorLikes.json", include_str!("../schemas/fm/reprise/getActorLikes.json")),
    ("fm/reprise/getArtist.json", include_str!("../schemas/fm/reprise/getArtist.json")),
    ("fm/reprise/getComments.json", include_str!("../schemas/fm/reprise/getComments.json")),
    ("fm/reprise/getLikes.json", include_str!("../schemas/fm/reprise/getLikes.json")),
    ("fm/reprise/getList.json", include_str!("../schemas/fm/reprise/getList.json")),
    ("fm/reprise/getLists.json", include_str!("../schemas/fm/reprise/getLists.json")),
    ("fm/reprise/getNowPlaying.json", include_str!("../schemas/fm/reprise/getNowPlaying.json")),
    ("fm/reprise/getPlays.json", include_str!("../schemas/fm/reprise/getPlays.json")),
    ("fm/reprise/getRecordHistory.json", include_str!("../schemas/fm/reprise/getRecordHistory.json")),
    ("fm/reprise/getStats.json", include_str!("../schemas/fm/reprise/getStats.json")),
    ("fm/reprise/getTrack.json", include_str!("../schemas/fm/reprise/getTrack.json")),
    ("fm/reprise/getTracks.json", include_str!("../schemas/fm/reprise/getTracks.json")),
    ("fm/reprise/searchTracks.json", include_str!("../schemas/fm/reprise/searchTracks.json")),
    ("fm/teal/actor/status.json", include_str!("../schemas/fm/teal/actor/status.json")),
    ("fm/teal/alpha/actor/status.json", include_str!("../schemas/fm/teal/alpha/actor/status.json")),
    ("fm/teal/alpha/feed/defs.json", include_str!("../schemas/fm/teal/alpha/feed/defs.json")),
    ("fm/teal/alpha/feed/play.json", include_str!("../schemas/fm/teal/alpha/feed/play.json")),
    ("fm/teal/feed/defs.json", include_str!("../schemas/fm/teal/feed/defs.json")),
    ("fm/teal/feed/play.json", include_str!("../schemas/fm/teal/feed/play.json")),
];
