//! What the OpenAPI document says about the query service's parameters and answers. The
//! parameters are parsed strictly by `params` from the raw query string; these types only
//! describe them.
#![allow(dead_code)] // Schema-only types: never built, only described.

use std::collections::HashMap;
use traceflow_http::ErrorBody;
use utoipa::{IntoParams, IntoResponses, OpenApi, ToSchema};

/// Filters every endpoint takes. Also `metadata.<key>=<value>`: an exact metadata entry
/// (up to 16, all must hold). Every endpoint but `DELETE /logs` also takes exclusions: an
/// event meeting any of them is left out; `not.metadata.<key>=<value>` leaves out the events
/// with that metadata entry (up to 16).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct FilterParams {
    /// Exact service.
    service: Option<String>,
    /// TRACE, DEBUG, INFO, WARN, ERROR or FATAL, any case.
    level: Option<String>,
    /// RFC 3339, inclusive.
    from: Option<String>,
    /// RFC 3339, inclusive; without fractional seconds it covers its whole second.
    to: Option<String>,
    /// Text search in `message`, any case: every word must occur; a "quoted phrase" as written.
    q: Option<String>,
    /// Exact trace id.
    trace_id: Option<String>,
    /// Exclusion (not on DELETE): leaves out this service's events.
    #[param(rename = "not.service")]
    not_service: Option<String>,
    /// Exclusion (not on DELETE): leaves out this level's events, any case.
    #[param(rename = "not.level")]
    not_level: Option<String>,
    /// Exclusion (not on DELETE): leaves out this trace's events.
    #[param(rename = "not.trace_id")]
    not_trace_id: Option<String>,
    /// Exclusion (not on DELETE): leaves out the events whose message contains any of these
    /// words or "quoted phrases", any case.
    #[param(rename = "not.q")]
    not_q: Option<String>,
}

/// Paging for `GET /logs`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PageParams {
    /// `desc` (default, newest first) or `asc`.
    order: Option<String>,
    /// Default 100; 0 or negative means 100; above 1000 means 1000.
    limit: Option<i64>,
    /// Rows to skip (not with `cursor`).
    offset: Option<u64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// A histogram and/or counts per value for `GET /logs/stats`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct StatsParams {
    /// Bucket width: `10s`, `1m`, `1h`, `1d`...
    interval: Option<String>,
    /// `level` or `service`.
    group_by: Option<String>,
}

/// The event `GET /logs/context` lists the neighbours of.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ContextParams {
    /// The event's id, as `GET /logs` answers it.
    id: String,
    /// The event's time (RFC 3339, at least to the second): the lookup then reads that
    /// second of the table instead of every event id, which is slower on a large table.
    timestamp: Option<String>,
    /// Events of the same service just before it: default 10, at most 100.
    before: Option<u32>,
    /// Events of the same service just after it: default 10, at most 100.
    after: Option<u32>,
}

/// How many values `GET /logs/facets` lists.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct FacetsParams {
    /// Services, levels, metadata keys and values per key to list: default 10; 0 or negative
    /// means 10; above 100 means 100.
    limit: Option<i64>,
}

/// The order and format of `GET /logs/export`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ExportParams {
    /// `desc` (default, newest first) or `asc`.
    order: Option<String>,
    /// `ndjson` (default) or `csv`.
    format: Option<String>,
}

/// A value of a facet and the number of matching events that have it.
#[derive(ToSchema)]
pub(crate) struct FacetValue {
    value: String,
    count: u64,
}

/// A metadata key: the number of matching events that have it, and its most common values.
#[derive(ToSchema)]
pub(crate) struct MetadataFacet {
    key: String,
    count: u64,
    values: Vec<FacetValue>,
}

/// A stored event, as every read answers it.
#[derive(ToSchema)]
pub(crate) struct StoredEvent {
    id: String,
    /// The tenant whose event it is; left out for the default tenant.
    tenant: Option<String>,
    /// UTC, millisecond precision, e.g. 2026-05-05T10:00:00.000Z.
    timestamp: String,
    service: String,
    level: String,
    message: String,
    trace_id: String,
    metadata: HashMap<String, String>,
}

/// The error answers every query route may give.
#[derive(IntoResponses)]
pub(crate) enum QueryErrors {
    /// A bad or missing parameter, named
    #[response(status = 400)]
    BadParameter(ErrorBody),
    /// Missing or invalid API key (when keys are configured)
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// A known key without the scope, or naming a tenant it may not act for
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// ClickHouse unreachable (or not answering within 30 seconds)
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Traceflow query",
        description = "Searches, counts, histograms, facets, an event's context, exports, live tail and deletion of stored log events, and the tenants a key may read. \
            With QUERY_API_KEYS or KEYS_FILE set, every route but /health, /metrics and \
            /openapi.json needs `Authorization: Bearer <key>` or `X-API-Key: <key>` of a key \
            with the query scope (DELETE: the admin scope), else 401 (no or an unknown key) or \
            403 (a key without the scope)."
    ),
    components(schemas(StoredEvent, FacetValue, MetadataFacet))
)]
pub(crate) struct QueryApi;
