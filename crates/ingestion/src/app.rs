//! The HTTP application: routes, shared state, and its life from bind to shutdown.

use crate::{ApiError, FieldLimits, WorkerSignal, parse_event};
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
use traceflow_config::IngestionConfig;
use traceflow_http::{DependencyDown, TraceId, health_response, propagate_trace_id, with_metrics};
use traceflow_queue::{Producer, Pushed};

#[derive(Clone)]
struct AppState {
    queue: Producer,
    signal: WorkerSignal,
    max_body_bytes: usize,
    limits: FieldLimits,
}

/// The ingestion service, bound to its port and ready to serve.
pub struct Application {
    listener: TcpListener,
    router: Router,
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
            limits: FieldLimits::default(),
        };
        let listener = TcpListener::bind(SocketAddr::new(config.host, config.port)).await?;
        Ok(Self {
            listener,
            router: router(state),
        })
    }

    pub fn port(&self) -> u16 {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
            .port()
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        traceflow_http::serve(self.listener, self.router, shutdown).await
    }
}

fn router(state: AppState) -> Router {
    let body_limit = state.max_body_bytes;
    propagate_trace_id(with_metrics(
        Router::new()
            .route("/ingest", post(ingest))
            .route("/health", get(health))
            .layer(DefaultBodyLimit::max(body_limit))
            .with_state(state),
    ))
}

#[derive(Serialize)]
struct Accepted {
    status: &'static str,
    trace_id: String,
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

async fn ingest(
    State(state): State<AppState>,
    TraceId(request_trace_id): TraceId,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    if !is_json(&headers) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge {
            limit: state.max_body_bytes,
        },
        _ => ApiError::InvalidEvent(rejection.body_text()),
    })?;
    let event = parse_event(&body, &request_trace_id, chrono::Utc::now(), &state.limits)
        .map_err(ApiError::InvalidEvent)?;
    match state.queue.push(std::slice::from_ref(&event)).await? {
        Pushed::Queued { depth } => {
            metrics::counter!("traceflow_ingest_events_accepted_total").increment(1);
            metrics::gauge!("traceflow_queue_depth").set(depth as f64);
        }
        Pushed::Full { depth } => {
            metrics::gauge!("traceflow_queue_depth").set(depth as f64);
            return Err(ApiError::QueueFull { depth });
        }
    }
    state.signal.notify(&request_trace_id, 1);
    tracing::debug!(event_id = %event.id, service = %event.service, trace_id = %event.trace_id, "event queued");
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            status: "accepted",
            trace_id: event.trace_id,
        }),
    ))
}

async fn health(State(state): State<AppState>) -> Response {
    health_response(state.queue.ping().await.map_err(|error| DependencyDown {
        dependency: "redis",
        error: error.to_string(),
    }))
}
