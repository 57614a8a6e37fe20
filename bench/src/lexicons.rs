//! Suite `lexicons`: validating realistic `fm.plyr.track` records on one core, against parsing the
//! same records with serde_json alone.

use std::hint::black_box;

use reprise_lexicons::Catalog;
use serde_json::{Value, json};

use crate::Options;
use crate::measure::{emit, median_of, rate};

fn track(i: u64) -> String {
    json!({
        "$type": "fm.plyr.track",
        "title": format!("late bloom {i}"),
        "artist": "Example Artist",
        "fileType": "mp3",
        "createdAt": "2026-08-20T18:04:11.523412Z",
        "audioUrl": format!("https://audio.plyr.fm/audio/{i:016x}.mp3"),
        "album": "greenhouse",
        "duration": 214 + (i % 100),
        "features": [{"did": "did:plc:examplefeature2345abcdef", "handle": "featured-singer.bsky.social",
                      "displayName": "Featured Singer"}],
        "imageUrl": "https://images.plyr.fm/images/b29814cf5792e684.jpg",
        "description": "recorded in one take on a rainy tuesday.",
        "labels": {"$type": "com.atproto.label.defs#selfLabels", "values": [{"val": "sexual"}]},
        "audioBlob": {"$type": "blob", "ref": {"$link": "bafkreibaqc5oue74u2d2h6tzjvbqomtzl7yb3leboxpheizzwqnxsmqlkq"},
                      "mimeType": "audio/mpeg", "size": 8_571_231}
    })
    .to_string()
}

pub fn run(opts: &Options) -> Result<(), String> {
    // 200k records are plenty for a stable per-record rate and keep the suite quick.
    let n = opts.events.min(200_000);
    let catalog = Catalog::builtin();
    let lines: Vec<String> = (0..n).map(track).collect();
    let records: Vec<Value> =
        lines.iter().map(|l| serde_json::from_str(l).map_err(|e| e.to_string())).collect::<Result<_, _>>()?;
    let baseline = median_of(opts.runs, || {
        rate(n, || {
            for line in &lines {
                black_box(serde_json::from_str::<Value>(line).map_err(|e| e.to_string())?);
            }
            Ok(())
        })
    })?;
    let value = median_of(opts.runs, || {
        rate(n, || {
            for record in &records {
                catalog
                    .validate_record("fm.plyr.track", "3mtjtghiqeo22", black_box(record))
                    .map_err(|e| e.to_string())?;
            }
            Ok(())
        })
    })?;
    emit("lexicons", "validate_records_per_s", value, "records/s", baseline);
    Ok(())
}
