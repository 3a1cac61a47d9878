//! `GET /logs/facets`: the most common services, levels and metadata entries of the
//! matching events, for a search's sidebar.

use crate::{
    ApiError,
    app::AppState,
    openapi::{FacetsParams, FilterParams},
    params,
    stats::rfc3339,
};
use axum::{
    Json,
    extract::{RawQuery, State},
};
use chrono::Utc;
use serde::Serialize;
use traceflow_http::RequestTenant;
use traceflow_storage::{FacetValue, MetadataFacet};

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct FacetsAnswer {
    from: String,
    to: String,
    /// Matching events in the range.
    total: u64,
    /// Only when more than a million events match: the metadata counts are estimates, made
    /// from one matching event in this many (by a hash of the event id) and multiplied by it.
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata_sample: Option<u64>,
    /// The most common services, counts descending, then by value.
    #[schema(value_type = Vec<crate::openapi::FacetValue>)]
    service: Vec<FacetValue>,
    /// The most common levels, counts descending, then by value.
    #[schema(value_type = Vec<crate::openapi::FacetValue>)]
    level: Vec<FacetValue>,
    /// The metadata keys most events have, each with the number of events that have it and
    /// its most common values.
    #[schema(value_type = Vec<crate::openapi::MetadataFacet>)]
    metadata: Vec<MetadataFacet>,
}

/// The top `limit` services, levels, metadata keys and values of each key among the
/// matching events (default range: the last hour). The counts are exact, but beyond a
/// million matching events those of the metadata are estimated from a sample
/// (`metadata_sample`).
#[utoipa::path(get, path = "/logs/facets", tag = "query", params(FilterParams, FacetsParams), responses(
    (status = 200, description = "The facets", body = FacetsAnswer),
    crate::openapi::QueryErrors,
))]
pub(crate) async fn facets(
    State(state): State<AppState>,
    RequestTenant(tenant): RequestTenant,
    RawQuery(raw): RawQuery,
) -> Result<Json<FacetsAnswer>, ApiError> {
    let query = params::facets_query(&tenant, raw.as_deref(), Utc::now())
        .map_err(ApiError::BadParameter)?;
    let facets = state.storage.run(async |s| s.facets(&query).await).await?;
    Ok(Json(FacetsAnswer {
        from: rfc3339(query.from),
        to: rfc3339(query.to),
        total: facets.total,
        metadata_sample: (facets.metadata_sample > 1).then_some(facets.metadata_sample),
        service: facets.service,
        level: facets.level,
        metadata: facets.metadata,
    }))
}
