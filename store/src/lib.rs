//! The object store: where media originals and renditions, snapshots and log archives live.
//!
//! [`ObjectStore`] is the one interface the rest of reprise uses (put, get with byte ranges, head, presign,
//! list by prefix, delete); [`LocalStore`] keeps objects as files under a root directory, [`S3Store`] in an
//! S3-compatible bucket, and [`open_store`] picks one from the `[storage]` configuration. Both backends
//! pass the same test suite (`tests/store_suite.rs`, S3 against a real s3s-fs server).
//!
//! Invariant: the store knows nothing of atproto, audio or the log. A key is three checked path parts;
//! what they mean belongs to the caller.

mod config;
mod local;
mod range;
mod s3;

use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::Stream;

pub use config::{S3Config, StorageBackend, StorageConfig};
pub use local::LocalStore;
pub use range::ByteRange;
pub use s3::S3Store;

/// A stream of object bytes, as handed to an HTTP body.
pub type ByteStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// The object store `config` names: local files under `local_root`, or the configured S3 bucket.
pub fn open_store(
    config: &StorageConfig,
    local_root: &Path,
) -> Result<std::sync::Arc<dyn ObjectStore>, StoreError> {
    Ok(match config.backend {
        StorageBackend::Local => std::sync::Arc::new(LocalStore::new(local_root)),
        StorageBackend::S3 => std::sync::Arc::new(S3Store::new(&config.s3)?),
    })
}

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

/// Where an object lives: `<prefix>/<id>/<name>`, e.g. `originals/bafkrei.../original` or
/// `snapshots/<snapshot id>/manifest.json`. Every part is checked so a key can never escape the store root.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectKey {
    prefix: String,
    id: String,
    name: String,
}

impl ObjectKey {
    /// Build a key; each part must be 1..=128 characters of `[A-Za-z0-9._-]` and not start with a dot.
    pub fn new(prefix: &str, id: &str, name: &str) -> Result<Self, StoreError> {
        for part in [prefix, id, name] {
            let ok = !part.is_empty()
                && part.len() <= 128
                && !part.starts_with('.')
                && part.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
            if !ok {
                return Err(StoreError::InvalidKey(part.chars().take(64).collect()));
            }
        }
        Ok(Self { prefix: prefix.to_owned(), id: id.to_owned(), name: name.to_owned() })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The middle part: which object of the prefix (a blob CID, a snapshot id, ...).
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Parse a `/`-separated path back into a key (the inverse of [`ObjectKey::as_path`]).
    pub fn from_path(path: &str) -> Result<Self, StoreError> {
        let mut parts = path.split('/');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(prefix), Some(id), Some(name), None) => Self::new(prefix, id, name),
            _ => Err(StoreError::InvalidKey(path.chars().take(64).collect())),
        }
    }

    /// The key as one `/`-separated path.
    pub fn as_path(&self) -> String {
        format!("{}/{}/{}", self.prefix, self.id, self.name)
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
