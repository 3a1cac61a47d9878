//! `GET /logs`, `GET /logs/count` and `DELETE /logs`.

use crate::{ApiError, app::AppState, cursor::Cursor, params};
use axum::{
    Json,
    extract::{RawQuery, State},
    http::StatusCode,
};
use serde::Serialize;
use std::time::Duration;
use traceflow_queue::LogEvent;

/// How long `DELETE` waits for ClickHouse to finish removing the events before answering
/// 202 instead (the deletion carries on).
const DELETE_WAIT: Duration = Duration::from_secs(20);

#[derive(Serialize)]
pub(crate) struct SearchAnswer {
    count: usize,
    logs: Vec<LogEvent>,
    /// Present when more events match: pass it as `cursor` for the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

pub(crate) async fn search(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<SearchAnswer>, ApiError> {
    let query = params::log_query(raw.as_deref()).map_err(ApiError::BadParameter)?;
    let storage = state.storage.get().await?;
    let page = crate::within_query_timeout(storage.search(&query)).await?;
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

#[derive(Serialize)]
pub(crate) struct CountAnswer {
    count: u64,
}

pub(crate) async fn count(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<CountAnswer>, ApiError> {
    let filter = params::count_filter(raw.as_deref()).map_err(ApiError::BadParameter)?;
    let storage = state.storage.get().await?;
    let count = crate::within_query_timeout(storage.count(&filter)).await?;
    Ok(Json(CountAnswer { count }))
}

#[derive(Serialize)]
pub(crate) struct DeleteAnswer {
    matched: u64,
}

/// 200 once the matching events are gone; 202 if ClickHouse is still removing them.
pub(crate) async fn delete(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<(StatusCode, Json<DeleteAnswer>), ApiError> {
    let filter = params::delete_filter(raw.as_deref()).map_err(ApiError::BadParameter)?;
    let storage = state.storage.get().await?;
    let deletion = crate::within_query_timeout(storage.delete(&filter, DELETE_WAIT)).await?;
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
