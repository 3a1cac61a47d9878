//! The HTTP application: routes, shared state, and its life from bind to shutdown.

use crate::openapi::QueryApi;
use crate::{
    clickhouse::LazyStorage, context, explorer, export, facets, logs, stats, tail, tenants,
};
use axum::{Router, http::Method};
use std::{future::Future, sync::Arc, time::Duration};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use traceflow_access::Scope;
use traceflow_config::QueryConfig;
use traceflow_http::{AccessCheck, DependencyDown, HealthCheck, service_router_with_open};
use traceflow_runtime::bind;
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) storage: LazyStorage,
    pub(crate) tails: Arc<tail::TailHub>,
    /// How long a live tail may be silent before a heartbeat comment.
    pub(crate) heartbeat: Duration,
    /// Cancelled at shutdown: live tails and exports end, so that draining does not wait for
    /// them.
    pub(crate) stop: CancellationToken,
}

/// The query service, bound to its port and ready to serve.
pub struct Application {
    listener: TcpListener,
    router: Router,
    stop: CancellationToken,
}

impl Application {
    /// Binds the port (0 picks a free one). ClickHouse need not be up yet.
    pub async fn build(config: QueryConfig) -> anyhow::Result<Self> {
        traceflow_runtime::resolves("CLICKHOUSE_URL", &config.clickhouse.url).await?;
        let storage = LazyStorage::new(config.clickhouse);
        let stop = CancellationToken::new();
        let state = AppState {
            tails: tail::TailHub::new(storage.clone(), stop.clone()),
            storage,
            heartbeat: config.tail_heartbeat,
            stop: stop.clone(),
        };
        // The environment's keys could delete before scopes existed; they still can.
        let access = AccessCheck::new(
            "query",
            config.keys_file.as_deref(),
            &config.api_keys,
            &[Scope::Query, Scope::Admin],
        )?;
        let listener = bind("BIND_HOST, QUERY_PORT", config.host, config.port).await?;
        Ok(Self {
            listener,
            router: router(state, &access),
            stop,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
            .port()
    }

    /// Serves until `shutdown` completes, then ends live tails and finishes in-flight
    /// requests.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let stop = self.stop;
        let shutdown = async move {
            shutdown.await;
            stop.cancel();
        };
        traceflow_http::serve(self.listener, self.router, shutdown).await
    }
}

/// The routes, each documented in the OpenAPI document the service serves.
fn router(state: AppState, access: &AccessCheck) -> Router {
    let routes = OpenApiRouter::with_openapi(QueryApi::openapi())
        .routes(routes!(logs::search, logs::delete))
        .routes(routes!(logs::count))
        .routes(routes!(stats::stats))
        .routes(routes!(tail::tail))
        .routes(routes!(stats::services))
        .routes(routes!(facets::facets))
        .routes(routes!(context::context))
        .routes(routes!(export::export))
        .routes(routes!(tenants::tenants));
    // The explorer asks for the key itself: its page and files are open.
    let open = OpenApiRouter::new()
        .routes(routes!(explorer::page))
        .routes(routes!(explorer::asset));
    let health = HealthCheck::new(state.storage.clone(), |storage: LazyStorage| async move {
        let check = match storage.get().await {
            Ok(storage) => storage.health().await,
            Err(error) => Err(error),
        };
        check
            .map(|down| down.iter().map(ToString::to_string).collect())
            .map_err(|error| DependencyDown {
                dependency: "clickhouse",
                error: error.to_string(),
            })
    });
    service_router_with_open(access, query_scope, routes, open, state, health)
}

/// Reading needs the query scope; `DELETE /logs`, which changes stored data, the admin scope.
fn query_scope(method: &Method) -> Scope {
    if method == Method::DELETE {
        Scope::Admin
    } else {
        Scope::Query
    }
}
