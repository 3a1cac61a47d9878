//! `GET /logs/context`: an event, found by its id, with the events of its service just before
//! and just after it.

use crate::{ApiError, app::AppState, openapi::ContextParams, params};
use axum::{
    Json,
    extract::{RawQuery, State},
};
use serde::Serialize;
use traceflow_event::LogEvent;
use traceflow_http::{ErrorBody, RequestTenant};
use traceflow_storage::ContextQuery;

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ContextAnswer {
    #[schema(value_type = crate::openapi::StoredEvent)]
    event: LogEvent,
    /// The events of the same service just before it, oldest first.
    #[schema(value_type = Vec<crate::openapi::StoredEvent>)]
    before: Vec<LogEvent>,
    /// The events of the same service just after it, oldest first.
    #[schema(value_type = Vec<crate::openapi::StoredEvent>)]
    after: Vec<LogEvent>,
}

/// An event and its neighbours from the same service, in the table's order (time, then
/// event id). With `timestamp` the event is found from the primary key; without it, by
/// reading every event id, which is slower on a large table.
#[utoipa::path(get, path = "/logs/context", tag = "query", params(ContextParams), responses(
    (status = 200, description = "The event and its neighbours", body = ContextAnswer),
    (status = 404, description = "No such event is stored (at that time, if given)", body = ErrorBody),
    crate::openapi::QueryErrors,
))]
pub(crate) async fn context(
    State(state): State<AppState>,
    RequestTenant(tenant): RequestTenant,
    RawQuery(raw): RawQuery,
) -> Result<Json<ContextAnswer>, ApiError> {
    let query = params::context_query(&tenant, raw.as_deref()).map_err(ApiError::BadParameter)?;
    let context = state
        .storage
        .run(async |s| s.context(&query).await)
        .await?
        .ok_or_else(|| ApiError::NotFound(not_stored(&query)))?;
    Ok(Json(ContextAnswer {
        event: context.event,
        before: context.before,
        after: context.after,
    }))
}

fn not_stored(query: &ContextQuery) -> String {
    match query.at {
        Some(at) => format!(
            "no event {} is stored in the second of {}",
            query.id,
            at.format("%Y-%m-%dT%H:%M:%SZ")
        ),
        None => format!("no event {} is stored", query.id),
    }
}
