//! `POST /v1/logs`: the OTLP/HTTP logs receiver.
//!
//! Follows the OTLP/HTTP specification: protobuf (`application/x-protobuf`) or OTLP/JSON
//! (`application/json`) bodies, optionally gzip-compressed; `200` with an
//! `ExportLogsServiceResponse` in the request's encoding, whose `partial_success` counts the
//! records that were rejected and says why; every error a `google.rpc.Status` in the
//! request's encoding (JSON when the content type is not one of the two). The records
//! become [`LogEvent`](traceflow_queue::LogEvent)s (see [`map`]) and are queued like
//! `/ingest` events: one Redis round trip, backpressure as `503` with `Retry-After`.

mod decode;
mod map;

use decode::Encoding;

use crate::{
    ApiError,
    app::{AppState, enqueue},
};
use axum::{
    body::Bytes,
    extract::{State, rejection::BytesRejection},
    http::{
        HeaderMap, HeaderValue, StatusCode,
        header::{CONTENT_TYPE, RETRY_AFTER},
    },
    response::{IntoResponse, Response},
};
use decode::BodyError;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceResponse,
};
use prost::Message;
use serde_json::json;
use traceflow_http::TraceId;

/// Where OTLP/HTTP exporters send logs.
pub const LOGS_PATH: &str = "/v1/logs";

/// Seconds a client is told to wait before retrying under backpressure.
const RETRY_AFTER_SECONDS: &str = "2";

/// How many rejection reasons `partial_success.error_message` spells out.
const LISTED_REJECTIONS: usize = 5;

/// A refused request: its HTTP status, a `google.rpc.Code`, and what is wrong.
#[derive(Debug)]
struct OtlpError {
    status: StatusCode,
    code: tonic::Code,
    message: String,
    /// The `reason` label of `traceflow_ingest_events_rejected_total`.
    reason: &'static str,
    /// Records refused with it, when known.
    records: usize,
}

impl OtlpError {
    fn new(status: StatusCode, code: tonic::Code, reason: &'static str, message: String) -> Self {
        Self {
            status,
            code,
            message,
            reason,
            records: 1,
        }
    }

    fn invalid(message: String) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            tonic::Code::InvalidArgument,
            "invalid",
            message,
        )
    }

    fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            tonic::Code::ResourceExhausted,
            "too_large",
            format!("request body is larger than the limit of {limit} bytes (after decompression)"),
        )
    }

    fn unsupported(message: String) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            tonic::Code::InvalidArgument,
            "unsupported_media_type",
            message,
        )
    }

    /// The answer, a `google.rpc.Status` in `encoding`.
    fn into_response(self, encoding: Encoding) -> Response {
        metrics::counter!("traceflow_ingest_events_rejected_total", "reason" => self.reason)
            .increment(self.records as u64);
        if self.status.is_server_error() {
            tracing::warn!(error = %self.message, "OTLP export refused");
        } else {
            tracing::debug!(error = %self.message, status = %self.status, "OTLP export refused");
        }
        let body = match encoding {
            Encoding::Protobuf => tonic_types::Status {
                code: self.code as i32,
                message: self.message,
                details: Vec::new(),
            }
            .encode_to_vec(),
            Encoding::Json => json!({"code": self.code as i32, "message": self.message})
                .to_string()
                .into_bytes(),
        };
        let mut response =
            (self.status, [(CONTENT_TYPE, encoding.content_type())], body).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECONDS));
        }
        response
    }
}

