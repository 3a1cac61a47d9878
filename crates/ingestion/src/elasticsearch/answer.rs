//! Answers as Elasticsearch gives them: JSON bodies, errors as
//! `{"error":{"root_cause":[...],"type","reason"},"status"}`, and refusals in those words.

use super::bulk::Cause;
use crate::{
    Rejection,
    rejection::{Protocol, Reason, with_retry_after},
};
use axum::{
    http::{HeaderValue, StatusCode, header::CONTENT_TYPE},
    response::{IntoResponse, Response},
};
use serde::Serialize;

/// `body` as a JSON answer with `status`.
pub(crate) fn json(status: StatusCode, body: &impl Serialize) -> Response {
    let bytes = serde_json::to_vec(body).expect("answers serialize");
    (
        status,
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        bytes,
    )
        .into_response()
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
    status: u16,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    root_cause: [&'a Cause<'a>; 1],
    #[serde(flatten)]
    cause: &'a Cause<'a>,
}

/// An Elasticsearch error answer.
pub(crate) fn error(status: StatusCode, cause: &Cause<'_>) -> Response {
    let body = ErrorBody {
        error: ErrorDetail {
            root_cause: [cause],
            cause,
        },
        status: status.as_u16(),
    };
    json(status, &body)
}

/// The `type` of a refused document's error (an item's, or `/<index>/_doc`'s).
pub(crate) fn document_error_type(reason: Reason) -> &'static str {
    match reason {
        Reason::Invalid => "document_parsing_exception",
        _ => "illegal_argument_exception",
    }
}

/// A request refused whole (`events` documents with it), counted and logged, in
/// Elasticsearch's words: backpressure is 429 (what its clients back off on), Redis down
/// 503, both with `Retry-After`.
pub(crate) fn refused(rejection: Rejection, events: usize) -> Response {
    rejection.record(Protocol::Elasticsearch, events);
    let reason = rejection.reason();
    let (status, kind) = match reason {
        Reason::QueueFull | Reason::RateLimited | Reason::TenantQueueFull => (
            StatusCode::TOO_MANY_REQUESTS,
            "es_rejected_execution_exception",
        ),
        Reason::QueueUnavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable_exception"),
        Reason::TooLarge | Reason::TooManyEvents => {
            (StatusCode::PAYLOAD_TOO_LARGE, "content_too_long_exception")
        }
        Reason::UnsupportedMediaType => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "media_type_header_exception",
        ),
        Reason::Invalid | Reason::TooOld | Reason::TooNew => {
            (StatusCode::BAD_REQUEST, "illegal_argument_exception")
        }
    };
    let reason_text = match &rejection {
        Rejection::TooManyEvents { count, limit } => format!(
            "the request holds {count} operations, more than the limit of {limit} \
             (MAX_BATCH_EVENTS): send smaller bulks"
        ),
        Rejection::TooLarge { limit } => format!(
            "the request body is larger than the limit of {limit} bytes after decompression \
             (MAX_BODY_BYTES): send smaller bulks"
        ),
        other => other.to_string(),
    };
    let cause = Cause {
        kind,
        reason: reason_text.into(),
    };
    with_retry_after(&rejection, error(status, &cause))
}

/// 404 for a path this API does not serve.
pub(crate) fn not_found(method: &str, path: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        &Cause {
            kind: "resource_not_found_exception",
            reason: format!(
                "no handler found for uri [{path}] and method [{method}]: Traceflow serves the \
                 bulk API (/_bulk, /<index>/_bulk, /<index>/_doc) and what clients ask at start"
            )
            .into(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn errors_have_elasticsearch_shape() {
        let answer = refused(Rejection::QueueFull { depth: 9 }, 3);
        assert_eq!(answer.status(), 429);
        assert_eq!(answer.headers()["retry-after"], "2");
        assert_eq!(answer.headers()["content-type"], "application/json");
        let body = axum::body::to_bytes(answer.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            r#"{"error":{"root_cause":[{"type":"es_rejected_execution_exception","reason":"queue is full (9 events waiting), the event was not accepted; retry later"}],"type":"es_rejected_execution_exception","reason":"queue is full (9 events waiting), the event was not accepted; retry later"},"status":429}"#
        );
    }
}
