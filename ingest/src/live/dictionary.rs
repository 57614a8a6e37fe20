//! v2 compression: fetching a host's zstd dictionary with `getZstdDictionary` (a plain HTTP GET whose
//! body is the raw dictionary) and reading its ID, which the subscription then names.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
/// A fetched dictionary and its ID.
#[derive(Clone)]
pub(crate) struct V2Dictionary {
    pub id: u32,
    pub bytes: Arc<[u8]>,
}

impl std::fmt::Debug for V2Dictionary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("V2Dictionary").field("id", &self.id).finish()
    }
}

/// The XRPC method that serves a host's current dictionary.
pub const DICTIONARY_PATH: &str = "/xrpc/network.bsky.jetstream.getZstdDictionary";
/// A real dictionary is ~100 KiB; anything past this is refused.
const MAX_DICTIONARY_BYTES: usize = 8 << 20;

/// The dictionary ID in a structured zstd dictionary's header.
pub fn dictionary_id(dict: &[u8]) -> Result<u32, String> {
    if dict.len() < 8 || dict[..4] != 0xEC30_A437u32.to_le_bytes() {
        return Err("not a zstd dictionary (bad magic)".into());
    }
    Ok(u32::from_le_bytes([dict[4], dict[5], dict[6], dict[7]]))
}

/// Fetches the dictionary of the host serving `subscribe_url` (`ws[s]://host[:port]/xrpc/...`).
pub(crate) async fn fetch(subscribe_url: &str, timeout: Duration) -> Result<V2Dictionary, String> {
    let (secure, rest) = match subscribe_url.split_once("://") {
        Some(("ws", rest)) => (false, rest),
        Some(("wss", rest)) => (true, rest),
        _ => return Err(format!("{subscribe_url}: not a ws:// or wss:// URL")),
    };
    let authority = rest.split('/').next().unwrap_or_default().to_owned();
    let body = tokio::time::timeout(timeout, get(&authority, secure))
        .await
        .map_err(|_| "getZstdDictionary timed out".to_owned())??;
    let id = dictionary_id(&body)?;
    Ok(V2Dictionary { id, bytes: body.into() })
}

async fn get(authority: &str, secure: bool) -> Result<Vec<u8>, String> {
    let default_port = if secure { 443 } else { 80 };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
            (h.to_owned(), p.parse::<u16>().map_err(|e| format!("bad port in {authority}: {e}"))?)
        }
        _ => (authority.to_owned(), default_port),
    };
    let tcp = TcpStream::connect((host.trim_matches(['[', ']']), port)).await.map_err(|e| e.to_string())?;
    if !secure {
        return request(tcp, authority).await;
    }
    let tls = crate::stream::transport::tls(host.trim_matches(['[', ']']), tcp).await?;
    request(tls, authority).await
}

async fn request(mut s: impl AsyncRead + AsyncWrite + Unpin, authority: &str) -> Result<Vec<u8>, String> {
    let req = format!("GET {DICTIONARY_PATH} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    s.take(MAX_DICTIONARY_BYTES as u64 + 64 * 1024).read_to_end(&mut raw).await.map_err(|e| e.to_string())?;
    parse_response(&raw)
}

/// Status, headers and body of an HTTP/1.1 response (identity or chunked body).
fn parse_response(raw: &[u8]) -> Result<Vec<u8>, String> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or("truncated HTTP response")?;
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let body = &raw[end + 4..];
    let status = head.split_whitespace().nth(1).unwrap_or("");
    if status != "200" {
        return Err(format!("getZstdDictionary answered {status}: {}", String::from_utf8_lossy(body)));
    }
    if !head.contains("transfer-encoding: chunked") {
        return Ok(body.to_vec());
    }
    let (mut out, mut rest) = (Vec::new(), body);
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n").ok_or("truncated chunk")?;
        let size = std::str::from_utf8(&rest[..line_end]).map_err(|e| e.to_string())?;
        let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|e| e.to_string())?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(rest.get(..size).ok_or("truncated chunk")?);
        rest = rest.get(size + 2..).ok_or("truncated chunk")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_with_identity_and_chunked_bodies() {
        assert_eq!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc").unwrap(), b"abc");
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n1\r\nc\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked).unwrap(), b"abc");
        assert!(parse_response(b"HTTP/1.1 404 Not Found\r\n\r\nnope").unwrap_err().contains("404"));
        assert_eq!(dictionary_id(super::super::zstd::V1_DICTIONARY), Ok(1_612_007_021));
        assert!(dictionary_id(b"nope").is_err());
    }
}
