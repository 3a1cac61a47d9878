//! Why a request, or some of its events, was not accepted: one vocabulary (the reason, its
//! status, whether to retry, its metric label) for every protocol. Each protocol renders a
//! rejection in its own format: `/ingest` as the JSON error here, OTLP/HTTP as a
//! `google.rpc.Status` body and OTLP/gRPC as a `tonic::Status` (see `otlp`).

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header::RETRY_AFTER},
    response::{IntoResponse, Response},
};
use serde_json::json;
use std::{fmt, time::Duration};
use traceflow_event::{EventWording, Violation, Wording};
use traceflow_http::json_error;
use traceflow_queue::QueueError;

/// Why one event, or a body as a whole, is unusable: the reason it is counted under, and
/// what the client is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub reason: Reason,
    pub message: String,
}

impl Refusal {
    /// Not decodable: malformed, or not shaped as the protocol says.
    pub fn malformed(message: impl Into<String>) -> Self {
        Self {
            reason: Reason::Invalid,
            message: message.into(),
        }
    }

    /// A broken event rule, in `wording`'s terms.
    pub fn of(violation: &Violation, wording: &impl Wording) -> Self {
        let reason = match violation {
            Violation::TooOld { .. } => Reason::TooOld,
            Violation::TooNew { .. } => Reason::TooNew,
            _ => Reason::Invalid,
        };
        Self {
            reason,
            message: violation.describe(wording),
        }
    }
}

/// A broken rule in the event's own field names, as `/ingest` takes them.
impl From<Violation> for Refusal {
    fn from(violation: Violation) -> Self {
        Refusal::of(&violation, &EventWording)
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A request refused whole (or, for `InvalidEvents`, a batch refused for some of its events).
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    /// The body's Content-Type (or Content-Encoding) is not one the route reads.
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("request body is larger than the limit of {limit} bytes")]
    TooLarge { limit: usize },
    /// Malformed or breaking a rule; the message names the field.
    #[error("{0}")]
    Invalid(Refusal),
    /// Events of a batch broke rules; `(index, refusal)` for each, in order. Nothing was
    /// queued.
    #[error("{} of {total} events are invalid, nothing was accepted{}", failures.len(), first_failure(failures))]
    InvalidEvents {
        total: usize,
        failures: Vec<(usize, Refusal)>,
    },
    #[error("the request holds {count} events, more than the limit of {limit}")]
    TooManyEvents { count: usize, limit: usize },
    /// Redis's own words are logged ([`Rejection::record`]), not sent: they name its nodes.
    #[error("queue unavailable, {}", queue_unavailable(.0))]
    QueueUnavailable(#[from] QueueError),
    /// Backpressure: the worker is behind; the client should retry later.
    #[error("queue is full ({depth} events waiting), the event was not accepted; retry later")]
    QueueFull { depth: u64 },
    /// The tenant sends faster than its `max_events_per_second`.
    #[error(
        "tenant {tenant:?} is over its rate of {rate} events per second, nothing was accepted; retry later"
    )]
    RateLimited {
        tenant: String,
        rate: u32,
        retry_after: Duration,
    },
    /// The tenant has its `max_queued_events` waiting already.
    #[error(
        "tenant {tenant:?} has {queued} events queued, its limit is {limit}: nothing was accepted; retry later"
    )]
    TenantQueueFull {
        tenant: String,
        queued: u64,
        limit: u64,
    },
}

fn first_failure(failures: &[(usize, Refusal)]) -> String {
    match failures.first() {
        Some((index, reason)) => format!("; first: event {index}: {reason}"),
        None => String::new(),
    }
}

/// Why events were refused, as `/metrics` counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    UnsupportedMediaType,
    TooLarge,
    Invalid,
    /// Older than the retention window.
    TooOld,
    /// Further ahead of the server's clock than allowed.
    TooNew,
    TooManyEvents,
    QueueUnavailable,
    QueueFull,
    /// Over the tenant's `max_events_per_second`.
    RateLimited,
    /// Over the tenant's `max_queued_events`.
    TenantQueueFull,
}

