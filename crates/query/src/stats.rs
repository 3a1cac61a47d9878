//! `GET /logs/stats` (a histogram and/or counts per level or service) and `GET /services`.

use crate::{
    ApiError,
    app::AppState,
    openapi::{FilterParams, StatsParams},
    params,
};
use axum::{
    Json,
    extract::{RawQuery, State},
};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use traceflow_http::RequestTenant;
use traceflow_storage::{GroupBy, ServiceCounts, service_counts};

/// A time as every answer writes it: RFC 3339 in UTC, to the millisecond.
pub(crate) fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct StatsAnswer {
    from: String,
    to: String,
    buckets: Vec<BucketAnswer>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct BucketAnswer {
    time: String,
    count: u64,
    /// Only with `group_by`.
    #[serde(skip_serializing_if = "Option::is_none")]
    counts: Option<BTreeMap<String, u64>>,
}

/// Counts over time (`interval`) and/or per level or service (`group_by`); every bucket of
/// the range is present, empty ones with zero.
#[utoipa::path(get, path = "/logs/stats", tag = "query", params(FilterParams, StatsParams), responses(
    (status = 200, description = "The buckets", body = StatsAnswer),
    crate::openapi::QueryErrors,
))]
pub(crate) async fn stats(
    State(state): State<AppState>,
    RequestTenant(tenant): RequestTenant,
    RawQuery(raw): RawQuery,
) -> Result<Json<StatsAnswer>, ApiError> {
    let query =
        params::stats_query(&tenant, raw.as_deref(), Utc::now()).map_err(ApiError::BadParameter)?;
    let rows = state.storage.run(async |s| s.stats(&query).await).await?;
    let grouped = query.group_by != GroupBy::default();
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

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ServicesAnswer {
    from: String,
    to: String,
    /// Each service with its counts by level.
    #[schema(value_type = Vec<Object>)]
    services: Vec<ServiceCounts>,
}

/// Services seen in a time range (default: the last 24 hours) with their counts by level.
#[utoipa::path(get, path = "/services", tag = "query", params(FilterParams), responses(
    (status = 200, description = "The services", body = ServicesAnswer),
    crate::openapi::QueryErrors,
))]
pub(crate) async fn services(
    State(state): State<AppState>,
    RequestTenant(tenant): RequestTenant,
    RawQuery(raw): RawQuery,
) -> Result<Json<ServicesAnswer>, ApiError> {
    let query = params::services_query(&tenant, raw.as_deref(), Utc::now())
        .map_err(ApiError::BadParameter)?;
    let rows = state.storage.run(async |s| s.stats(&query).await).await?;
    Ok(Json(ServicesAnswer {
        from: rfc3339(query.from),
        to: rfc3339(query.to),
        services: service_counts(&rows),
    }))
}
