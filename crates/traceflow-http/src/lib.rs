//! What the HTTP services (ingestion, query) share: every request gets a trace id that
//! every response echoes, errors are `{"error": "..."}` JSON, health answers have one shape,
//! and serving stops cleanly on a shutdown signal.

mod auth;
mod health;
mod metrics;
mod openapi;
mod router;
mod serve;
mod trace_id;

pub use auth::{
    AccessCheck, ORG_ID_HEADER, RequestTenant, ScopeOf, denied_response, require_access,
};
pub use health::{DependencyDown, Health, HealthCheck, health_response};
pub use metrics::{prometheus, with_metrics};
pub use openapi::{ErrorBody, HealthBody, with_openapi};
pub use router::{service_router, service_router_with_open};
pub use serve::{HttpTimeouts, serve, serve_with_timeouts};
pub use trace_id::{TRACE_ID_HEADER, TraceId, internal_error, propagate_trace_id};

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;

/// The media type of a request's `Content-Type`, lower-case, parameters such as charset
/// dropped: `application/json; charset=UTF-8` is `application/json`.
pub fn media_type(headers: &axum::http::HeaderMap) -> Option<String> {
    let value = headers
        .get(axum::http::header::CONTENT_TYPE)?
        .to_str()
        .ok()?;
    Some(value.split(';').next()?.trim().to_ascii_lowercase())
}

/// The JSON error answer every service gives: `{"error": "<what is wrong>"}`.
pub fn json_error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}
