//! The object-store backends a suite runs against, and the macro that runs each case on every one:
//! local files, and S3 against a real s3s-fs. Included with `#[path]` (beside `s3s.rs`, which the
//! including crate declares as `mod s3s`) by the store suite and by the snapshots crate's tests.

use std::any::Any;

use reprise_store::{LocalStore, ObjectStore, S3Store};

/// A store and whatever must live as long as it (a temporary directory, a server process).
pub struct Backend {
    pub store: Box<dyn ObjectStore>,
    _guards: Vec<Box<dyn Any>>,
}

pub fn local() -> Backend {
    let dir = tempfile::tempdir().expect("temp dir");
    Backend { store: Box::new(LocalStore::new(dir.path())), _guards: vec![Box::new(dir)] }
}

pub fn s3() -> Backend {
    let server = crate::s3s::S3sFs::start();
    let store = S3Store::new(&server.config()).expect("s3 store");
    Backend { store: Box::new(store), _guards: vec![Box::new(server)] }
}

/// `every_backend!(case, ...)`: for each `async fn case(store: &dyn ObjectStore)` in the calling
/// module, a test `local::case` and a test `s3::case`.
macro_rules! every_backend {
    ($($case:ident),* $(,)?) => {
        every_backend!(@on local: $($case),*);
        every_backend!(@on s3: $($case),*);
    };
    (@on $backend:ident: $($case:ident),*) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let backend = crate::backends::$backend();
                    super::$case(&*backend.store).await;
                }
            )*
        }
    };
}
