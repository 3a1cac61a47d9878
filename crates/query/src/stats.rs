//! `GET /logs/stats` (a histogram and/or counts per level or service) and `GET /services`.

use crate::{ApiError, app::AppState, params};
use axum::{
    Json,
    extract::{RawQuery, State},
};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use traceflow_storage::stats;

fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[derive(Serialize)]
pub(crate) struct StatsAnswer {
    from: String,
    to: String,
    buckets: Vec<BucketAnswer>,
}

#[derive(Serialize)]
struct BucketAnswer {
    time: String,
    count: u64,
    /// Only with `group_by`.
    #[serde(skip_serializing_if = "Option::is_none")]
    counts: Option<BTreeMap<String, u64>>,
}

pub(crate) async fn stats(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<StatsAnswer>, ApiError> {
    let query = params::stats_query(raw.as_deref(), Utc::now()).map_err(ApiError::BadParameter)?;
    let storage = state.storage.get().await?;
    let rows = crate::within_query_timeout(storage.stats(&query)).await?;
    let grouped = query.group_by != stats::GroupBy::default();
    Ok(Json(StatsAnswer {
        from: rfc3339(query.from),
        to: rfc3339(query.to),
        buckets: query
            .buckets(&rows)
            .into_iter()
            .map(|bucket| BucketAnswer {
                time: rfc3339(bucket.time),
                count: bucket.count,
                counts: grouped.then_some(bucket.counts),
            })
            .collect(),
    }))
}

#[derive(Serialize)]
pub(crate) struct ServicesAnswer {
    from: String,
    to: String,
    services: Vec<stats::ServiceCounts>,
}

pub(crate) async fn services(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<ServicesAnswer>, ApiError> {
    let query =
        params::services_query(raw.as_deref(), Utc::now()).map_err(ApiError::BadParameter)?;
    let storage = state.storage.get().await?;
    let rows = crate::within_query_timeout(storage.stats(&query)).await?;
    Ok(Json(ServicesAnswer {
        from: rfc3339(query.from),
        to: rfc3339(query.to),
        services: stats::services(&rows),
    }))
}
