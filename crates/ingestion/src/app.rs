//! The HTTP application: routes, shared state, and its life from bind to shutdown.

use crate::{
    WorkerSignal,
    ingest::{self, Accepted, IngestBody},
    otlp,
};
use axum::{Router, extract::DefaultBodyLimit, routing::post};
use chrono::TimeDelta;
use std::future::Future;
use tokio::net::TcpListener;
use traceflow_config::{ApiKeys, IngestionConfig};
use traceflow_event::{Limits, TimeWindow};
use traceflow_http::{
    DependencyDown, HealthCheck, propagate_trace_id, require_api_key, service_router, with_metrics,
};
use traceflow_queue::{Producer, QueueKeys};
use traceflow_runtime::bind;
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) queue: Producer,
    pub(crate) signal: WorkerSignal,
    pub(crate) max_body_bytes: usize,
    pub(crate) max_batch_events: usize,
    pub(crate) limits: Limits,
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
        traceflow_runtime::resolves("REDIS_ADDR", &config.redis.url).await?;
        let state = AppState {
            queue: Producer::connect(
                &config.redis.url,
                &QueueKeys::new(config.redis.queue_key.as_str()),
                config.max_queue_depth,
            )
            .await?,
            signal: WorkerSignal::spawn(&config.worker_addr)?,
            max_body_bytes: config.max_body_bytes,
            max_batch_events: config.max_batch_events,
            limits: Limits {
                window: TimeWindow {
                    retention_days: config.retention_days,
                    max_future_skew: TimeDelta::from_std(config.max_future_skew)?,
                },
                ..Limits::default()
            },
        };
        let listener = bind("BIND_HOST, INGESTION_PORT", config.host, config.port).await?;
        // The OTLP receiver also listens on its conventional port, unless that is this one.
        let otlp_listener = if config.otlp_port == config.port && config.port != 0 {
            None
        } else {
            let otlp = bind("BIND_HOST, OTLP_PORT", config.host, config.otlp_port).await?;
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
    let routes = OpenApiRouter::with_openapi(IngestionApi::openapi())
        .routes(routes!(ingest::ingest))
        .routes(routes!(otlp::export_logs))
        .layer(DefaultBodyLimit::max(state.max_body_bytes));
    let health = HealthCheck::new(state.queue.clone(), |queue: Producer| async move {
        queue.ping().await.map_err(|error| DependencyDown {
            dependency: "redis",
            error: error.to_string(),
        })
    });
    service_router("ingestion", api_keys, routes, state, health)
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
