//! The OTLP logs receivers: `POST /v1/logs` (OTLP/HTTP, here) and `LogsService/Export`
//! (OTLP/gRPC, in [`grpc`]). Both hand a decoded `ExportLogsServiceRequest` to [`export`]:
//! the record-count limit, the mapping (see [`map`]), the push and the partial-success answer
//! are theirs in common, and so is how a refusal is worded ([`refusal_message`]) and coded
//! ([`grpc_code`]).
//!
//! OTLP/HTTP follows its specification: protobuf (`application/x-protobuf`) or OTLP/JSON
//! (`application/json`) bodies, optionally gzip-compressed; `200` with an
//! `ExportLogsServiceResponse` in the request's encoding, whose `partial_success` counts the
//! records that were rejected and says why; every error a `google.rpc.Status` in the
//! request's encoding (JSON when the content type is not one of the two). The records
//! become [`LogEvent`](traceflow_event::LogEvent)s (see [`map`]) and are queued like
//! `/ingest` events: one Redis round trip, backpressure as `503` with `Retry-After`.

mod decode;
pub(crate) mod grpc;
mod map;

use crate::{
    Rejection,
    accept::{IngestRequest, accept},
    app::AppState,
    rejection::{Protocol, Reason, Refusal, with_retry_after},
};
use axum::{
    extract::State,
    http::{StatusCode, header::CONTENT_TYPE},
    response::{IntoResponse, Response},
};
use decode::Encoding;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use prost::Message;
use serde_json::json;
use traceflow_event::Defaults;

/// Where OTLP/HTTP exporters send logs.
pub const LOGS_PATH: &str = "/v1/logs";

/// How many rejection reasons `partial_success.error_message` spells out.
const LISTED_REJECTIONS: usize = 5;

/// The `google.rpc.Code` of each reason.
fn grpc_code(reason: Reason) -> tonic::Code {
    match reason {
        Reason::UnsupportedMediaType | Reason::Invalid | Reason::TooOld | Reason::TooNew => {
            tonic::Code::InvalidArgument
        }
        Reason::TooLarge
        | Reason::TooManyEvents
        | Reason::RateLimited
        | Reason::TenantQueueFull => tonic::Code::ResourceExhausted,
        Reason::QueueUnavailable | Reason::QueueFull => tonic::Code::Unavailable,
    }
}

/// What a refused request is told, in OTLP's terms (records, not events).
fn refusal_message(rejection: &Rejection) -> String {
    match rejection {
        Rejection::TooManyEvents { count, limit } => {
            format!("the request holds {count} log records, more than the limit of {limit}")
        }
        // The limit applies to the message once gzip is undone.
        Rejection::TooLarge { .. } => format!("{rejection} (after decompression)"),
        other => other.to_string(),
    }
}

/// A refused request as OTLP/HTTP answers it: a `google.rpc.Status` in `encoding`.
fn status_response(rejection: Rejection, events: usize, encoding: Encoding) -> Response {
    rejection.record(Protocol::Otlp, events);
    let reason = rejection.reason();
    let message = refusal_message(&rejection);
    let code = grpc_code(reason) as i32;
    let body = match encoding {
        Encoding::Protobuf => tonic_types::Status {
            code,
            message,
            details: Vec::new(),
        }
        .encode_to_vec(),
        Encoding::Json => json!({"code": code, "message": message})
            .to_string()
            .into_bytes(),
    };
    with_retry_after(
        &rejection,
        (
            reason.status(),
            [(CONTENT_TYPE, encoding.content_type())],
            body,
        )
            .into_response(),
    )
}

/// OTLP/HTTP logs export: an `ExportLogsServiceRequest` (protobuf or JSON, gzip allowed).
///
/// Answers with an `ExportLogsServiceResponse` in the request's encoding, errors as a
/// `google.rpc.Status`; records that break a rule are reported in `partial_success`.
#[utoipa::path(post, path = "/v1/logs", tag = "ingestion",
    request_body(
        description = "opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest",
        content(("application/x-protobuf"), ("application/json")),
    ),
    responses(
        (status = 200, description = "ExportLogsServiceResponse, with partial_success when records were rejected"),
        (status = 400, description = "Undecodable request (google.rpc.Status)"),
        (status = 401, description = "Missing or invalid API key (when keys are configured)"),
        (status = 403, description = "A key without the ingest scope, or naming a tenant it may not act for"),
        (status = 413, description = "Over the size or record limit, after decompression (google.rpc.Status)"),
        (status = 415, description = "Unsupported Content-Type or Content-Encoding (google.rpc.Status)"),
        (status = 429, description = "The tenant is over its rate or queue share; retry (google.rpc.Status)",
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying"))),
        (status = 503, description = "Queue unavailable or full; retry (google.rpc.Status)",
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying"))),
    ),
)]
pub(crate) async fn export_logs(State(state): State<AppState>, request: IngestRequest) -> Response {
    let Some(encoding) = Encoding::of(&request.headers) else {
        let rejection = Rejection::UnsupportedMediaType(
            "Content-Type must be application/x-protobuf or application/json (OTLP/HTTP)"
                .to_owned(),
        );
        return status_response(rejection, 1, Encoding::Json);
    };
    match read_and_export(&state, request, encoding).await {
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
        Err((rejection, records)) => status_response(rejection, records, encoding),
    }
}

/// The records refused with a rejection: all of the request's once it is decoded.
type Refused = (Rejection, usize);

/// The body under `MAX_BODY_BYTES` (decompressed), decoded, then exported.
async fn read_and_export(
    state: &AppState,
    mut request: IngestRequest,
    encoding: Encoding,
) -> Result<ExportLogsServiceResponse, Refused> {
    let one = |rejection| (rejection, 1);
    let body = request.body(state.max_body_bytes).map_err(one)?;
    let decoded = decode::decode(encoding, &body)
        .map_err(|message| Rejection::Invalid(Refusal::malformed(message)))
        .map_err(one)?;
    export(state, Protocol::Otlp, decoded, request.defaults()).await
}

/// A decoded request, as either transport received it: refused whole over
/// `MAX_BATCH_EVENTS` records or when the queue refuses its events; else each record is
/// mapped and checked, the valid ones are queued, and the answer's `partial_success` counts
/// and explains the others. `defaults` carry the request's trace id.
async fn export(
    state: &AppState,
    protocol: Protocol,
    decoded: ExportLogsServiceRequest,
    defaults: Defaults<'_>,
) -> Result<ExportLogsServiceResponse, Refused> {
    let total = map::record_count(&decoded);
    if total > state.max_batch_events {
        let rejection = Rejection::TooManyEvents {
            count: total,
            limit: state.max_batch_events,
        };
        return Err((rejection, total));
    }
    let mapped = map::map_request(decoded, defaults, &state.limits);

    if !mapped.events.is_empty() {
        accept(state, protocol, defaults.trace_id, &mapped.events)
            .await
            .map_err(|rejection| (rejection, mapped.events.len()))?;
    }

    if mapped.rejected.is_empty() {
        return Ok(ExportLogsServiceResponse::default());
    }
    let rejected = mapped.rejected.len();
    for rejection in &mapped.rejected {
        rejection.refusal.reason.count(protocol, 1);
    }
    let listed: Vec<String> = mapped
        .rejected
        .iter()
        .take(LISTED_REJECTIONS)
        .map(|rejection| format!("{}: {}", rejection.location, rejection.refusal))
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
    tracing::info!(
        protocol = protocol.label(),
        rejected,
        total,
        first = %listed[0],
        "OTLP log records rejected"
    );
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
