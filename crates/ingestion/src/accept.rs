//! What every protocol shares once it has decoded a request: reading the body under the
//! size limit, and queueing the checked events.

use crate::{Rejection, app::AppState};
use axum::{body::Bytes, extract::rejection::BytesRejection, http::StatusCode};
use traceflow_event::Event;
use traceflow_queue::Pushed;

/// The request body, or the rejection of one over `MAX_BODY_BYTES` or cut short.
pub(crate) fn read_body(
    body: Result<Bytes, BytesRejection>,
    limit: usize,
) -> Result<Bytes, Rejection> {
    body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => Rejection::TooLarge { limit },
        _ => Rejection::Invalid(rejection.body_text()),
    })
}

/// Queues `events` with one Redis round trip, or refuses them all (queue down, or full:
/// backpressure); then signals the worker.
pub(crate) async fn accept(
    state: &AppState,
    request_trace_id: &str,
    events: &[Event<'_>],
) -> Result<(), Rejection> {
    match state.queue.push(events).await? {
        Pushed::Queued { depth } => {
            metrics::counter!("traceflow_ingest_events_accepted_total")
                .increment(events.len() as u64);
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
