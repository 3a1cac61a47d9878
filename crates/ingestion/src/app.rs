//! The HTTP application: routes, shared state, and its life from bind to shutdown.

use crate::{
    WorkerSignal, elasticsearch,
    ingest::{self, Accepted, IngestBody},
    loki, otlp, syslog,
    tenants::{self, Tenants},
};
use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::Method,
    middleware,
    routing::{get, post},
};
use chrono::TimeDelta;
use std::{
    future::Future,
    io,
    net::{IpAddr, SocketAddr},
    pin::Pin,
};
use tokio::sync::watch;
use traceflow_access::Scope;
use traceflow_config::IngestionConfig;
use traceflow_event::{Limits, TimeWindow};
use traceflow_http::{
    AccessCheck, DependencyDown, HealthCheck, propagate_trace_id, require_access, service_router,
    with_metrics,
};
use traceflow_queue::{Producer, QueueLocation};
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
    /// The tenants' own limits and rate buckets.
    pub(crate) tenants: Tenants,
    /// What the Elasticsearch bulk API says it is (`ES_VERSION`).
    pub(crate) elasticsearch: elasticsearch::Cluster,
    /// `LOKI_PARSE_JSON_LINES`.
    pub(crate) loki_parse_json_lines: bool,
}

/// The ports ingestion listens on: the main one serves every HTTP protocol, the others one
/// protocol each, on the port its clients expect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    /// `INGESTION_PORT`.
    Main,
    /// `OTLP_PORT` (OTLP/HTTP).
    Otlp,
    /// `OTLP_GRPC_PORT`.
    OtlpGrpc,
    /// `ES_PORT`.
    Elasticsearch,
    /// `LOKI_PORT`.
    Loki,
    /// `SYSLOG_TCP_PORT`.
    SyslogTcp,
    /// `SYSLOG_UDP_PORT`.
    SyslogUdp,
}

/// Completes when the service shuts down: what a listener serves until.
#[derive(Clone)]
pub(crate) struct Shutdown(watch::Receiver<()>);

impl Shutdown {
    pub(crate) async fn wait(mut self) {
        // Completes once the sender is dropped.
        let _ = self.0.changed().await;
    }
}

type Serving = Pin<Box<dyn Future<Output = io::Result<()>> + Send>>;

/// A bound socket and what serves it until the shutdown.
pub(crate) struct Listener {
    port: Port,
    address: SocketAddr,
    serve: Box<dyn FnOnce(Shutdown) -> Serving + Send>,
}

impl Listener {
    pub(crate) fn new(
        port: Port,
        address: SocketAddr,
        serve: impl FnOnce(Shutdown) -> Serving + Send + 'static,
    ) -> Self {
        Self {
            port,
            address,
            serve: Box::new(serve),
        }
    }

    /// `router` on `host:number`; `variables` name the settings that chose the address.
    pub(crate) async fn http(
        port: Port,
        variables: &'static str,
        host: IpAddr,
        number: u16,
        router: Router,
    ) -> anyhow::Result<Self> {
        let listener = bind(variables, host, number).await?;
        let address = listener.local_addr()?;
        tracing::info!(?port, %address, "listening");
        Ok(Self::new(port, address, move |shutdown| {
            Box::pin(traceflow_http::serve(listener, router, shutdown.wait()))
        }))
    }
}

/// The ingestion service, bound to its ports and ready to serve.
pub struct Application {
    listeners: Vec<Listener>,
}

impl Application {
    /// Binds the ports (0 picks a free one) and prepares the Redis and worker clients.
    /// Neither Redis nor the worker has to be up yet.
    pub async fn build(config: IngestionConfig) -> anyhow::Result<Self> {
        for (variable, address) in config.redis.addresses() {
            traceflow_runtime::resolves(variable, address).await?;
        }
        let access = AccessCheck::new(
            "ingestion",
            config.keys_file.as_deref(),
            &config.api_keys,
            &[Scope::Ingest],
        )?;
        let state = AppState {
            queue: Producer::connect(
                &QueueLocation::from_config(&config.redis),
                config.max_queue_depth,
            )?,
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
            tenants: Tenants::new(access.clone()),
            elasticsearch: elasticsearch::Cluster::new(&config.es_version),
            loki_parse_json_lines: config.loki_parse_json_lines,
        };
        let host = config.host;
        let keys = &access;
        let main_router = router(state.clone(), keys);
        let mut listeners = vec![
            Listener::http(
                Port::Main,
                "BIND_HOST, INGESTION_PORT",
                host,
                config.port,
                main_router,
            )
            .await?,
        ];
        // The OTLP/HTTP receiver also listens on its conventional port, unless that is this one.
        if config.otlp_port != config.port || config.port == 0 {
            let otlp = Router::new().route(otlp::LOGS_PATH, post(otlp::export_logs));
            let router = dedicated_router(state.clone(), keys, otlp, Router::new());
            listeners.push(
                Listener::http(
                    Port::Otlp,
                    "BIND_HOST, OTLP_PORT",
                    host,
                    config.otlp_port,
                    router,
                )
                .await?,
            );
        }
        if let Some(number) = config.protocol_ports.elasticsearch {
            let router = elasticsearch::port_router(state.clone(), keys);
            listeners.push(
                Listener::http(
                    Port::Elasticsearch,
                    "BIND_HOST, ES_PORT",
                    host,
                    number,
                    router,
                )
                .await?,
            );
        }
        listeners.extend(syslog::listeners(&state, &config).await?);
        if let Some(number) = config.protocol_ports.otlp_grpc {
            listeners.push(otlp::grpc::listener(state.clone(), keys, host, number).await?);
        }
        if let Some(number) = config.protocol_ports.loki {
            let push = Router::new().route(loki::PUSH_PATH, post(loki::push));
            let ready = Router::new().route(loki::READY_PATH, get(loki::ready));
            let router = dedicated_router(state.clone(), keys, push, ready);
            listeners.push(
                Listener::http(Port::Loki, "BIND_HOST, LOKI_PORT", host, number, router).await?,
            );
        }
        Ok(Self { listeners })
    }

