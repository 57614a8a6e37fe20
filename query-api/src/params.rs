//! Query parameters, validated once at the edge: limits, opaque cursors, DIDs and AT-URIs.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::ApiError;

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 100;

pub fn limit(raw: Option<&str>) -> Result<u32, ApiError> {
    let Some(raw) = raw else { return Ok(DEFAULT_LIMIT) };
    match raw.parse::<u32>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(ApiError::invalid(format!("limit must be an integer from 1 to {MAX_LIMIT}, got {raw:?}"))),
    }
}

/// A position in a feed sorted by (time, uri), both descending. Opaque to clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedCursor {
    pub at_us: i64,
    pub uri: String,
}

impl FeedCursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("1|{}|{}", self.at_us, self.uri))
    }

    pub fn decode(raw: Option<&str>) -> Result<Option<Self>, ApiError> {
        let Some(raw) = raw else { return Ok(None) };
        let bad = || ApiError::invalid("malformed cursor: pass back the cursor of a previous page unchanged");
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let mut parts = text.splitn(3, '|');
        let (Some("1"), Some(at), Some(uri)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        Ok(Some(FeedCursor { at_us: at.parse().map_err(|_| bad())?, uri: uri.to_owned() }))
    }
}

/// A DID per the atproto syntax: `did:<method>:<id>`, at most 2 KiB.
pub fn did(name: &str, raw: &str) -> Result<String, ApiError> {
    if is_did(raw) {
        Ok(raw.to_owned())
    } else {
        Err(ApiError::invalid(format!("{name} must be a DID, got {raw:?}")))
    }
}

fn is_did(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("did:") else { return false };
    let Some((method, id)) = rest.split_once(':') else { return false };
    s.len() <= 2048
        && !method.is_empty()
        && method.bytes().all(|b| b.is_ascii_lowercase())
        && !id.is_empty()
        && !id.ends_with(':')
        && !id.ends_with('%')
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b".-_:%".contains(&b))
}

/// An AT-URI naming one record of `collection`: `at://<did>/<collection>/<rkey>`.
pub fn record_uri(raw: &str, collection: &str) -> Result<String, ApiError> {
    let bad = || ApiError::invalid(format!("uri must be an at:// URI of a {collection} record, got {raw:?}"));
    let rest = raw.strip_prefix("at://").ok_or_else(bad)?;
    let mut parts = rest.split('/');
    let (Some(authority), Some(coll), Some(rkey), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let rkey_ok = (1..=512).contains(&rkey.len())
        && rkey != "."
        && rkey != ".."
        && rkey.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:~-".contains(&b));
    if !is_did(authority) || coll != collection || !rkey_ok {
        return Err(bad());
    }
    Ok(raw.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        assert_eq!(limit(None).unwrap(), 50);
        assert_eq!(limit(Some("1")).unwrap(), 1);
        assert_eq!(limit(Some("100")).unwrap(), 100);
        for bad in ["0", "101", "-1", "ten", "", "1.5", "99999999999999999999"] {
            assert!(limit(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let c = FeedCursor { at_us: 1_700_000_000_123_456, uri: "at://did:plc:a/fm.plyr.track/3k|x".into() };
        assert_eq!(FeedCursor::decode(Some(&c.encode())).unwrap(), Some(c));
        for bad in ["", "!!!", "MXxhYmN8", "Mnwx", "eHh4", "MXx4fGF0"] {
            assert!(FeedCursor::decode(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn dids_and_uris() {
        assert!(did("artist", "did:plc:mcc5yghbk7tixqryac2yxku7").is_ok());
        assert!(did("artist", "did:web:example.com").is_ok());
        for bad in [
            "",
            "did:",
            "did:plc",
            "did:plc:",
            "DID:plc:x",
            "did:PLC:x",
            "plc:x",
            "did:plc:a b",
            "did:plc:x:",
        ] {
            assert!(did("artist", bad).is_err(), "{bad}");
        }
        assert!(did("artist", &format!("did:plc:{}", "a".repeat(3000))).is_err());
        let ok = "at://did:plc:abc/fm.plyr.track/3kxyz";
        assert!(record_uri(ok, "fm.plyr.track").is_ok());
        for bad in [
            "",
            "https://plyr.fm/track/1",
            "at://did:plc:abc/fm.plyr.like/3kxyz",
            "at://did:plc:abc/fm.plyr.track",
            "at://did:plc:abc/fm.plyr.track/",
            "at://did:plc:abc/fm.plyr.track/a/b",
            "at://alice.test/fm.plyr.track/3k",
            "at://did:plc:abc/fm.plyr.track/..",
            "at://did:plc:abc/fm.plyr.track/a b",
        ] {
            assert!(record_uri(bad, "fm.plyr.track").is_err(), "{bad}");
        }
    }
}
