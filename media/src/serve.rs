//! Serving stored audio: `GET /audio/{cid}` (the playable rendition) and `GET /audio/{cid}/original`, with
//! single byte ranges and the stored content type, or a redirect to a presigned URL when the store offers
//! one and serving by redirect is configured.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use reprise_store::{ByteRange, ObjectKey, ObjectStore, StoreError};

use crate::fetch::parse_blob_cid;
use crate::keys;

/// How long a presigned URL handed out by a redirect stays valid.
pub const PRESIGN_TTL: Duration = Duration::from_secs(15 * 60);

#[derive(Clone)]
struct AudioState {
    store: Arc<dyn ObjectStore>,
    redirect_to_presigned: bool,
}

/// The audio routes over `store`; with `redirect_to_presigned`, answer 307 to a presigned URL when the
/// store can make one, instead of streaming the bytes through.
pub fn audio_router(store: Arc<dyn ObjectStore>, redirect_to_presigned: bool) -> Router {
    Router::new()
        .route("/audio/{cid}", get(rendition))
        .route("/audio/{cid}/original", get(original))
        .with_state(AudioState { store, redirect_to_presigned })
}

async fn rendition(State(state): State<AudioState>, Path(cid): Path<String>, headers: HeaderMap) -> Response {
    serve(&state, &cid, keys::rendition, &headers).await
}

async fn original(State(state): State<AudioState>, Path(cid): Path<String>, headers: HeaderMap) -> Response {
    serve(&state, &cid, keys::original, &headers).await
}

fn error(status: StatusCode, error: &str, message: &str) -> Response {
    let body = serde_json::json!({ "error": error, "message": message });
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

async fn serve(
    state: &AudioState,
    cid: &str,
    key_of: fn(&str) -> Result<ObjectKey, StoreError>,
    headers: &HeaderMap,
) -> Response {
    let Ok(key) = parse_blob_cid(cid).map_err(drop).and_then(|_| key_of(cid).map_err(drop)) else {
        return error(StatusCode::BAD_REQUEST, "InvalidRequest", "not a blob cid");
    };
    if state.redirect_to_presigned {
        match state.store.exists(&key).await {
            Ok(false) => return error(StatusCode::NOT_FOUND, "NotFound", "no such audio"),
            Ok(true) => {
                if let Ok(Some(url)) = state.store.presign_get(&key, PRESIGN_TTL).await
                    && let Ok(location) = HeaderValue::from_str(&url)
                {
                    return (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, location)]).into_response();
                }
            }
            Err(e) => return internal(&e),
        }
    }
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok()).and_then(ByteRange::parse_header);
    let object = match state.store.get(&key, range).await {
        Ok(object) => object,
        Err(StoreError::NotFound) => return error(StatusCode::NOT_FOUND, "NotFound", "no such audio"),
        Err(StoreError::RangeNotSatisfiable { size }) => {
            let mut response =
                error(StatusCode::RANGE_NOT_SATISFIABLE, "InvalidRequest", "range not satisfiable");
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return response;
        }
        Err(e) => return internal(&e),
    };
    let content_type = HeaderValue::from_str(&object.meta.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let mut builder = Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CACHE_CONTROL, "public, max-age=31536000, immutable")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    builder = match object.range {
        Some((first, last)) => builder
            .status(StatusCode::PARTIAL_CONTENT)
            .header(header::CONTENT_RANGE, format!("bytes {first}-{last}/{}", object.meta.size))
            .header(header::CONTENT_LENGTH, last - first + 1),
        None => builder.status(StatusCode::OK).header(header::CONTENT_LENGTH, object.meta.size),
    };
    builder.body(Body::from_stream(object.body)).unwrap_or_else(|e| internal(&e))
}

fn internal(e: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %e, "serving audio failed");
    error(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError", "internal error")
}
