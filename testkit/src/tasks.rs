//! The tasks of a test server: its accept loop and one task per connection, aborted together when the
//! server is shut down or dropped.

use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

#[derive(Debug, Default)]
pub(crate) struct Tasks(Mutex<Vec<AbortHandle>>);

impl Tasks {
    /// Accepts connections on `listener`, each served by `serve(stream, state)` in its own task.
    pub(crate) fn accept<S, F, Fut>(state: &Arc<S>, listener: TcpListener, serve: F)
    where
        S: AsRef<Tasks> + Send + Sync + 'static,
        F: Fn(TcpStream, Arc<S>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let accept_state = state.clone();
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let task = tokio::spawn(serve(stream, accept_state.clone()));
                (*accept_state).as_ref().push(task.abort_handle());
            }
        });
        (**state).as_ref().push(accept.abort_handle());
    }

    fn push(&self, task: AbortHandle) {
        self.0.lock().unwrap().push(task);
    }

    /// Stops listening and drops every connection.
    pub(crate) fn abort_all(&self) {
        for t in self.0.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}