/// The protocol events came in by, as `/metrics` labels them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `POST /ingest`: our JSON and NDJSON.
    Ingest,
    /// OTLP/HTTP.
    Otlp,
    /// The Elasticsearch bulk API.
    Elasticsearch,
    /// Syslog over TCP and UDP.
    Syslog,
    /// OTLP over gRPC.
    OtlpGrpc,
    /// Loki's push API.
    Loki,
}

impl Protocol {
    /// The `protocol` label of the ingest metrics.
    pub fn label(self) -> &'static str {
        match self {
            Protocol::Ingest => "ingest",
            Protocol::Otlp => "otlp",
            Protocol::Elasticsearch => "elasticsearch",
            Protocol::Syslog => "syslog",
            Protocol::OtlpGrpc => "otlp_grpc",
            Protocol::Loki => "loki",
        }
    }

    /// Counts `events` accepted by this protocol, for the tenant served.
    pub fn count_accepted(self, events: usize) {
        metrics::counter!(
            "traceflow_ingest_events_accepted_total",
            "protocol" => self.label(),
            "tenant" => crate::tenants::served()
        )
        .increment(events as u64);
    }
}

/// Seconds a client is told to wait before retrying a refusal it may retry.
pub const RETRY_AFTER_SECONDS: u32 = 2;

impl Reason {
    /// The `reason` label of `traceflow_ingest_events_rejected_total`.
    pub fn label(self) -> &'static str {
        match self {
            Reason::UnsupportedMediaType => "unsupported_media_type",
            Reason::TooLarge => "too_large",
            Reason::Invalid => "invalid",
            Reason::TooOld => "too_old",
            Reason::TooNew => "too_new",
            Reason::TooManyEvents => "too_many_events",
            Reason::QueueUnavailable => "queue_unavailable",
            Reason::QueueFull => "queue_full",
            Reason::RateLimited => "rate_limited",
            Reason::TenantQueueFull => "tenant_queue_full",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Reason::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Reason::TooLarge | Reason::TooManyEvents => StatusCode::PAYLOAD_TOO_LARGE,
            Reason::Invalid | Reason::TooOld | Reason::TooNew => StatusCode::BAD_REQUEST,
            Reason::QueueUnavailable | Reason::QueueFull => StatusCode::SERVICE_UNAVAILABLE,
            Reason::RateLimited | Reason::TenantQueueFull => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// Whether the same request may succeed later (the queue is down or full, the tenant
    /// over a limit).
    pub fn retryable(self) -> bool {
        matches!(
            self,
            Reason::QueueUnavailable
                | Reason::QueueFull
                | Reason::RateLimited
                | Reason::TenantQueueFull
        )
    }

    /// Counts `events` of `protocol` refused for this reason, for the tenant served.
    pub fn count(self, protocol: Protocol, events: usize) {
        metrics::counter!(
            "traceflow_ingest_events_rejected_total",
            "protocol" => protocol.label(),
            "reason" => self.label(),
            "tenant" => crate::tenants::served()
        )
        .increment(events as u64);
    }
}

impl Rejection {
    pub fn reason(&self) -> Reason {
        match self {
            Rejection::UnsupportedMediaType(_) => Reason::UnsupportedMediaType,
            Rejection::TooLarge { .. } => Reason::TooLarge,
            Rejection::Invalid(refusal) => refusal.reason,
            // Counted under its first failure's reason.
            Rejection::InvalidEvents { failures, .. } => failures
                .first()
                .map_or(Reason::Invalid, |(_, refusal)| refusal.reason),
            Rejection::TooManyEvents { .. } => Reason::TooManyEvents,
            Rejection::QueueUnavailable(_) => Reason::QueueUnavailable,
            Rejection::QueueFull { .. } => Reason::QueueFull,
            Rejection::RateLimited { .. } => Reason::RateLimited,
            Rejection::TenantQueueFull { .. } => Reason::TenantQueueFull,
        }
    }

