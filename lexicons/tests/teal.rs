//! `normalize_teal_alpha`: alpha records become the stable shape and then validate against the
//! stable lexicons.

use reprise_lexicons::{Catalog, normalize_teal_alpha};
use serde_json::{Value, json};

fn example(name: &str) -> Value {
    let path = format!("{}/tests/data/examples/{name}.example.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn alpha_play_becomes_a_valid_stable_play() {
    let (collection, play) =
        normalize_teal_alpha("fm.teal.alpha.feed.play", example("fm.teal.alpha.feed.play"));
    assert_eq!(collection, "fm.teal.feed.play");
    assert_eq!(play["$type"], "fm.teal.feed.play");
    assert_eq!(play["originUri"], "https://plyr.fm/track/1234");
    assert_eq!(play["musicServiceUri"], "https://plyr.fm");
    assert!(play.get("originUrl").is_none() && play.get("musicServiceBaseDomain").is_none());
    assert_eq!(Catalog::builtin().validate_record(collection, "3mtjtghiqeo22", &play), Ok(()));
    // The same shape as a stable record written by a current client.
    let mut stable = example("fm.teal.feed.play");
    stable["playedTime"] = play["playedTime"].clone();
    assert_eq!(play, stable);
}

#[test]
fn alpha_status_renames_inside_item() {
    let (collection, status) =
        normalize_teal_alpha("fm.teal.alpha.actor.status", example("fm.teal.alpha.actor.status"));
    assert_eq!(collection, "fm.teal.actor.status");
    assert_eq!(status["$type"], "fm.teal.actor.status");
    assert_eq!(status["item"]["originUri"], "https://plyr.fm/track/1234");
    assert_eq!(status["item"]["musicServiceUri"], "https://plyr.fm");
    assert!(status["item"].get("originUrl").is_none());
    assert_eq!(Catalog::builtin().validate_record(collection, "self", &status), Ok(()));
}

#[test]
fn edge_cases() {
    let cases = [
        // The alpha default "local" names no service: dropped.
        (json!({"musicServiceBaseDomain": "local"}), json!({})),
        // Already a URI: kept as is.
        (
            json!({"musicServiceBaseDomain": "https://tidal.com"}),
            json!({"musicServiceUri": "https://tidal.com"}),
        ),
        // Not a URI: dropped (the raw record keeps it).
        (json!({"originUrl": "somewhere on my disk"}), json!({})),
        (json!({"originUrl": 5}), json!({})),
        // The stable field wins over the alpha one.
        (
            json!({"originUrl": "https://a.example", "originUri": "https://b.example"}),
            json!({"originUri": "https://b.example"}),
        ),
        // Nested alpha $type values follow.
        (
            json!({"$type": "fm.teal.alpha.feed.play", "artists": [{"$type": "fm.teal.alpha.feed.defs#artist", "artistName": "x"}]}),
            json!({"$type": "fm.teal.feed.play", "artists": [{"$type": "fm.teal.feed.defs#artist", "artistName": "x"}]}),
        ),
        // A foreign $type is left for validation to reject.
        (json!({"$type": "fm.plyr.track"}), json!({"$type": "fm.plyr.track"})),
    ];
    for (input, expected) in cases {
        let (_, output) = normalize_teal_alpha("fm.teal.alpha.feed.play", input.clone());
        assert_eq!(output, expected, "{input}");
    }
    let status = json!({"item": {"musicServiceBaseDomain": "plyr.fm"}});
    let (_, output) = normalize_teal_alpha("fm.teal.alpha.actor.status", status);
    assert_eq!(output, json!({"item": {"musicServiceUri": "https://plyr.fm"}}));
}

#[test]
fn other_collections_pass_through() {
    for collection in ["fm.teal.feed.play", "fm.plyr.track", "fm.teal.alpha.feed.defs"] {
        let record = json!({"originUrl": "https://a.example", "$type": "fm.teal.alpha.feed.play"});
        assert_eq!(normalize_teal_alpha(collection, record.clone()), (collection, record));
    }
}
