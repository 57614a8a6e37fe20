//! The string formats the wrapper checks itself instead of shrike, because shrike's rule disagrees
//! with the atproto interop vectors (`lexicons/GAPS.md`): `did` (percent-escapes), `cid` (multibase
//! forms other than base32, and no CIDv0) and `uri` (RFC 3986 schemes, an 8 KB limit).
//!
//! `prepare` renames these formats in every lexicon before shrike parses it, so shrike treats them as
//! unknown (and accepts any string), and the plan sends each such field here.

/// A format the wrapper owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Did,
    Cid,
    Uri,
}

/// What `prepare` renames an owned format to; an unknown format to shrike.
const PREFIX: &str = "reprise:";

impl Format {
    const ALL: [Format; 3] = [Format::Did, Format::Cid, Format::Uri];

    fn name(self) -> &'static str {
        match self {
            Format::Did => "did",
            Format::Cid => "cid",
            Format::Uri => "uri",
        }
    }

    /// The owned format a lexicon names (`"did"`), if it is one.
    pub(crate) fn owned(format: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == format)
    }

    /// The name shrike sees for it.
    pub(crate) fn renamed(self) -> String {
        format!("{PREFIX}{}", self.name())
    }

    /// The owned format behind a renamed one (`"reprise:did"`).
    pub(crate) fn from_renamed(format: &str) -> Option<Format> {
        Format::owned(format.strip_prefix(PREFIX)?)
    }

    /// `None` when `s` is valid, else the error message (worded as shrike words its format errors).
    pub(crate) fn check(self, s: &str) -> Option<String> {
        let valid = match self {
            Format::Did => is_did(s),
            Format::Cid => is_cid(s),
            Format::Uri => is_uri(s),
        };
        (!valid).then(|| format!("invalid {} format: {s:?}", self.name()))
    }
}

/// `did:<method>:<id>`: a lowercase method; the id of `A-Za-z0-9._:%-`, not ending in `:`, where each
/// `%` starts a two-hex-digit escape; at most 2 KB in all.
pub(crate) fn is_did(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("did:") else { return false };
    let Some((method, id)) = rest.split_once(':') else { return false };
    let id = id.as_bytes();
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"._:%-".contains(&b);
    let escapes_ok = id.iter().enumerate().all(|(i, &b)| {
        b != b'%' || id.get(i + 1..i + 3).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    });
    s.len() <= 2048
        && !method.is_empty()
        && method.bytes().all(|b| b.is_ascii_lowercase())
        && id.last().is_some_and(|&b| b != b':')
        && id.iter().all(|&b| allowed(b))
        && escapes_ok
}

/// A CID in multibase text: 8 to 256 characters, a multibase prefix and that base's alphabet. A
/// base32 CID (`b...`, the form atproto writes) must also decode to a CIDv1. CIDv0 (`Qm...`) has no
/// multibase prefix and is refused, as the data model does.
pub(crate) fn is_cid(s: &str) -> bool {
    if !(8..=256).contains(&s.len()) {
        return false;
    }
    let (prefix, body) = s.split_at(1);
    let alphabet: fn(u8) -> bool = match prefix {
        "b" => return base32_lower(body).as_deref().is_some_and(is_cidv1),
        "B" => |b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b),
        "z" => |b| b.is_ascii_alphanumeric() && !b"0OIl".contains(&b),
        "f" => |b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        "F" => |b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b),
        "k" => |b| b.is_ascii_digit() || b.is_ascii_lowercase(),
        "K" => |b| b.is_ascii_digit() || b.is_ascii_uppercase(),
        "m" => |b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/',
        "M" => |b| b.is_ascii_alphanumeric() || b"+/=".contains(&b),
        "u" => |b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_',
        "U" => |b| b.is_ascii_alphanumeric() || b"-_=".contains(&b),
        "7" => |b| (b'0'..=b'7').contains(&b),
        "9" => |b| b.is_ascii_digit(),
        _ => return false,
    };
    body.bytes().all(alphabet)
}

/// RFC 4648 base32, lowercase, unpadded (multibase `b`).
fn base32_lower(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in s.bytes() {
        let v = match b {
            b'a'..=b'z' => b - b'a',
            b'2'..=b'7' => b - b'2' + 26,
            _ => return None,
        };
        acc = (acc << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    // Leftover bits are padding and must be zero.
    (acc & ((1 << bits) - 1) == 0).then_some(out)
}

/// A binary CIDv1: version 1, a codec, and a multihash whose digest has exactly its stated length.
fn is_cidv1(bytes: &[u8]) -> bool {
    let mut rest = bytes;
    let mut varint = || {
        let (mut v, mut shift) = (0u64, 0);
        loop {
            let (&b, tail) = rest.split_first()?;
            rest = tail;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
            shift += 7;
            if shift > 63 {
                return None;
            }
        }
    };
    let parsed = (varint(), varint(), varint(), varint());
    matches!(parsed, (Some(1), Some(_), Some(_), Some(len)) if rest.len() as u64 == len)
}

/// A URI: an RFC 3986 scheme, `:`, then (after an optional `//`) a first character that is neither
/// `/` nor space, no whitespace anywhere, at most 8 KB.
pub(crate) fn is_uri(s: &str) -> bool {
    // JavaScript's `\s`, which the reference uses, also matches U+FEFF.
    let space = |c: char| c.is_whitespace() || c == '\u{feff}';
    let Some((scheme, rest)) = s.split_once(':') else { return false };
    let scheme_ok = scheme.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
        && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+.-".contains(&b));
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    s.len() <= 8192
        && scheme_ok
        && rest.chars().next().is_some_and(|c| c != '/' && !space(c))
        && !s.chars().any(space)
}
