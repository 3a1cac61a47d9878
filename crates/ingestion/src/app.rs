//! The HTTP application: routes, shared state, and its life from bind to shutdown.

use crate::{
    ApiError, FieldLimits, WorkerSignal,
    body::{BodyError, BodyFormat, Events, parse_body},
    event::IncomingEvent,
    otlp,
};
use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, State, rejection::BytesRejection},
    http::{HeaderMap, StatusCode},
    response::Response,
    routing::post,
};
use serde::Serialize;
use std::{future::Future, net::SocketAddr};
use tokio::net::TcpListener;
use traceflow_config::ApiKeys;
use traceflow_config::IngestionConfig;
use traceflow_http::{
    DependencyDown, ErrorBody, HealthBody, TraceId, health_response, propagate_trace_id,
    require_api_key, with_metrics, with_openapi,
};
use traceflow_queue::{Event, Producer, Pushed};
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) queue: Producer,
    pub(crate) signal: WorkerSignal,
    pub(crate) max_body_bytes: usize,
    pub(crate) max_batch_events: usize,
    pub(crate) limits: FieldLimits,
}

/// The ingestion service, bound to its port and ready to serve.
pub struct Application {
    listener: TcpListener,
    router: Router,
    /// `OTLP_PORT`, serving only the OTLP receiver; `None` when it is the main port.
    otlp_listener: Option<TcpListener>,
    otlp_router: Router,
}

impl Application {
    /// Binds the port (0 picks a free one) and prepares the Redis and worker clients.
    /// Neither Redis nor the worker has to be up yet.
    pub async fn build(config: IngestionConfig) -> anyhow::Result<Self> {
        let state = AppState {
            queue: Producer::connect(
                &config.redis.url,
                &config.redis.queue_key,
                config.max_queue_depth,
            )
            .await?,
            signal: WorkerSignal::spawn(&config.worker_addr)?,
            max_body_bytes: config.max_body_bytes,
            max_batch_events: config.max_batch_events,
            limits: FieldLimits::default(),
        };
        let listener = TcpListener::bind(SocketAddr::new(config.host, config.port)).await?;
        // The OTLP receiver also listens on its conventional port, unless that is this one.
        let otlp_listener = if config.otlp_port == config.port && config.port != 0 {
            None
        } else {
            let otlp = TcpListener::bind(SocketAddr::new(config.host, config.otlp_port)).await?;
            tracing::info!(
                port = otlp.local_addr()?.port(),
                "OTLP/HTTP logs receiver bound (POST {})",
                otlp::LOGS_PATH
            );
            Some(otlp)
        };
        Ok(Self {
            listener,
            router: router(state.clone(), &config.api_keys),
            otlp_listener,
            otlp_router: otlp_router(state, &config.api_keys),
        })
    }

    pub fn port(&self) -> u16 {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
            .port()
    }

    /// Where the OTLP receiver listens besides the main port (`OTLP_PORT`).
    pub fn otlp_port(&self) -> u16 {
        match &self.otlp_listener {
            Some(listener) => listener
                .local_addr()
                .expect("a bound listener has an address")
                .port(),
            None => self.port(),
        }
    }

    /// Serves both ports until `shutdown` completes, then finishes in-flight requests.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stop, stopped) = tokio::sync::watch::channel(());
        // Completes once `stop` is dropped, for each server.
        let until_stopped = |mut stopped: tokio::sync::watch::Receiver<()>| async move {
            let _ = stopped.changed().await;
        };
        let main =
            traceflow_http::serve(self.listener, self.router, until_stopped(stopped.clone()));
        let otlp = async {
            match self.otlp_listener {
                Some(listener) => {
                    traceflow_http::serve(listener, self.otlp_router, until_stopped(stopped)).await
                }
                None => Ok(()),
            }
        };
        let signal = async move {
            shutdown.await;
            drop(stop);
        };
        let ((), main, otlp) = tokio::join!(signal, main, otlp);
        main.and(otlp)
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Traceflow ingestion",
        description = "Accepts log events (JSON, NDJSON, OTLP/HTTP) and queues them for storage. \
            With INGEST_API_KEYS set, /ingest and /v1/logs need `Authorization: Bearer <key>` \
            or `X-API-Key: <key>`; /health, /metrics and /openapi.json stay open."
    ),
    components(schemas(IngestBody, Accepted))
)]
struct IngestionApi;

/// The main port's routes, each documented in the OpenAPI document it serves.
fn router(state: AppState, api_keys: &ApiKeys) -> Router {
    let body_limit = state.max_body_bytes;
    let (ingest, mut document) = OpenApiRouter::with_openapi(IngestionApi::openapi())
        .routes(routes!(ingest))
        .routes(routes!(otlp::export_logs))
        .split_for_parts();
    let (open, open_document) = OpenApiRouter::new()
        .routes(routes!(health))
        .split_for_parts();
    document.merge(open_document);
    let routes = require_api_key(ingest, api_keys, "ingestion")
        // /health, /metrics and /openapi.json stay open for probes, scrapers and tools.
        .merge(open)
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state);
    propagate_trace_id(with_openapi(with_metrics(routes), document))
}

