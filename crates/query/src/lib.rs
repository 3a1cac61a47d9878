//! The query service as a library: [`Application`] binds, then serves until told to stop.

mod app;
mod clickhouse;
mod cursor;
mod error;
mod logs;
mod openapi;
mod params;
mod stats;
mod tail;

pub use app::Application;
pub use error::ApiError;
/// The service's own parsing, for tools that must send the SQL it sends (the benchmark).
pub use params::{log_query as parse_log_query, stats_query as parse_stats_query};

use std::{future::Future, time::Duration};

/// Longest a ClickHouse request may take before the answer is a 503.
const QUERY_TIMEOUT: Duration = Duration::from_secs(30);

/// `work`, or [`ApiError::Timeout`] once it has taken [`QUERY_TIMEOUT`].
async fn within_query_timeout<T>(
    work: impl Future<Output = Result<T, traceflow_storage::StorageError>>,
) -> Result<T, ApiError> {
    tokio::time::timeout(QUERY_TIMEOUT, work)
        .await
        .map_err(|_| ApiError::Timeout(QUERY_TIMEOUT.as_secs()))?
        .map_err(ApiError::from)
}
