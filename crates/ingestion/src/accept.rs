//! What every ingest route shares: the request as it reads it, and queueing the checked
//! events.

use crate::{
    Rejection,
    app::AppState,
    rejection::{Protocol, Refusal},
    tenants,
};
use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request, rejection::BytesRejection},
    http::{HeaderMap, StatusCode},
};
use std::{convert::Infallible, sync::Arc};
use traceflow_event::{DEFAULT_TENANT, Defaults, Event};
use traceflow_http::TraceId;
use traceflow_queue::Pushed;

/// An ingest request: its trace id, headers and body. A body that could not be read (over
/// `MAX_BODY_BYTES`, cut short) is kept as a rejection for the route to answer in its
/// protocol's words.
pub(crate) struct IngestRequest {
    pub(crate) trace_id: String,
    /// The tenant its key acts for (which the route serves: `tenants::serve_as_granted`).
    pub(crate) tenant: Arc<str>,
    /// The tenant's own retention, if it has one.
    retention_days: Option<u32>,
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
            retention_days: self.retention_days,
        }
    }
}

impl FromRequest<AppState> for IngestRequest {
    type Rejection = Infallible;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Infallible> {
        let (mut parts, body) = request.into_parts();
        let TraceId(trace_id) = TraceId::from_request_parts(&mut parts, state).await?;
        let headers = parts.headers.clone();
        let tenant = tenants::served();
        let retention_days = state.tenants.limits(&tenant).retention_days;
        let body = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|rejection| body_rejection(rejection, state.max_body_bytes));
        Ok(Self {
            trace_id,
            tenant,
            retention_days,
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

/// Queues `events` (one tenant's) with one Redis round trip, or refuses them all (the
/// tenant over its rate, queue down, or full: backpressure); then signals the worker.
pub(crate) async fn accept(
    state: &AppState,
    protocol: Protocol,
    request_trace_id: &str,
    events: &[Event<'_>],
) -> Result<(), Rejection> {
    let tenant = events.first().map_or(DEFAULT_TENANT, |event| &event.tenant);
    let limits = state.tenants.limits(tenant);
    state.tenants.take(tenant, &limits, events.len())?;
    let share = limits.max_queued_events;
    match state.queue.push(events, share).await? {
        Pushed::Queued { depth } => {
            protocol.count_accepted(events.len());
            metrics::gauge!("traceflow_queue_depth").set(depth as f64);
        }
        Pushed::Full { depth } => {
            metrics::gauge!("traceflow_queue_depth").set(depth as f64);
            return Err(Rejection::QueueFull { depth });
        }
        Pushed::TenantFull { queued } => {
            return Err(Rejection::TenantQueueFull {
                tenant: tenant.to_owned(),
                queued,
                limit: share.unwrap_or_default(),
            });
        }
    }
    state.signal.notify(request_trace_id, events.len() as u32);
    tracing::debug!(trace_id = %request_trace_id, count = events.len(), "events queued");
    Ok(())
}
