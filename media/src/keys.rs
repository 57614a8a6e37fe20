//! Where a blob's objects live in the object store: `originals/<cid>/original` and
//! `renditions/<cid>/audio.mp3`. The pipeline writes them and the audio routes read them.

use reprise_store::{ObjectKey, StoreError};

/// The key of a blob's original bytes.
pub fn original(cid: &str) -> Result<ObjectKey, StoreError> {
    ObjectKey::new("originals", cid, "original")
}

/// The key of a blob's playable MP3 rendition.
pub fn rendition(cid: &str) -> Result<ObjectKey, StoreError> {
    ObjectKey::new("renditions", cid, "audio.mp3")
}
