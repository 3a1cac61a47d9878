//! `GET /openapi.json`: the service's OpenAPI 3 document, generated from its handlers, plus
//! the routes every service shares.

use axum::{Json, Router, routing::get};
use std::sync::Arc;
use utoipa::{OpenApi, openapi::OpenApi as Document};

/// `{"error": "..."}`, the body of every error answer.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // A schema only: errors are built by `json_error`.
pub struct ErrorBody {
    /// What is wrong, naming the field or parameter when there is one.
    error: String,
}

/// `{"status": "ok"}`, `{"status": "degraded", "degraded": [...]}` or
/// `{"status": "unavailable", "error": ..., "down": [...]}`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // A schema only: built by `health_response`.
pub struct HealthBody {
    status: String,
    error: Option<String>,
    down: Option<Vec<String>>,
    degraded: Option<Vec<String>>,
}

#[derive(OpenApi)]
#[openapi(
    paths(crate::metrics::render, crate::health::health, openapi_json),
    components(schemas(ErrorBody, HealthBody))
)]
struct SharedRoutes;

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses((status = 200, description = "The OpenAPI 3 document of this service", content_type = "application/json"))
)]
async fn openapi_json(document: Arc<Document>) -> Json<Document> {
    Json(document.as_ref().clone())
}

/// Serves `document` (with the shared routes merged in) at `GET /openapi.json`.
pub fn with_openapi(router: Router, mut document: Document) -> Router {
    document.merge(SharedRoutes::openapi());
    let document = Arc::new(document);
    router.route("/openapi.json", get(move || openapi_json(document.clone())))
}