    /// The main port.
    pub fn port(&self) -> u16 {
        self.address(Port::Main)
            .expect("the main port is always bound")
            .port()
    }

    /// Where `port` listens: its own socket, the main one for a protocol sharing it, `None`
    /// for one turned off.
    pub fn address(&self, port: Port) -> Option<SocketAddr> {
        let own = |wanted: Port| {
            self.listeners
                .iter()
                .find(|listener| listener.port == wanted)
                .map(|listener| listener.address)
        };
        own(port).or_else(|| (port == Port::Otlp).then(|| own(Port::Main)).flatten())
    }

    /// Serves every port until `shutdown` completes, then finishes in-flight requests.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        let (stop, stopped) = watch::channel(());
        let serving: Vec<Serving> = self
            .listeners
            .into_iter()
            .map(|listener| (listener.serve)(Shutdown(stopped.clone())))
            .collect();
        let signal = async move {
            shutdown.await;
            drop(stop);
        };
        let ((), results) = tokio::join!(signal, futures::future::join_all(serving));
        results.into_iter().collect()
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Traceflow ingestion",
        description = "Accepts log events (JSON, NDJSON, OTLP/HTTP, the Elasticsearch bulk API \
            under /es, Loki's push API) and queues them for storage. With INGEST_API_KEYS or \
            KEYS_FILE set, /ingest, /v1/logs, /es and /loki/api/v1/push need \
            `Authorization: Bearer <key>` or `X-API-Key: <key>` of a key with the ingest scope \
            (401 without a known key, 403 without the scope); /health, /metrics and \
            /openapi.json stay open."
    ),
    components(schemas(IngestBody, Accepted))
)]
struct IngestionApi;

/// The main port's routes, each documented in the OpenAPI document it serves.
fn router(state: AppState, access: &AccessCheck) -> Router {
    let routes = OpenApiRouter::with_openapi(IngestionApi::openapi())
        .routes(routes!(ingest::ingest))
        .routes(routes!(otlp::export_logs))
        .nest(elasticsearch::PREFIX, elasticsearch::routes())
        .routes(routes!(loki::push))
        .route_layer(middleware::from_fn(tenants::serve_as_granted))
        .layer(DefaultBodyLimit::max(state.max_body_bytes));
    let health = HealthCheck::new(state.queue.clone(), |queue: Producer| async move {
        queue
            .health()
            .await
            .map(|down| down.iter().map(ToString::to_string).collect())
            .map_err(|error| DependencyDown {
                dependency: "redis",
                error: error.to_string(),
            })
    });
    elasticsearch::conventions(
        elasticsearch::PREFIX,
        service_router(access, ingest_scope, routes, state, health),
    )
}

/// Every ingest route and protocol needs the ingest scope, whatever the method.
fn ingest_scope(_: &Method) -> Scope {
    Scope::Ingest
}

/// A protocol's own port: its routes alone, with the API keys, metrics and trace ids of the
/// main port; `open` routes (probes, as `/health` is on the main port) need no key.
pub(crate) fn dedicated_router(
    state: AppState,
    access: &AccessCheck,
    routes: Router<AppState>,
    open: Router<AppState>,
) -> Router {
    let body_limit = state.max_body_bytes;
    propagate_trace_id(with_metrics(
        require_access(
            routes.route_layer(middleware::from_fn(tenants::serve_as_granted)),
            access,
            ingest_scope,
        )
        .merge(open)
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state),
    ))
}
