//! What every ingest route shares: the request as it reads it, and queueing the checked
//! events.

use crate::{
    Rejection,
    app::AppState,
    rejection::{Protocol, Refusal},
};
use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request, rejection::BytesRejection},
    http::{HeaderMap, StatusCode},
};
use std::convert::Infallible;
use traceflow_access::Grant;
use traceflow_event::{Defaults, Event};
use traceflow_http::TraceId;
use traceflow_queue::Pushed;

/// An ingest request: its trace id, headers and body. A body that could not be read (over
/// `MAX_BODY_BYTES`, cut short) is kept as a rejection for the route to answer in its
/// protocol's words.
pub(crate) struct IngestRequest {
    pub(crate) trace_id: String,
    /// The tenant its key acts for.
    pub(crate) tenant: String,
    pub(crate) headers: HeaderMap,
    body: Result<Bytes, Rejection>,
}

impl IngestRequest {
    /// The body with its `Content-Encoding` undone, or why it could not be read.
    pub(crate) fn body(&mut self, limit: usize) -> Result<Bytes, Rejection> {
        let body = std::mem::replace(&mut self.body, Ok(Bytes::new()))?;
        crate::body::decode(&self.headers, body, limit)
    }

    /// What stands in for the fields its events leave out: its trace id, and now.
    pub(crate) fn defaults(&self) -> Defaults<'_> {
        Defaults {
            tenant: &self.tenant,
            trace_id: &self.trace_id,
            now: chrono::Utc::now(),
        }
    }
}

impl FromRequest<AppState> for IngestRequest {
    type Rejection = Infallible;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Infallible> {
        let (mut parts, body) = request.into_parts();
        let TraceId(trace_id) = TraceId::from_request_parts(&mut parts, state).await?;
        let headers = parts.headers.clone();
        let tenant = Grant::tenant_of(parts.extensions.get()).to_owned();
        let body = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|rejection| body_rejection(rejection, state.max_body_bytes));
        Ok(Self {
            trace_id,
            tenant,
            headers,
            body,
        })
    }
}

fn body_rejection(rejection: BytesRejection, limit: usize) -> Rejection {
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => Rejection::TooLarge { limit },
        _ => Rejection::Invalid(Refusal::malformed(rejection.body_text())),
    }
}

/// Queues `events` with one Redis round trip, or refuses them all (queue down, or full:
/// backpressure); then signals the worker.
pub(crate) async fn accept(
    state: &AppState,
    protocol: Protocol,
    request_trace_id: &str,
    events: &[Event<'_>],
) -> Result<(), Rejection> {
    match state.queue.push(events).await? {
        Pushed::Queued { depth } => {
            protocol.count_accepted(events.len());
            metrics::gauge!("traceflow_queue_depth").set(depth as f64);
        }
        Pushed::Full { depth } => {
            metrics::gauge!("traceflow_queue_depth").set(depth as f64);
            return Err(Rejection::QueueFull { depth });
        }
    }
    state.signal.notify(request_trace_id, events.len() as u32);
    tracing::debug!(trace_id = %request_trace_id, count = events.len(), "events queued");
    Ok(())
}
