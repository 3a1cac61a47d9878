//! `GET /logs`, `GET /logs/count` and `DELETE /logs`.

use crate::{
    ApiError,
    app::AppState,
    cursor::Cursor,
    openapi::{FilterParams, PageParams},
    params,
};
use axum::{
    Json,
    extract::{RawQuery, State},
    http::StatusCode,
};
use serde::Serialize;
use std::time::Duration;
use traceflow_event::LogEvent;
use traceflow_http::RequestTenant;

/// How long `DELETE` waits for ClickHouse to finish removing the events before answering
/// 202 instead (the deletion carries on).
const DELETE_WAIT: Duration = Duration::from_secs(20);

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SearchAnswer {
    /// Events in this answer.
    count: usize,
    #[schema(value_type = Vec<crate::openapi::StoredEvent>)]
    logs: Vec<LogEvent>,
    /// Present when more events match: pass it as `cursor` for the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// Matching events, newest first unless `order=asc`, a page at a time.
#[utoipa::path(get, path = "/logs", tag = "query", params(FilterParams, PageParams), responses(
    (status = 200, description = "A page of matching events", body = SearchAnswer),
    crate::openapi::QueryErrors,
))]
pub(crate) async fn search(
    State(state): State<AppState>,
    RequestTenant(tenant): RequestTenant,
    RawQuery(raw): RawQuery,
) -> Result<Json<SearchAnswer>, ApiError> {
    let query = params::log_query(&tenant, raw.as_deref()).map_err(ApiError::BadParameter)?;
    let page = state.storage.run(async |s| s.search(&query).await).await?;
    Ok(Json(SearchAnswer {
        count: page.logs.len(),
        logs: page.logs,
        next_cursor: page.next.map(|position| {
            Cursor {
                order: query.order,
                position,
            }
            .encode()
        }),
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct CountAnswer {
    count: u64,
}

/// How many events match.
#[utoipa::path(get, path = "/logs/count", tag = "query", params(FilterParams), responses(
    (status = 200, description = "The number of matching events", body = CountAnswer),
    crate::openapi::QueryErrors,
))]
pub(crate) async fn count(
    State(state): State<AppState>,
    RequestTenant(tenant): RequestTenant,
    RawQuery(raw): RawQuery,
) -> Result<Json<CountAnswer>, ApiError> {
    let filter = params::count_filter(&tenant, raw.as_deref()).map_err(ApiError::BadParameter)?;
    let count = state.storage.run(async |s| s.count(&filter).await).await?;
    Ok(Json(CountAnswer { count }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct DeleteAnswer {
    matched: u64,
}

/// Deletes matching events: `from`, `to` and at least one other filter are required.
/// 200 once the matching events are gone; 202 if ClickHouse is still removing them.
#[utoipa::path(delete, path = "/logs", tag = "query", params(FilterParams), responses(
    (status = 200, description = "Deleted", body = DeleteAnswer),
    (status = 202, description = "Matched; ClickHouse is still removing them", body = DeleteAnswer),
    crate::openapi::QueryErrors,
))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    RequestTenant(tenant): RequestTenant,
    RawQuery(raw): RawQuery,
) -> Result<(StatusCode, Json<DeleteAnswer>), ApiError> {
    let filter = params::delete_filter(&tenant, raw.as_deref()).map_err(ApiError::BadParameter)?;
    let deletion = state
        .storage
        .run(async |s| s.delete(&filter, DELETE_WAIT).await)
        .await?;
    let status = if deletion.finished {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((
        status,
        Json(DeleteAnswer {
            matched: deletion.matched,
        }),
    ))
}
