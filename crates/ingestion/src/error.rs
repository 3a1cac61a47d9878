//! Every way a request can fail, mapped once to a status and a JSON body.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};
use traceflow_http::json_error;
use traceflow_queue::QueueError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    #[error("request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// Malformed JSON or a broken validation rule; the message names the field.
    #[error("{0}")]
    InvalidEvent(String),
    #[error("queue unavailable, the event was not accepted: {0}")]
    QueueUnavailable(#[from] QueueError),
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::InvalidEvent(_) => StatusCode::BAD_REQUEST,
            ApiError::QueueUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(error = %self, "ingest failed");
        }
        json_error(status, self.to_string())
    }
}
