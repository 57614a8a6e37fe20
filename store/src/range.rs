//! Byte ranges (`Range: bytes=...`) and their resolution against an object's size.

use crate::StoreError;

/// A single byte range as HTTP states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `bytes=a-b`, both inclusive.
    Inclusive(u64, u64),
    /// `bytes=a-`.
    From(u64),
    /// `bytes=-n`: the last `n` bytes.
    Suffix(u64),
}

impl ByteRange {
    /// Parse one `Range` header value; `None` for anything but a single well-formed byte range.
    pub fn parse_header(value: &str) -> Option<Self> {
        let spec = value.trim().strip_prefix("bytes=")?.trim();
        if spec.contains(',') {
            return None;
        }
        let (start, end) = spec.split_once('-')?;
        let (start, end) = (start.trim(), end.trim());
        match (start.is_empty(), end.is_empty()) {
            (true, false) => Some(Self::Suffix(end.parse().ok()?)),
            (false, true) => Some(Self::From(start.parse().ok()?)),
            (false, false) => {
                let (a, b) = (start.parse().ok()?, end.parse().ok()?);
                (a <= b).then_some(Self::Inclusive(a, b))
            }
            (true, true) => None,
        }
    }

    /// The inclusive `(first, last)` bytes this range covers in an object of `size` bytes.
    pub fn resolve(self, size: u64) -> Result<(u64, u64), StoreError> {
        let unsatisfiable = StoreError::RangeNotSatisfiable { size };
        if size == 0 {
            return Err(unsatisfiable);
        }
        let last = size - 1;
        match self {
            Self::Inclusive(a, b) if a <= last => Ok((a, b.min(last))),
            Self::From(a) if a <= last => Ok((a, last)),
            Self::Suffix(n) if n > 0 => Ok((size.saturating_sub(n), last)),
            _ => Err(unsatisfiable),
        }
    }

    /// The `Range` header value for this range.
    pub fn header_value(self) -> String {
        match self {
            Self::Inclusive(a, b) => format!("bytes={a}-{b}"),
            Self::From(a) => format!("bytes={a}-"),
            Self::Suffix(n) => format!("bytes=-{n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(header: &str, size: u64, expected: Option<(u64, u64)>) {
        let got = ByteRange::parse_header(header).and_then(|r| r.resolve(size).ok());
        assert_eq!(got, expected, "{header} of {size}");
    }

    #[test]
    fn ranges_resolve_like_rfc_9110() {
        check("bytes=0-9", 100, Some((0, 9)));
        check("bytes=90-200", 100, Some((90, 99)));
        check("bytes=10-", 100, Some((10, 99)));
        check("bytes=-10", 100, Some((90, 99)));
        check("bytes=-500", 100, Some((0, 99)));
        check("bytes=100-", 100, None);
        check("bytes=5-1", 100, None);
        check("bytes=0-1,3-4", 100, None);
        check("items=0-1", 100, None);
        check("bytes=-0", 100, None);
        check("bytes=0-0", 0, None);
    }
}
