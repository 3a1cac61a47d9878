//! Every way a request can fail, mapped once to a status and a JSON body.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header::RETRY_AFTER},
    response::{IntoResponse, Response},
};
use serde_json::json;
use traceflow_http::json_error;
use traceflow_queue::QueueError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(
        "Content-Type must be application/json (one event or an array) or application/x-ndjson"
    )]
    UnsupportedMediaType,
    #[error("request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// Malformed JSON or a broken validation rule; the message names the field.
    #[error("{0}")]
    InvalidEvent(String),
    /// Events of a batch broke rules; `(index, reason)` for each. Nothing was queued.
    #[error("{} of {total} events are invalid, nothing was accepted; first: event {}: {}", failures.len(), failures[0].0, failures[0].1)]
    InvalidEvents {
        total: usize,
        failures: Vec<(usize, String)>,
    },
    #[error("the request holds {count} events, more than the limit of {limit}")]
    TooManyEvents { count: usize, limit: usize },
    #[error("queue unavailable, the event was not accepted: {0}")]
    QueueUnavailable(#[from] QueueError),
    /// Backpressure: the worker is behind; the client should retry later.
    #[error("queue is full ({depth} events waiting), the event was not accepted; retry later")]
    QueueFull { depth: u64 },
}

/// How many of a batch's failures an answer lists.
const LISTED_FAILURES: usize = 20;

/// Seconds a client is told to wait before retrying after a 503.
const RETRY_AFTER_SECONDS: &str = "2";

impl ApiError {
    /// The `reason` label of `traceflow_ingest_events_rejected_total`.
    fn reason(&self) -> &'static str {
        match self {
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::PayloadTooLarge { .. } => "too_large",
            ApiError::InvalidEvent(_) | ApiError::InvalidEvents { .. } => "invalid",
            ApiError::TooManyEvents { .. } => "too_many_events",
            ApiError::QueueUnavailable(_) => "queue_unavailable",
            ApiError::QueueFull { .. } => "queue_full",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge { .. } | ApiError::TooManyEvents { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            ApiError::InvalidEvent(_) | ApiError::InvalidEvents { .. } => StatusCode::BAD_REQUEST,
            ApiError::QueueUnavailable(_) | ApiError::QueueFull { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let events = match &self {
            ApiError::InvalidEvents { total, .. } => *total,
            ApiError::TooManyEvents { count, .. } => *count,
            // Unknown, or one event.
            _ => 1,
        };
        metrics::counter!("traceflow_ingest_events_rejected_total", "reason" => self.reason())
            .increment(events as u64);
        if status.is_server_error() {
            tracing::warn!(error = %self, "ingest failed");
        }
        let mut response = match &self {
            // The first failures, each with its index in the batch.
            ApiError::InvalidEvents { failures, .. } => {
                let listed: Vec<_> = failures
                    .iter()
                    .take(LISTED_FAILURES)
                    .map(|(index, error)| json!({"index": index, "error": error}))
                    .collect();
                (
                    status,
                    Json(json!({"error": self.to_string(), "errors": listed})),
                )
                    .into_response()
            }
            _ => json_error(status, self.to_string()),
        };
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECONDS));
        }
        response
    }
}
