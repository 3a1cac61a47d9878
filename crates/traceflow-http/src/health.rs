//! `GET /health`: whether the service and the dependencies it needs answer, in one shape for
//! every service.

use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::json;
use std::{future::Future, pin::Pin, sync::Arc};

/// A dependency that did not answer a health check.
#[derive(Debug)]
pub struct DependencyDown {
    pub dependency: &'static str,
    pub error: String,
}

/// What a health check found: the parts of its dependencies that are down while the
/// dependencies still answer (a replica of a cluster), each said in a sentence naming its
/// dependency; or the dependency that does not answer.
pub type Health = Result<Vec<String>, DependencyDown>;

/// `200 {"status":"ok"}`; `200 {"status":"degraded","degraded":[...]}` naming the parts
/// down; or `503` naming the dependency that is down.
pub fn health_response(check: Health) -> Response {
    match check {
        Ok(degraded) if degraded.is_empty() => {
            (StatusCode::OK, Json(json!({ "status": "ok" }))).into_response()
        }
        Ok(degraded) => {
            tracing::warn!(?degraded, "a dependency is degraded");
            let body = json!({ "status": "degraded", "degraded": degraded });
            (StatusCode::OK, Json(body)).into_response()
        }
        Err(down) => {
            tracing::warn!(dependency = down.dependency, error = %down.error, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({
                    "status": "unavailable",
                    "error": format!("{} is down: {}", down.dependency, down.error),
                    "down": [down.dependency],
                })),
            )
                .into_response()
        }
    }
}

type Check = dyn Fn() -> Pin<Box<dyn Future<Output = Health> + Send>> + Send + Sync;

/// What a service's `/health` checks: its dependencies, the first one down named.
#[derive(Clone)]
pub struct HealthCheck(Arc<Check>);

impl HealthCheck {
    /// Checks `state` with `check` on every request.
    pub fn new<S, F, Fut>(state: S, check: F) -> Self
    where
        S: Clone + Send + Sync + 'static,
        F: Fn(S) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Health> + Send + 'static,
    {
        Self(Arc::new(move || Box::pin(check(state.clone()))))
    }

    /// The `/health` route.
    pub fn route(self) -> Router {
        Router::new().route("/health", get(health)).with_state(self)
    }
}

/// Whether the service and the dependencies it needs answer.
#[utoipa::path(
    get,
    path = "/health",
    tag = "operations",
    responses(
        (status = 200, description = "Up; `degraded` names the parts of a dependency that are down while it answers (a ClickHouse replica, shards of a Redis Cluster)", body = crate::HealthBody),
        (status = 503, description = "A dependency is down: `down` names it", body = crate::HealthBody),
    )
)]
pub(crate) async fn health(State(check): State<HealthCheck>) -> Response {
    health_response((check.0)().await)
}
