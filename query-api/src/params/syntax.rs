//! The syntax of each parameter kind and the message a value outside it is refused with: limits,
//! opaque cursors, DIDs, handles, AT-URIs, choices and free text.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::ApiError;

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 100;
/// The longest free-text parameter, in characters.
pub const MAX_TEXT_CHARS: usize = 200;

pub fn limit(raw: Option<&str>) -> Result<u32, ApiError> {
    let Some(raw) = raw else { return Ok(DEFAULT_LIMIT) };
    match raw.parse::<u32>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(ApiError::invalid(format!("limit must be an integer from 1 to {MAX_LIMIT}, got {raw:?}"))),
    }
}

/// A position in a keyset-paginated list: some integers (times, counts, seqs) and a unique text key
/// (a URI) that breaks ties. Opaque to clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyset {
    pub nums: Vec<i64>,
    pub key: String,
}

impl Keyset {
    pub fn new(nums: &[i64], key: &str) -> Self {
        Keyset { nums: nums.to_vec(), key: key.to_owned() }
    }

    pub fn encode(&self) -> String {
        let nums: Vec<String> = self.nums.iter().map(i64::to_string).collect();
        URL_SAFE_NO_PAD.encode(format!("1|{}|{}", nums.join("|"), self.key))
    }

    /// Decodes a cursor that carries `n` integers.
    pub fn decode(raw: Option<&str>, n: usize) -> Result<Option<Self>, ApiError> {
        let Some(raw) = raw else { return Ok(None) };
        let bad = || ApiError::invalid("malformed cursor: pass back the cursor of a previous page unchanged");
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let mut parts = text.splitn(n + 2, '|');
        if parts.next() != Some("1") {
            return Err(bad());
        }
        let nums = (0..n)
            .map(|_| parts.next().and_then(|p| p.parse::<i64>().ok()).ok_or_else(bad))
            .collect::<Result<Vec<_>, _>>()?;
        let key = parts.next().ok_or_else(bad)?.to_owned();
        Ok(Some(Keyset { nums, key }))
    }
}

/// A feed position: (time, uri), both descending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedCursor {
    pub at_us: i64,
    pub uri: String,
}

impl From<Keyset> for FeedCursor {
    fn from(k: Keyset) -> Self {
        FeedCursor { at_us: k.nums[0], uri: k.key }
    }
}

impl FeedCursor {
    /// The position to continue from: the cursor's, or the top of the feed when there is none.
    pub fn position(cursor: Option<Keyset>) -> (i64, String) {
        cursor.map(FeedCursor::from).map_or((i64::MAX, "\u{10FFFF}".into()), |c| (c.at_us, c.uri))
    }
}

/// An `actor` parameter: a DID, or a handle to look up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Did(String),
    Handle(String),
}

pub fn actor(name: &str, raw: &str) -> Result<Actor, ApiError> {
    if raw.starts_with("did:") {
        return did(name, raw).map(Actor::Did);
    }
    let h = raw.strip_prefix('@').unwrap_or(raw).to_ascii_lowercase();
    let labels: Vec<&str> = h.split('.').collect();
    let ok = h.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        && labels.last().is_some_and(|tld| tld.as_bytes()[0].is_ascii_alphabetic());
    if ok {
        Ok(Actor::Handle(h))
    } else {
        Err(ApiError::invalid(format!("{name} must be a DID or a handle, got {raw:?}")))
    }
}

/// One of `values` (the first is the default when absent).
pub fn choice(name: &str, raw: Option<&str>, values: &[&'static str]) -> Result<&'static str, ApiError> {
    match raw {
        None => Ok(values[0]),
        Some(r) => values.iter().find(|v| **v == r).copied().ok_or_else(|| {
            ApiError::invalid(format!("{name} must be one of {}, got {r:?}", values.join(", ")))
        }),
    }
}

/// Free text of 1..=200 characters.
pub fn text(name: &str, raw: &str) -> Result<String, ApiError> {
    let n = raw.chars().count();
    if n == 0 || n > MAX_TEXT_CHARS || raw.trim().is_empty() {
        return Err(ApiError::invalid(format!("{name} must be 1 to {MAX_TEXT_CHARS} characters")));
    }
    Ok(raw.to_owned())
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

/// An AT-URI naming one record of `collection`: `at://<did>/<collection>/<rkey>`. `collection` may
/// name several, as `spec.rs` writes them: `fm.plyr.* or fm.teal.*` is any collection under either.
pub fn record_uri(raw: &str, collection: &str) -> Result<String, ApiError> {
    // It says `uri` whatever the parameter is called (getPlays' `track` too), as it always has.
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
    let coll_ok = collection.split(" or ").any(|c| match c.strip_suffix('*') {
        Some(prefix) => coll.starts_with(prefix) && coll.len() > prefix.len(),
        None => coll == c,
    });
    if !is_did(authority) || !coll_ok || !rkey_ok {
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
        let decoded = Keyset::decode(Some(&Keyset::new(&[c.at_us], &c.uri).encode()), 1).unwrap();
        assert_eq!(decoded.map(FeedCursor::from), Some(c));
        let k = Keyset::new(&[3, -4], "at://x|y");
        assert_eq!(Keyset::decode(Some(&k.encode()), 2).unwrap(), Some(k.clone()));
        assert!(Keyset::decode(Some(&k.encode()), 3).is_err());
        for bad in ["", "!!!", "MXxhYmN8", "Mnwx", "eHh4", "MXx4fGF0"] {
            assert!(Keyset::decode(Some(bad), 1).is_err(), "{bad}");
        }
    }

    #[test]
    fn actors_choices_and_text() {
        assert_eq!(actor("actor", "Alice.Example.COM").unwrap(), Actor::Handle("alice.example.com".into()));
        assert_eq!(actor("actor", "did:plc:abc").unwrap(), Actor::Did("did:plc:abc".into()));
        for bad in ["", "alice", "-a.com", "a..com", "a.1com", "did:nope", "al ice.com", &"a.".repeat(200)] {
            assert!(actor("actor", bad).is_err(), "{bad}");
        }
        assert_eq!(choice("sort", None, &["newest", "top"]).unwrap(), "newest");
        assert!(choice("sort", Some("worst"), &["newest", "top"]).is_err());
        assert!(text("q", "").is_err() && text("q", "   ").is_err() && text("q", &"x".repeat(201)).is_err());
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
