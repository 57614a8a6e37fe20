//! The query API: read-only HTTP over the read models, XRPC style.
//!
//! `router(state)` is a plain function, so tests drive it with `oneshot` or a real listener on
//! 127.0.0.1:0; `serve(listener, state, shutdown)` runs it until `shutdown` resolves, finishing
//! in-flight requests. Connections to `views.db` are opened read-only: this crate never writes.

mod error;
mod params;
mod pool;
mod tracks;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use tokio::net::TcpListener;

pub use error::ApiError;
pub use pool::Pool;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pool: Arc<Pool>,
}

impl AppState {
    /// State over the read models at `views_path` (the file must exist and have the current schema).
    pub fn open(views_path: PathBuf) -> Result<Self, reprise_projector::ProjectorError> {
        Ok(AppState { pool: Arc::new(Pool::open(views_path)?) })
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/xrpc/fm.reprise.getTracks", get(tracks::get_tracks))
        .route("/xrpc/fm.reprise.getTrack", get(tracks::get_track))
        .fallback(not_found)
        .with_state(state)
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}

async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({"status": "ok"}))
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint")
}
