//! Moving big files through the object store: zstd compression with a sha256 of each side on the way
//! up, and on the way down a download that is checked against the manifest before a byte of it is
//! decompressed, then a decompression checked again. Nothing is held in memory beyond a buffer.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use futures_util::StreamExt;
use reprise_store::{ObjectKey, ObjectStore};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use tempfile::NamedTempFile;
use tokio::io::AsyncWriteExt;

use crate::error::{SnapshotError, blocking};

/// zstd level: level 3 compresses these SQLite files ~4-5x at a few hundred MB/s on one core.
const LEVEL: i32 = 3;
const BUFFER: usize = 1 << 20;

/// Size and sha256 (lower-case hex) of a byte sequence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digest {
    pub bytes: u64,
    pub sha256: String,
}

impl Digest {
    /// A placeholder until the bytes have been hashed.
    pub(crate) fn pending() -> Self {
        Digest { bytes: 0, sha256: String::new() }
    }
}

/// A writer that hashes and counts what passes through it.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W> Hashing<W> {
    fn new(inner: W) -> Self {
        Hashing { inner, hasher: Sha256::new(), bytes: 0 }
    }

    fn update(&mut self, data: &[u8]) {
        self.hasher.update(data);
        self.bytes += data.len() as u64;
    }

    fn finish(self) -> (W, Digest) {
        let sha256 = hex(&self.hasher.finalize());
        (self.inner, Digest { bytes: self.bytes, sha256 })
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.update(&buf[..n]);
        Ok(n)
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compresses `src` into a new temporary file in `scratch`; returns it with the digests of the
/// uncompressed and the compressed bytes.
pub(crate) fn compress(src: &Path, scratch: &Path) -> Result<(NamedTempFile, Digest, Digest), SnapshotError> {
    let out = tempfile::Builder::new()
        .prefix(".upload-")
        .tempfile_in(scratch)
        .map_err(SnapshotError::io(scratch))?;
    let file = out.as_file().try_clone().map_err(SnapshotError::io(out.path()))?;
    let mut reader =
        Hashing::new(BufReader::with_capacity(BUFFER, File::open(src).map_err(SnapshotError::io(src))?));
    let writer = Hashing::new(BufWriter::with_capacity(BUFFER, file));
    let mut encoder =
        zstd::stream::write::Encoder::new(writer, LEVEL).map_err(SnapshotError::io(out.path()))?;
    encoder.include_checksum(true).map_err(SnapshotError::io(out.path()))?;
    std::io::copy(&mut reader, &mut encoder).map_err(SnapshotError::io(src))?;
    let writer = encoder.finish().map_err(SnapshotError::io(out.path()))?;
    let (buffered, compressed) = writer.finish();
    let file = buffered.into_inner().map_err(|e| SnapshotError::io(out.path())(e.into_error()))?;
    file.sync_all().map_err(SnapshotError::io(out.path()))?;
    let (_, raw) = reader.finish();
    Ok((out, raw, compressed))
}

/// Downloads `key` into a new temporary file in `scratch`, hashing as it streams; refuses (and removes
/// the file) unless it is exactly `expected`. A longer object is cut off as soon as it passes the size.
pub(crate) async fn download(
    store: &dyn ObjectStore,
    key: &ObjectKey,
    expected: &Digest,
    scratch: &Path,
) -> Result<NamedTempFile, SnapshotError> {
    let path = key.as_path();
    let object = match store.get(key, None).await {
        Err(reprise_store::StoreError::NotFound) => return Err(SnapshotError::NotFound(path)),
        other => other?,
    };
    if object.meta.size != expected.bytes {
        return Err(SnapshotError::Refused(format!(
            "{path} is {} bytes, its manifest says {}: truncated or replaced",
            object.meta.size, expected.bytes
        )));
    }
    let temp = tempfile::Builder::new()
        .prefix(".download-")
        .tempfile_in(scratch)
        .map_err(SnapshotError::io(scratch))?;
    let file = tokio::fs::File::from_std(temp.as_file().try_clone().map_err(SnapshotError::io(temp.path()))?);
    let mut out = Hashing::new(tokio::io::BufWriter::with_capacity(BUFFER, file));
    let mut body = object.body;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(SnapshotError::io(temp.path()))?;
        if out.bytes + chunk.len() as u64 > expected.bytes {
            return Err(SnapshotError::Refused(format!("{path} is longer than its manifest says")));
        }
        out.update(&chunk);
        out.inner.write_all(&chunk).await.map_err(SnapshotError::io(temp.path()))?;
    }
    let (mut writer, got) = out.finish();
    writer.flush().await.map_err(SnapshotError::io(temp.path()))?;
    check(&path, "stored object", &got, expected)?;
    Ok(temp)
}

