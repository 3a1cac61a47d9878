//! The HTTP application: routes, shared state, and its life from bind to shutdown.

use crate::{ApiError, parse_log_query};
use axum::{
    Json, Router,
    extract::{RawQuery, State},
    response::Response,
    routing::get,
};
use serde::Serialize;
use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};
use tokio::{net::TcpListener, sync::OnceCell};
use traceflow_config::{ClickHouseConfig, QueryConfig};
use traceflow_http::{DependencyDown, health_response, propagate_trace_id, with_metrics};
use traceflow_queue::LogEvent;
use traceflow_storage::{Storage, StorageError};

/// Longest a search may take before the answer is a 503.
const QUERY_TIMEOUT: Duration = Duration::from_secs(30);

/// ClickHouse, connected on first use: the service starts (and reports 503) while
/// ClickHouse is still down, and needs no restart when it comes up.
#[derive(Clone)]
struct AppState {
    config: Arc<ClickHouseConfig>,
    storage: Arc<OnceCell<Storage>>,
}

impl AppState {
    async fn storage(&self) -> Result<&Storage, StorageError> {
        self.storage
            .get_or_try_init(|| Storage::connect(&self.config))
            .await
    }
}

/// The query service, bound to its port and ready to serve.
pub struct Application {
    listener: TcpListener,
    router: Router,
}

impl Application {
    /// Binds the port (0 picks a free one). ClickHouse need not be up yet.
    pub async fn build(config: QueryConfig) -> anyhow::Result<Self> {
        let state = AppState {
            config: Arc::new(config.clickhouse),
            storage: Arc::new(OnceCell::new()),
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
    propagate_trace_id(with_metrics(
        Router::new()
            .route("/logs", get(search_logs))
            .route("/health", get(health))
            .with_state(state),
    ))
}

#[derive(Serialize)]
struct SearchAnswer {
    count: usize,
    logs: Vec<LogEvent>,
}

async fn search_logs(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<SearchAnswer>, ApiError> {
    let query = parse_log_query(raw.as_deref()).map_err(ApiError::BadParameter)?;
    let storage = state.storage().await?;
    let logs = tokio::time::timeout(QUERY_TIMEOUT, storage.search(&query))
        .await
        .map_err(|_| ApiError::Timeout(QUERY_TIMEOUT.as_secs()))??;
    Ok(Json(SearchAnswer {
        count: logs.len(),
        logs,
    }))
}

async fn health(State(state): State<AppState>) -> Response {
    let check = match state.storage().await {
        Ok(storage) => storage.ping().await,
        Err(error) => Err(error),
    };
    health_response(check.map_err(|error| DependencyDown {
        dependency: "clickhouse",
        error: error.to_string(),
    }))
}
