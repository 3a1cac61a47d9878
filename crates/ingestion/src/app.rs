//! The HTTP application: routes, shared state, and its life from bind to shutdown.

use crate::{
    ApiError, FieldLimits, WorkerSignal,
    body::{BodyError, BodyFormat, Events, parse_body},
    otlp,
};
use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, State, rejection::BytesRejection},
    http::{HeaderMap, StatusCode, header::CONTENT_TYPE},
    response::Response,
    routing::{get, post},
};
use serde::Serialize;
use std::{future::Future, net::SocketAddr};
use tokio::net::TcpListener;
use traceflow_config::ApiKeys;
use traceflow_config::IngestionConfig;
use traceflow_http::{
    DependencyDown, TraceId, health_response, propagate_trace_id, require_api_key, with_metrics,
};
use traceflow_queue::{LogEvent, Producer, Pushed};

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

fn router(state: AppState, api_keys: &ApiKeys) -> Router {
    let body_limit = state.max_body_bytes;
    let ingest = Router::new()
        .route("/ingest", post(ingest))
        .route(otlp::LOGS_PATH, post(otlp::export_logs));
    propagate_trace_id(with_metrics(
        // /health and /metrics stay open for probes and scrapers.
        require_api_key(ingest, api_keys, "ingestion")
            .route("/health", get(health))
            .layer(DefaultBodyLimit::max(body_limit))
            .with_state(state),
    ))
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
    events: &[LogEvent],
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

/// The 202 answer: the seed's shape for one event, with a count for a batch.
#[derive(Serialize)]
struct Accepted {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<usize>,
    trace_id: String,
}

/// The body's format, from its Content-Type (parameters such as charset ignored).
fn body_format(headers: &HeaderMap) -> Option<BodyFormat> {
    let mime = headers
        .get(CONTENT_TYPE)?
        .to_str()
        .ok()?
        .split(';')
        .next()?
        .trim()
        .to_ascii_lowercase();
    match mime.as_str() {
        "application/json" => Some(BodyFormat::Json),
        "application/x-ndjson" => Some(BodyFormat::Ndjson),
        _ => None,
    }
}

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
            trace_id: event.trace_id,
        },
        Events::Batch(events) => Accepted {
            status: "accepted",
            count: Some(events.len()),
            trace_id: request_trace_id,
        },
    };
    Ok((StatusCode::ACCEPTED, Json(answer)))
}

async fn health(State(state): State<AppState>) -> Response {
    health_response(state.queue.ping().await.map_err(|error| DependencyDown {
        dependency: "redis",
        error: error.to_string(),
    }))
}