/// OTLP/HTTP logs export: an `ExportLogsServiceRequest` (protobuf or JSON, gzip allowed).
///
/// Answers with an `ExportLogsServiceResponse` in the request's encoding, errors as a
/// `google.rpc.Status`; records that break a rule are reported in `partial_success`.
#[utoipa::path(
    post,
    path = "/v1/logs",
    tag = "ingestion",
    request_body(
        description = "opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest",
        content(("application/x-protobuf"), ("application/json")),
    ),
    responses(
        (status = 200, description = "ExportLogsServiceResponse, with partial_success when records were rejected"),
        (status = 400, description = "Undecodable request (google.rpc.Status)"),
        (status = 401, description = "Missing or invalid API key (when keys are configured)"),
        (status = 413, description = "Over the size or record limit, after decompression (google.rpc.Status)"),
        (status = 415, description = "Unsupported Content-Type or Content-Encoding (google.rpc.Status)"),
        (status = 503, description = "Queue unavailable or full; retry (google.rpc.Status)",
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying"))),
    )
)]
pub(crate) async fn export_logs(
    State(state): State<AppState>,
    TraceId(request_trace_id): TraceId,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(encoding) = Encoding::of(&headers) else {
        return OtlpError::unsupported(
            "Content-Type must be application/x-protobuf or application/json (OTLP/HTTP)"
                .to_owned(),
        )
        .into_response(Encoding::Json);
    };
    match export(&state, &request_trace_id, encoding, &headers, body).await {
        Ok(answer) => {
            let body = match encoding {
                Encoding::Protobuf => answer.encode_to_vec(),
                Encoding::Json => response_json(&answer).to_string().into_bytes(),
            };
            (
                StatusCode::OK,
                [(CONTENT_TYPE, encoding.content_type())],
                body,
            )
                .into_response()
        }
        Err(error) => error.into_response(encoding),
    }
}

async fn export(
    state: &AppState,
    request_trace_id: &str,
    encoding: Encoding,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<ExportLogsServiceResponse, OtlpError> {
    let limit = state.max_body_bytes;
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => OtlpError::too_large(limit),
        _ => OtlpError::invalid(rejection.body_text()),
    })?;
    let body = decode::decompress(headers, &body, limit).map_err(|error| match error {
        BodyError::TooLarge => OtlpError::too_large(limit),
        BodyError::BadGzip(error) => {
            OtlpError::invalid(format!("the body is not valid gzip: {error}"))
        }
        BodyError::UnsupportedEncoding(coding) => OtlpError::unsupported(format!(
            "Content-Encoding {coding:?} is not supported; use gzip or none"
        )),
    })?;
    let request = decode::decode(encoding, &body).map_err(OtlpError::invalid)?;

    let total = map::record_count(&request);
    if total > state.max_batch_events {
        return Err(OtlpError {
            records: total,
            ..OtlpError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                tonic::Code::ResourceExhausted,
                "too_many_events",
                format!(
                    "the request holds {total} log records, more than the limit of {}",
                    state.max_batch_events
                ),
            )
        });
    }
    let mapped = map::map_request(request, request_trace_id, chrono::Utc::now(), &state.limits);

    if !mapped.events.is_empty() {
        enqueue(state, request_trace_id, &mapped.events)
            .await
            .map_err(|error| {
                let reason = match error {
                    ApiError::QueueFull { .. } => "queue_full",
                    _ => "queue_unavailable",
                };
                OtlpError {
                    records: mapped.events.len(),
                    ..OtlpError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        tonic::Code::Unavailable,
                        reason,
                        error.to_string(),
                    )
                }
            })?;
    }

    if mapped.rejected.is_empty() {
        return Ok(ExportLogsServiceResponse::default());
    }
    let rejected = mapped.rejected.len();
    metrics::counter!("traceflow_ingest_events_rejected_total", "reason" => "invalid")
        .increment(rejected as u64);
    let listed: Vec<String> = mapped
        .rejected
        .iter()
        .take(LISTED_REJECTIONS)
        .map(|rejection| format!("{}: {}", rejection.location, rejection.reason))
        .collect();
    let error_message = format!(
        "{rejected} of {total} log records were rejected: {}{}",
        listed.join("; "),
        if rejected > LISTED_REJECTIONS {
            "; ..."
        } else {
            ""
        }
    );
    tracing::info!(rejected, total, first = %listed[0], "OTLP log records rejected");
    Ok(ExportLogsServiceResponse {
        partial_success: Some(ExportLogsPartialSuccess {
            rejected_log_records: rejected as i64,
            error_message,
        }),
    })
}

/// The response in OTLP/JSON, an unset `partialSuccess` omitted (the crate's serde would
/// write `null`). The int64 count is a JSON number: proto3 JSON readers must take a number
/// or a string, and the Rust SDK's exporter reads only a number.
fn response_json(answer: &ExportLogsServiceResponse) -> serde_json::Value {
    match &answer.partial_success {
        None => json!({}),
        Some(partial) => json!({
            "partialSuccess": {
                "rejectedLogRecords": partial.rejected_log_records,
                "errorMessage": partial.error_message,
            }
        }),
    }
}
