//! The local-file backend: `<root>/<prefix>/<id>/<name>`, written to a temporary file in the same directory
//! and renamed into place, so a reader never sees a partial object.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::{ByteRange, GetObject, ListedObject, ObjectKey, ObjectMeta, ObjectStore, StoreError};

const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// Objects as files under one root directory.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    /// A store rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Where `key`'s bytes live.
    pub fn path_of(&self, key: &ObjectKey) -> PathBuf {
        self.root.join(key.prefix()).join(key.id()).join(key.name())
    }

    /// The sidecar holding the content type (key names never start with a dot, so it cannot collide).
    fn type_path(&self, key: &ObjectKey) -> PathBuf {
        self.root.join(key.prefix()).join(key.id()).join(format!(".{}.type", key.name()))
    }

    async fn write_atomic(&self, target: PathBuf, fill: impl AsyncFill) -> Result<(), StoreError> {
        let dir = target.parent().map(Path::to_path_buf).unwrap_or_else(|| self.root.clone());
        tokio::fs::create_dir_all(&dir).await?;
        tokio::task::spawn_blocking(move || -> Result<(), StoreError> {
            let mut temp = tempfile::NamedTempFile::new_in(&dir)?;
            fill.fill(temp.as_file_mut())?;
            temp.as_file().sync_all()?;
            temp.persist(&target).map_err(|e| StoreError::Io(e.error))?;
            Ok(())
        })
        .await
        .map_err(|e| StoreError::Io(std::io::Error::other(e.to_string())))?
    }

    async fn put(&self, key: &ObjectKey, fill: impl AsyncFill, content_type: &str) -> Result<(), StoreError> {
        let content_type = Bytes::copy_from_slice(content_type.as_bytes());
        self.write_atomic(self.type_path(key), content_type).await?;
        self.write_atomic(self.path_of(key), fill).await
    }
}

/// Something that can fill a temporary file on a blocking thread.
trait AsyncFill: Send + 'static {
    fn fill(self, file: &mut std::fs::File) -> std::io::Result<()>;
}

impl AsyncFill for Bytes {
    fn fill(self, file: &mut std::fs::File) -> std::io::Result<()> {
        std::io::Write::write_all(file, &self)
    }
}

impl AsyncFill for PathBuf {
    fn fill(self, file: &mut std::fs::File) -> std::io::Result<()> {
        let mut source = std::fs::File::open(self)?;
        std::io::copy(&mut source, file).map(|_| ())
    }
}

#[async_trait]
impl ObjectStore for LocalStore {
    async fn put_file(&self, key: &ObjectKey, path: &Path, content_type: &str) -> Result<(), StoreError> {
        self.put(key, path.to_path_buf(), content_type).await
    }

    async fn put_bytes(&self, key: &ObjectKey, bytes: Bytes, content_type: &str) -> Result<(), StoreError> {
        self.put(key, bytes, content_type).await
    }

    async fn get(&self, key: &ObjectKey, range: Option<ByteRange>) -> Result<GetObject, StoreError> {
        let meta = self.head(key).await?.ok_or(StoreError::NotFound)?;
        let mut file = match tokio::fs::File::open(self.path_of(key)).await {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(StoreError::NotFound),
            Err(e) => return Err(e.into()),
        };
        let (range, len) = match range {
            Some(range) => {
                let (first, last) = range.resolve(meta.size)?;
                file.seek(SeekFrom::Start(first)).await?;
                (Some((first, last)), last - first + 1)
            }
            None => (None, meta.size),
        };
        let body = tokio_util::io::ReaderStream::with_capacity(file.take(len), 64 * 1024).boxed();
        Ok(GetObject { meta, range, body })
    }

    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, StoreError> {
        let size = match tokio::fs::metadata(self.path_of(key)).await {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let content_type = match tokio::fs::read_to_string(self.type_path(key)).await {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => DEFAULT_CONTENT_TYPE.to_owned(),
            Err(e) => return Err(e.into()),
        };
        Ok(Some(ObjectMeta { size, content_type }))
    }

    async fn presign_get(&self, _key: &ObjectKey, _expires: Duration) -> Result<Option<String>, StoreError> {
        Ok(None)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ListedObject>, StoreError> {
        // Validate the prefix like a key part so listing can never walk outside the root.
        ObjectKey::new(prefix, "x", "x")?;
        let (root, prefix) = (self.root.join(prefix), prefix.to_owned());
        tokio::task::spawn_blocking(move || list_dir(&root, &prefix))
            .await
            .map_err(|e| StoreError::Io(std::io::Error::other(e.to_string())))?
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        for path in [self.path_of(key), self.type_path(key)] {
            match tokio::fs::remove_file(&path).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
        }
        // The per-id directory goes once empty; failing because something else is left there is fine.
        let _ = tokio::fs::remove_dir(self.root.join(key.prefix()).join(key.id())).await;
        Ok(())
    }
}

/// `<root>/<id>/<name>` files that form valid keys (dot-files are content-type sidecars and temporaries).
fn list_dir(root: &Path, prefix: &str) -> Result<Vec<ListedObject>, StoreError> {
    let mut found = Vec::new();
    let ids = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(e.into()),
    };
    for id in ids {
        let id = id?;
        if !id.file_type()?.is_dir() {
            continue;
        }
        let id_name = id.file_name();
        for file in std::fs::read_dir(id.path())? {
            let file = file?;
            let meta = file.metadata()?;
            let file_name = file.file_name();
            let (Some(c), Some(n)) = (id_name.to_str(), file_name.to_str()) else { continue };
            if !meta.is_file() {
                continue;
            }
            if let Ok(key) = ObjectKey::new(prefix, c, n) {
                found.push(ListedObject { key, size: meta.len() });
            }
        }
    }
    found.sort_by_key(|o| o.key.as_path());
    Ok(found)
}
