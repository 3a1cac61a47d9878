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
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("clickhouse did not answer within {0} seconds")]
    Timeout(u64),
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::BadParameter(_) => StatusCode::BAD_REQUEST,
            ApiError::Storage(StorageError::Unavailable(_)) | ApiError::Timeout(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
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
        json_error(status, self.to_string())
    }
}
