//! How a service's routes are put together, the same way in every service.

use crate::{
    AccessCheck, HealthCheck, ScopeOf, propagate_trace_id, require_access, with_metrics,
    with_openapi,
};
use axum::Router;
use utoipa_axum::router::OpenApiRouter;

/// A service's HTTP surface: `routes` behind its API keys (each request needing the scope
/// `scope_of` names for its method) and described in the OpenAPI
/// document served at `/openapi.json`; `/health`, `/metrics` and `/openapi.json` open for
/// probes, scrapers and tools; trace ids on every route.
pub fn service_router<S>(
    access: &AccessCheck,
    scope_of: ScopeOf,
    routes: OpenApiRouter<S>,
    state: S,
    health: HealthCheck,
) -> Router
where
    S: Clone + Send + Sync + 'static,
{
    service_router_with_open(
        access,
        scope_of,
        routes,
        OpenApiRouter::new(),
        state,
        health,
    )
}

/// [`service_router`], plus `open` routes that need no key (a page that asks the user for
/// the key its own calls send), documented in the same document.
pub fn service_router_with_open<S>(
    access: &AccessCheck,
    scope_of: ScopeOf,
    routes: OpenApiRouter<S>,
    open: OpenApiRouter<S>,
    state: S,
    health: HealthCheck,
) -> Router
where
    S: Clone + Send + Sync + 'static,
{
    let (routes, mut document) = routes.split_for_parts();
    let (open, open_document) = open.split_for_parts();
    document.merge(open_document);
    let routes = require_access(routes, access, scope_of)
        .merge(open)
        .with_state(state)
        .merge(health.route());
    propagate_trace_id(with_openapi(with_metrics(routes), document))
}