    /// How many whole seconds (at least 1) a client should wait before retrying, for a
    /// refusal it may retry: what the tenant's rate bucket needs to refill, else
    /// [`RETRY_AFTER_SECONDS`].
    pub fn retry_after_seconds(&self) -> Option<u64> {
        match self {
            Rejection::RateLimited { retry_after, .. } => {
                let rounded_up = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
                Some(rounded_up.max(1))
            }
            _ => self
                .reason()
                .retryable()
                .then_some(RETRY_AFTER_SECONDS.into()),
        }
    }

    /// How many events it refuses, where known (else the request counts as one).
    pub fn events(&self) -> usize {
        match self {
            Rejection::InvalidEvents { total, .. } => *total,
            Rejection::TooManyEvents { count, .. } => *count,
            _ => 1,
        }
    }

    /// Counts and logs the rejection of `events` events: every renderer calls this once.
    pub fn record(&self, protocol: Protocol, events: usize) {
        let reason = self.reason();
        reason.count(protocol, events);
        let (protocol, reason) = (protocol.label(), reason.label());
        if let Rejection::QueueUnavailable(cause) = self {
            tracing::warn!(protocol, reason, error = %self, %cause, "ingest refused");
        } else if self.reason().status().is_server_error() {
            tracing::warn!(protocol, reason, error = %self, "ingest refused");
        } else {
            tracing::debug!(protocol, reason, error = %self, "ingest refused");
        }
    }
}

/// What a client is told of the queue's failure.
fn queue_unavailable(error: &QueueError) -> String {
    match error {
        QueueError::Redis(_) => "the event was not accepted: redis does not answer".to_owned(),
        QueueError::Unreplicated { confirmed, wanted } => format!(
            "the event is queued but only {confirmed} of {wanted} redis replicas confirmed it \
             (REDIS_MIN_REPLICAS): it may be stored, and stored again if sent again"
        ),
    }
}

/// Adds `Retry-After` to the answer of a retryable refusal.
pub fn with_retry_after(rejection: &Rejection, mut response: Response) -> Response {
    if let Some(seconds) = rejection.retry_after_seconds() {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// How many of a batch's failures an answer lists.
const LISTED_FAILURES: usize = 20;

/// `/ingest`'s answer: `{"error": "..."}`, with the first failures of a batch as `errors`.
impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        self.record(Protocol::Ingest, self.events());
        let reason = self.reason();
        let response = match &self {
            Rejection::InvalidEvents { failures, .. } => {
                let listed: Vec<_> = failures
                    .iter()
                    .take(LISTED_FAILURES)
                    .map(|(index, refusal)| json!({"index": index, "error": refusal.message}))
                    .collect();
                (
                    reason.status(),
                    Json(json!({"error": self.to_string(), "errors": listed})),
                )
                    .into_response()
            }
            _ => json_error(reason.status(), self.to_string()),
        };
        with_retry_after(&self, response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_refusal_names_its_first_failure() {
        let rejection = Rejection::InvalidEvents {
            total: 3,
            failures: vec![
                (1, Refusal::malformed("level is required")),
                (2, Refusal::malformed("x")),
            ],
        };
        assert_eq!(
            rejection.to_string(),
            "2 of 3 events are invalid, nothing was accepted; first: event 1: level is required"
        );
        let empty = Rejection::InvalidEvents {
            total: 3,
            failures: vec![],
        };
        assert_eq!(
            empty.to_string(),
            "0 of 3 events are invalid, nothing was accepted"
        );
    }

    #[test]
    fn only_queue_and_tenant_limit_refusals_are_retried() {
        let retried: Vec<&str> = [
            Reason::UnsupportedMediaType,
            Reason::TooLarge,
            Reason::Invalid,
            Reason::TooOld,
            Reason::TooNew,
            Reason::TooManyEvents,
            Reason::QueueUnavailable,
            Reason::QueueFull,
            Reason::RateLimited,
            Reason::TenantQueueFull,
        ]
        .into_iter()
        .filter(|reason| reason.retryable())
        .map(Reason::label)
        .collect();
        assert_eq!(
            retried,
            [
                "queue_unavailable",
                "queue_full",
                "rate_limited",
                "tenant_queue_full"
            ]
        );
    }
}
