//! Every way a request can fail, mapped once to a status and a JSON body.

use axum::{
    http::{HeaderValue, StatusCode, header::RETRY_AFTER},
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
    /// Backpressure: the worker is behind; the client should retry later.
    #[error("queue is full ({depth} events waiting), the event was not accepted; retry later")]
    QueueFull { depth: u64 },
}

/// Seconds a client is told to wait before retrying after a 503.
const RETRY_AFTER_SECONDS: &str = "2";

impl ApiError {
    /// The `reason` label of `traceflow_ingest_events_rejected_total`.
    fn reason(&self) -> &'static str {
        match self {
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::PayloadTooLarge { .. } => "too_large",
            ApiError::InvalidEvent(_) => "invalid",
            ApiError::QueueUnavailable(_) => "queue_unavailable",
            ApiError::QueueFull { .. } => "queue_full",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::InvalidEvent(_) => StatusCode::BAD_REQUEST,
            ApiError::QueueUnavailable(_) | ApiError::QueueFull { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        metrics::counter!("traceflow_ingest_events_rejected_total", "reason" => self.reason())
            .increment(1);
        if status.is_server_error() {
            tracing::warn!(error = %self, "ingest failed");
        }
        let mut response = json_error(status, self.to_string());
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECONDS));
        }
        response
    }
}