/// The `OTLP_PORT` listener: the OTLP receiver alone.
fn otlp_router(state: AppState, api_keys: &ApiKeys) -> Router {
    let body_limit = state.max_body_bytes;
    let export = Router::new().route(otlp::LOGS_PATH, post(otlp::export_logs));
    propagate_trace_id(with_metrics(
        require_api_key(export, api_keys, "ingestion (OTLP)")
            .layer(DefaultBodyLimit::max(body_limit))
            .with_state(state),
    ))
}

/// Queues `events` with one Redis round trip, or refuses them all (queue down, or full:
/// backpressure); then signals the worker. Shared by `/ingest` and `/v1/logs`.
pub(crate) async fn enqueue(
    state: &AppState,
    request_trace_id: &str,
    events: &[Event<'_>],
) -> Result<(), ApiError> {
    match state.queue.push(events).await? {
        Pushed::Queued { depth } => {
            metrics::counter!("traceflow_ingest_events_accepted_total")
                .increment(events.len() as u64);
            metrics::gauge!("traceflow_queue_depth").set(depth as f64);
        }
        Pushed::Full { depth } => {
            metrics::gauge!("traceflow_queue_depth").set(depth as f64);
            return Err(ApiError::QueueFull { depth });
        }
    }
    state.signal.notify(request_trace_id, events.len() as u32);
    tracing::debug!(trace_id = %request_trace_id, count = events.len(), "events queued");
    Ok(())
}

/// The body of `POST /ingest` with `application/json`: one event, or a batch of them.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // A schema only: bodies are parsed by `parse_body`.
enum IngestBody {
    One(IncomingEvent<'static>),
    Batch(Vec<IncomingEvent<'static>>),
}

/// The 202 answer: the seed's shape for one event, with a count for a batch.
#[derive(Serialize, utoipa::ToSchema)]
struct Accepted {
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
#[utoipa::path(
    post,
    path = "/ingest",
    tag = "ingestion",
    request_body(
        description = "One event or an array of them (`application/json`), or one event per line (`application/x-ndjson`)",
        content((IngestBody = "application/json"), (IncomingEvent = "application/x-ndjson")),
    ),
    responses(
        (status = 202, description = "Queued; the event will be stored", body = Accepted),
        (status = 400, description = "Malformed JSON or a broken rule, naming the field; a batch lists failing indexes", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key (when keys are configured)", body = ErrorBody),
        (status = 408, description = "The request took too long", body = ErrorBody),
        (status = 413, description = "Body over MAX_BODY_BYTES or more than MAX_BATCH_EVENTS events", body = ErrorBody),
        (status = 415, description = "Neither application/json nor application/x-ndjson", body = ErrorBody),
        (status = 503, description = "Redis unreachable or the queue full; nothing was queued, retry", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying"))),
    )
)]
async fn ingest(
    State(state): State<AppState>,
    TraceId(request_trace_id): TraceId,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let format = body_format(&headers).ok_or(ApiError::UnsupportedMediaType)?;
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge {
            limit: state.max_body_bytes,
        },
        _ => ApiError::InvalidEvent(rejection.body_text()),
    })?;
    let events = parse_body(
        format,
        &body,
        &request_trace_id,
        chrono::Utc::now(),
        &state.limits,
        state.max_batch_events,
    )
    .map_err(|error| match error {
        BodyError::Invalid(message) => ApiError::InvalidEvent(message),
        BodyError::InvalidEvents { total, failures } => ApiError::InvalidEvents { total, failures },
        BodyError::TooManyEvents { count, limit } => ApiError::TooManyEvents { count, limit },
    })?;

    enqueue(&state, &request_trace_id, events.as_slice()).await?;
    let answer = match events {
        Events::One(event) => Accepted {
            status: "accepted",
            count: None,
            trace_id: event.trace_id.into_owned(),
        },
        Events::Batch(events) => Accepted {
            status: "accepted",
            count: Some(events.len()),
            trace_id: request_trace_id,
        },
    };
    Ok((StatusCode::ACCEPTED, Json(answer)))
}

/// Whether the service and Redis answer.
#[utoipa::path(
    get,
    path = "/health",
    tag = "operations",
    responses(
        (status = 200, description = "Up", body = HealthBody),
        (status = 503, description = "Redis is down", body = HealthBody),
    )
)]
async fn health(State(state): State<AppState>) -> Response {
    health_response(state.queue.ping().await.map_err(|error| DependencyDown {
        dependency: "redis",
        error: error.to_string(),
    }))
}
