//! The query API: read-only HTTP over the read models, XRPC style.
//!
//! `router(state)` is a plain function, so tests drive it with `oneshot` or a real listener on
//! 127.0.0.1:0; `serve(listener, state, shutdown)` runs it until `shutdown` resolves, finishing
//! in-flight requests. Connections to `views.db` (with the log attached) are opened read-only:
//! this crate never writes. Every query is described once, in `spec.rs`.

mod cache;
mod error;
mod feeds;
mod history;
mod index;
mod lists;
mod middleware;
mod page;
mod params;
mod pool;
mod social;
pub mod spec;
mod views;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::routing::{MethodRouter, get};
use axum::{Json, Router};
use tokio::net::TcpListener;

pub use error::ApiError;
pub use pool::Pool;

/// Renders extra Prometheus text for `/metrics` (ingest's counters, for instance).
pub type MetricsSource = Arc<dyn Fn() -> String + Send + Sync>;

/// How the API treats requests.
#[derive(Debug, Clone)]
pub struct ApiOptions {
    /// Requests per minute per client IP; 0 turns the limit off.
    pub rate_limit_per_minute: u32,
    /// Requests a client may make at once before the rate applies.
    pub rate_limit_burst: u32,
    pub request_timeout: Duration,
    /// `Cache-Control: max-age` for successful reads.
    pub cache_max_age_seconds: u32,
}

impl Default for ApiOptions {
    fn default() -> Self {
        ApiOptions {
            rate_limit_per_minute: 0,
            rate_limit_burst: 0,
            request_timeout: Duration::from_secs(10),
            cache_max_age_seconds: 5,
        }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pool: Arc<Pool>,
    options: Arc<ApiOptions>,
    limiter: Arc<middleware::RateLimiter>,
    metrics: Option<MetricsSource>,
    counters: Arc<middleware::Counters>,
    cache: Arc<cache::ResponseCache>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("options", &self.options).finish_non_exhaustive()
    }
}

impl AppState {
    /// State over the read models at `views_path`, with the log beside it (`events.db` in the same
    /// directory) attached read-only.
    pub fn open(views_path: PathBuf) -> Result<Self, reprise_projector::ProjectorError> {
        let log_path = views_path.with_file_name(reprise_events::LOG_FILE);
        Self::with_options(views_path, log_path, ApiOptions::default(), None)
    }

    pub fn with_options(
        views_path: PathBuf,
        log_path: PathBuf,
        options: ApiOptions,
        metrics: Option<MetricsSource>,
    ) -> Result<Self, reprise_projector::ProjectorError> {
        Ok(AppState {
            pool: Arc::new(Pool::open(views_path, log_path, pool_size())?),
            limiter: Arc::new(middleware::RateLimiter::new(
                options.rate_limit_per_minute,
                options.rate_limit_burst,
            )),
            options: Arc::new(options),
            metrics,
            counters: Arc::new(middleware::Counters::default()),
            cache: Arc::default(),
        })
    }
}

/// Connections to the read models: two per core, so one core's query can run while another's
/// thread waits on the page cache, without more threads than the cores can serve.
fn pool_size() -> usize {
    2 * std::thread::available_parallelism().map(usize::from).unwrap_or(2)
}

pub fn router(state: AppState) -> Router {
    routes()
        .into_iter()
        .fold(Router::new(), |r, (path, handler)| r.route(&path, handler))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::around))
        .with_state(state)
}

/// Every route: the fixed pages, then one per row of the spec table, answered by that row's handler
/// with the parameters `params.rs` parsed from that row.
fn routes() -> Vec<(String, MethodRouter<AppState>)> {
    let mut routes: Vec<(String, MethodRouter<AppState>)> = vec![
        ("/".into(), get(index::page)),
        ("/health".into(), get(health)),
        ("/metrics".into(), get(middleware::metrics)),
        ("/openapi.json".into(), get(index::openapi)),
    ];
    for e in spec::ENDPOINTS {
        let answer = move |State(state): State<AppState>, Query(query): Query<Vec<(String, String)>>| async move {
            let args = params::parse(e, &query)?;
            (e.handler)(state, args).await.map(Json)
        };
        routes.push((e.path(), get(answer)));
    }
    routes
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}

async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({"status": "ok"}))
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint")
}

pub(crate) use reprise_ingest::now_us;

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// The router's XRPC routes are exactly the spec table's rows, each once; the other routes are
    /// the fixed pages.
    #[test]
    fn the_routes_are_the_table() {
        let paths: Vec<String> = super::routes().into_iter().map(|(p, _)| p).collect();
        let xrpc: BTreeSet<&str> =
            paths.iter().map(String::as_str).filter(|p| p.starts_with("/xrpc/")).collect();
        let rows: Vec<String> = super::spec::ENDPOINTS.iter().map(|e| e.path()).collect();
        assert_eq!(xrpc, rows.iter().map(String::as_str).collect::<BTreeSet<_>>());
        assert_eq!(xrpc.len(), rows.len(), "a row routed twice");
        let fixed: Vec<&str> =
            paths.iter().map(String::as_str).filter(|p| !p.starts_with("/xrpc/")).collect();
        assert_eq!(fixed, ["/", "/health", "/metrics", "/openapi.json"]);
    }
}
