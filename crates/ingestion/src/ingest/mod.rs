//! `POST /ingest`: one event (a JSON object), a batch (a JSON array of them), or NDJSON (one
//! event per line); a batch is all-or-nothing.

mod batch;
pub(crate) mod decode;

use batch::{BodyFormat, Events, parse_body};

use crate::{
    Rejection,
    accept::{IngestRequest, accept},
    app::AppState,
    body::without_bom,
    rejection::Protocol,
};
use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode},
};
use decode::IncomingEvent;
use serde::Serialize;
use traceflow_http::ErrorBody;

/// The body of `POST /ingest` with `application/json`: one event, or a batch of them.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // A schema only: bodies are parsed by `parse_body`.
pub(crate) enum IngestBody {
    One(IncomingEvent<'static>),
    Batch(Vec<IncomingEvent<'static>>),
}

/// The 202 answer: `{"status","trace_id"}` for one event, with a count for a batch.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Accepted {
    #[schema(example = "accepted")]
    status: &'static str,
    /// Events queued; only for a batch.
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<usize>,
    /// The event's trace id, or the request's for a batch.
    trace_id: String,
}

/// The body's format, from its Content-Type (parameters such as charset ignored).
fn body_format(headers: &HeaderMap) -> Option<BodyFormat> {
    match traceflow_http::media_type(headers)?.as_str() {
        "application/json" => Some(BodyFormat::Json),
        "application/x-ndjson" => Some(BodyFormat::Ndjson),
        _ => None,
    }
}

/// Queue one event, a JSON array of events, or NDJSON (one event per line).
///
/// A batch is all-or-nothing: one invalid event refuses the request, listing the failures.
#[utoipa::path(post, path = "/ingest", tag = "ingestion",
    request_body(
        description = "One event or an array of them (`application/json`), or one event per line (`application/x-ndjson`)",
        content((IngestBody = "application/json"), (IncomingEvent = "application/x-ndjson")),
    ),
    responses(
        (status = 202, description = "Queued; the event will be stored", body = Accepted),
        (status = 400, description = "Malformed JSON or a broken rule, naming the field; a batch lists failing indexes", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key (when keys are configured)", body = ErrorBody),
        (status = 403, description = "A key without the ingest scope, or naming a tenant it may not act for", body = ErrorBody),
        (status = 408, description = "The request took too long", body = ErrorBody),
        (status = 413, description = "Body over MAX_BODY_BYTES or more than MAX_BATCH_EVENTS events", body = ErrorBody),
        (status = 415, description = "Neither application/json nor application/x-ndjson", body = ErrorBody),
        (status = 429, description = "The tenant is over its max_events_per_second or max_queued_events; nothing was queued, retry", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying"))),
        (status = 503, description = "Redis unreachable or the queue full; nothing was queued, retry", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying"))),
    ),
)]
pub(crate) async fn ingest(
    State(state): State<AppState>,
    mut request: IngestRequest,
) -> Result<(StatusCode, Json<Accepted>), Rejection> {
    let format = body_format(&request.headers).ok_or_else(|| {
        Rejection::UnsupportedMediaType(
            "Content-Type must be application/json (one event or an array) or application/x-ndjson"
                .to_owned(),
        )
    })?;
    let body = request.body(state.max_body_bytes)?;
    let events = parse_body(
        format,
        without_bom(&body),
        request.defaults(),
        &state.limits,
        state.max_batch_events,
    )?;

    accept(
        &state,
        Protocol::Ingest,
        &request.trace_id,
        events.as_slice(),
    )
    .await?;
    let answer = match &events {
        Events::One(event) => Accepted {
            status: "accepted",
            count: None,
            trace_id: event.trace_id.to_string(),
        },
        Events::Batch(events) => Accepted {
            status: "accepted",
            count: Some(events.len()),
            trace_id: request.trace_id.clone(),
        },
    };
    Ok((StatusCode::ACCEPTED, Json(answer)))
}