/// Decompresses `src` into `dst` (an empty file), refusing unless the result is exactly `expected`.
pub(crate) fn decompress(src: &Path, dst: &File, expected: &Digest, what: &str) -> Result<(), SnapshotError> {
    let input = BufReader::with_capacity(BUFFER, File::open(src).map_err(SnapshotError::io(src))?);
    let mut decoder = zstd::stream::read::Decoder::with_buffer(input)
        .map_err(|e| SnapshotError::Refused(format!("{what} does not decompress: {e}")))?;
    let mut out = Hashing::new(BufWriter::with_capacity(BUFFER, dst));
    let mut buf = vec![0u8; BUFFER];
    loop {
        let n = match decoder.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => return Err(SnapshotError::Refused(format!("{what} does not decompress: {e}"))),
        };
        if out.bytes + n as u64 > expected.bytes {
            return Err(SnapshotError::Refused(format!(
                "{what} decompresses to more than its manifest says"
            )));
        }
        out.write_all(&buf[..n]).map_err(SnapshotError::io(src))?;
    }
    let (writer, got) = out.finish();
    writer
        .into_inner()
        .map_err(|e| SnapshotError::Refused(e.to_string()))?
        .sync_all()
        .map_err(SnapshotError::io(src))?;
    check(what, "decompressed file", &got, expected)
}

fn check(what: &str, side: &str, got: &Digest, expected: &Digest) -> Result<(), SnapshotError> {
    if got != expected {
        return Err(SnapshotError::Refused(format!(
            "{what}: {side} is {} bytes with sha256 {}, its manifest says {} bytes with sha256 {}: corrupt",
            got.bytes, got.sha256, expected.bytes, expected.sha256
        )));
    }
    Ok(())
}

/// Compresses `src` and uploads it under `key`; returns the digests of both sides.
pub(crate) async fn upload(
    store: &dyn ObjectStore,
    key: &ObjectKey,
    src: &Path,
    scratch: &Path,
) -> Result<(Digest, Digest), SnapshotError> {
    let (src, scratch) = (src.to_owned(), scratch.to_owned());
    let (temp, raw, compressed) = blocking(move || compress(&src, &scratch)).await?;
    store.put_file(key, temp.path(), "application/zstd").await?;
    Ok((raw, compressed))
}

/// Reads a small JSON object (a manifest); `None` when it does not exist.
pub(crate) async fn get_json<T: serde::de::DeserializeOwned>(
    store: &dyn ObjectStore,
    key: &ObjectKey,
) -> Result<Option<T>, SnapshotError> {
    const MAX_MANIFEST: u64 = 16 << 20;
    let object = match store.get(key, None).await {
        Err(reprise_store::StoreError::NotFound) => return Ok(None),
        other => other?,
    };
    if object.meta.size > MAX_MANIFEST {
        return Err(SnapshotError::Refused(format!(
            "{} is {} bytes: not a manifest",
            key.as_path(),
            object.meta.size
        )));
    }
    let bytes = object.bytes().await?;
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| SnapshotError::Refused(format!("{} is not JSON: {e}", key.as_path())))?;
    let format = value.get("format").and_then(serde_json::Value::as_u64);
    if format != Some(u64::from(crate::MANIFEST_FORMAT)) {
        return Err(SnapshotError::Refused(format!(
            "{} has manifest format {}, this build reads format {}",
            key.as_path(),
            format.map_or("(none)".to_owned(), |f| f.to_string()),
            crate::MANIFEST_FORMAT
        )));
    }
    serde_json::from_value(value)
        .map(Some)
        .map_err(|e| SnapshotError::Refused(format!("{} is not a valid manifest: {e}", key.as_path())))
}

pub(crate) async fn put_json<T: Serialize>(
    store: &dyn ObjectStore,
    key: &ObjectKey,
    value: &T,
) -> Result<(), SnapshotError> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| SnapshotError::Task(e.to_string()))?;
    store.put_bytes(key, bytes.into(), "application/json").await?;
    Ok(())
}
