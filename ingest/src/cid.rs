//! The record CID check: re-encode a commit's record JSON to DAG-CBOR and compare its CID with the frame's.
//!
//! Jetstream passes records through as JSON; the CID a frame carries is the hash of the record's DAG-CBOR
//! form. shrike maps the atproto JSON back to DAG-CBOR (`$link`, `$bytes`, canonical key order, no
//! floats), so the hash can be recomputed here, before anything downstream trusts the record.

use reprise_events::CidCheck;
use shrike::cbor::json::{Integers, json_slice_to_drisl};
use shrike::cbor::{Cid, Codec};

/// The CIDv1 (dag-cbor, sha2-256) of a record given as atproto JSON text, or why it has none.
pub fn record_cid(record_json: &[u8]) -> Result<String, String> {
    let drisl = json_slice_to_drisl(record_json, Integers::Safe).map_err(|e| e.to_string())?;
    Ok(Cid::compute(Codec::Drisl, &drisl).to_string())
}

/// Checks `record_json` against the CID `claimed` by the frame.
pub fn check_record_cid(record_json: &[u8], claimed: &str) -> CidCheck {
    match record_cid(record_json) {
        Ok(computed) if computed == claimed => CidCheck::Match,
        Ok(computed) => CidCheck::Mismatch { computed },
        Err(reason) => CidCheck::Unverifiable(reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The like from the real frames (fixtures/jetstream-examples.jsonl line 1) and the CID Jetstream sent.
    const LIKE: &str = r#"{"$type":"app.bsky.feed.like","createdAt":"2026-05-25T14:23:29.338Z","subject":{"cid":"bafyreigm4hr7b6fcgdbevnhyfcnfcaalw3f4npgkwzh4okrcpxa2ukn7ne","uri":"at://did:plc:ymkgrj2yuwjjjbwaq6vkhxdt/app.bsky.feed.post/3mmoogpvbqk2a"}}"#;

    fn check(record: &str, claimed: &str, expected: &CidCheck) {
        assert_eq!(&check_record_cid(record.as_bytes(), claimed), expected, "{record}");
    }

    #[test]
    fn key_order_and_whitespace_do_not_change_the_cid() {
        let a = record_cid(
            br#"{"b":1,"a":{"$link":"bafyreigm4hr7b6fcgdbevnhyfcnfcaalw3f4npgkwzh4okrcpxa2ukn7ne"}}"#,
        );
        let b = record_cid(
            br#"{ "a": {"$link":"bafyreigm4hr7b6fcgdbevnhyfcnfcaalw3f4npgkwzh4okrcpxa2ukn7ne"}, "b": 1 }"#,
        );
        assert_eq!(a, b);
        assert!(a.unwrap().starts_with("bafyrei"));
    }

    #[test]
    fn outcomes() {
        let cid = record_cid(LIKE.as_bytes()).unwrap();
        check(LIKE, &cid, &CidCheck::Match);
        check(r#"{"x":2}"#, &cid, &CidCheck::Mismatch { computed: record_cid(br#"{"x":2}"#).unwrap() });
        let got = check_record_cid(br#"{"x":1.5}"#, &cid);
        assert!(matches!(got, CidCheck::Unverifiable(_)), "{got:?}");
    }
}
