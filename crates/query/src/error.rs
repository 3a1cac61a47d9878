//! Every way a query can fail, mapped once to a status and a JSON body.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};
use traceflow_http::{internal_error, json_error};
use traceflow_storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A query parameter that cannot be used; the message names it.
    #[error("{0}")]
    BadParameter(String),
    /// What the request names is not stored; the message says what.
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("clickhouse did not answer within {0} seconds")]
    Timeout(u64),
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::BadParameter(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Storage(error) if error.is_outage() => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Timeout(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl ApiError {
    /// What a client may be told: this error's text, except where it carries ClickHouse's
    /// (a failure of ours, or a cluster's node it could not reach), which stays in the log.
    pub(crate) fn client_message(&self) -> String {
        match self {
            _ if self.status() == StatusCode::INTERNAL_SERVER_ERROR => {
                "internal error; the service's log has the detail under the answer's X-Trace-ID"
                    .into()
            }
            ApiError::Storage(StorageError::ClusterUnavailable { .. }) => {
                "clickhouse cannot reach part of its cluster; retry later".into()
            }
            _ => self.to_string(),
        }
    }
}

/// Client mistakes and outages are answered as they are; anything else is a failure of
/// ours, logged with ClickHouse's text and answered without it.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(error = %self, "query failed");
        }
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            return internal_error();
        }
        json_error(status, self.client_message())
    }
}
