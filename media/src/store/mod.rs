//! The object store: where originals and renditions live, addressed by blob CID.
//!
//! [`ObjectStore`] is the one interface the rest of the crate (and the server) uses; [`LocalStore`] keeps
//! objects as files under a root directory, [`S3Store`] in an S3-compatible bucket. Both pass the same test
//! suite (`tests/store_suite.rs`).

mod local;
mod range;
mod s3;

use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::Stream;

pub use local::LocalStore;
pub use range::ByteRange;
pub use s3::S3Store;

/// A stream of object bytes, as handed to an HTTP body.
pub type ByteStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// Errors of the object store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid object key: {0}")]
    InvalidKey(String),
    #[error("object not found")]
    NotFound,
    #[error("range not satisfiable for an object of {size} bytes")]
    RangeNotSatisfiable { size: u64 },
    #[error("io error: {0}")]
    Io(#[from] std::io::Error),
    #[error("s3 error: {0}")]
    S3(String),
    #[error("invalid storage configuration: {0}")]
    Config(String),
}

/// Where an object lives: `<prefix>/<cid>/<name>`, e.g. `originals/bafkrei.../original` or
/// `renditions/bafkrei.../mp3-192k.mp3`. Every part is checked so a key can never escape the store root.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectKey {
    prefix: String,
    cid: String,
    name: String,
}

impl ObjectKey {
    /// Build a key; each part must be 1..=128 characters of `[A-Za-z0-9._-]` and not start with a dot.
    pub fn new(prefix: &str, cid: &str, name: &str) -> Result<Self, StoreError> {
        for part in [prefix, cid, name] {
            let ok = !part.is_empty()
                && part.len() <= 128
                && !part.starts_with('.')
                && part.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
            if !ok {
                return Err(StoreError::InvalidKey(part.chars().take(64).collect()));
            }
        }
        Ok(Self { prefix: prefix.to_owned(), cid: cid.to_owned(), name: name.to_owned() })
    }

    /// The key of a blob's original bytes.
    pub fn original(cid: &str) -> Result<Self, StoreError> {
        Self::new("originals", cid, "original")
    }

    /// The key of a blob's playable MP3 rendition.
    pub fn rendition(cid: &str) -> Result<Self, StoreError> {
        Self::new("renditions", cid, "audio.mp3")
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn cid(&self) -> &str {
        &self.cid
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Parse a `/`-separated path back into a key (the inverse of [`ObjectKey::as_path`]).
    pub fn from_path(path: &str) -> Result<Self, StoreError> {
        let mut parts = path.split('/');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(prefix), Some(cid), Some(name), None) => Self::new(prefix, cid, name),
            _ => Err(StoreError::InvalidKey(path.chars().take(64).collect())),
        }
    }

    /// The key as one `/`-separated path.
    pub fn as_path(&self) -> String {
        format!("{}/{}/{}", self.prefix, self.cid, self.name)
    }
}

/// What the store knows about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub size: u64,
    pub content_type: String,
}

/// An object (or part of it) being read.
pub struct GetObject {
    pub meta: ObjectMeta,
    /// The inclusive byte range served, when a range was asked for.
    pub range: Option<(u64, u64)>,
    pub body: ByteStream,
}

impl std::fmt::Debug for GetObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GetObject").field("meta", &self.meta).field("range", &self.range).finish()
    }
}

impl GetObject {
    /// Read the whole body into memory (tests and small objects only).
    pub async fn bytes(self) -> Result<Vec<u8>, StoreError> {
        use futures_util::StreamExt;
        let mut out = Vec::new();
        let mut body = self.body;
        while let Some(chunk) = body.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }
}

/// An object store. Writes are all-or-nothing: a reader sees the old object, the new one, or none.
#[async_trait]
pub trait ObjectStore: Send + Sync + std::fmt::Debug {
    /// Store the file at `path` under `key`, replacing any previous object.
    async fn put_file(&self, key: &ObjectKey, path: &Path, content_type: &str) -> Result<(), StoreError>;

    /// Store `bytes` under `key`, replacing any previous object.
    async fn put_bytes(&self, key: &ObjectKey, bytes: Bytes, content_type: &str) -> Result<(), StoreError>;

    /// Read an object, or the part of it `range` names.
    async fn get(&self, key: &ObjectKey, range: Option<ByteRange>) -> Result<GetObject, StoreError>;

    /// The object's size and content type, or `None` when it does not exist.
    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, StoreError>;

    async fn exists(&self, key: &ObjectKey) -> Result<bool, StoreError> {
        Ok(self.head(key).await?.is_some())
    }

    /// A URL a client can GET the object from directly for `expires`, when the backend supports one.
    async fn presign_get(&self, key: &ObjectKey, expires: Duration) -> Result<Option<String>, StoreError>;

    /// Every object whose key has this `prefix` (the key's first part), sorted by key path. Anything under
    /// the prefix that is not a valid key (a stray file, a foreign object) is skipped.
    async fn list(&self, prefix: &str) -> Result<Vec<ListedObject>, StoreError>;

    /// Remove an object; removing one that does not exist is not an error.
    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError>;
}

/// One object found by [`ObjectStore::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    pub key: ObjectKey,
    pub size: u64,
}

/// Store everything `reader` yields under `key`, spooling it through a temporary file first.
pub async fn put_reader<R>(
    store: &dyn ObjectStore,
    key: &ObjectKey,
    reader: &mut R,
    content_type: &str,
) -> Result<u64, StoreError>
where
    R: tokio::io::AsyncRead + Unpin + Send + ?Sized,
{
    let temp = tempfile::NamedTempFile::new()?;
    let mut file = tokio::fs::File::create(temp.path()).await?;
    let size = tokio::io::copy(reader, &mut file).await?;
    file.sync_all().await?;
    drop(file);
    store.put_file(key, temp.path(), content_type).await?;
    Ok(size)
}
