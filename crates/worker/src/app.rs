//! The worker application: connections, migrations, the gRPC and HTTP servers, the
//! consumer loops and the process's queue-wide upkeep.

use crate::{
    consumer::{Batching, ConsumerLoop},
    retention,
    signal::SignalService,
    upkeep::{Orphans, Upkeep},
};
use axum::{Router, extract::State, response::Response, routing::get};
use std::{future::Future, sync::Arc, time::Duration};
use tokio::{net::TcpListener, sync::Notify};
use tokio_util::sync::CancellationToken;
use tonic::transport::{Server, server::TcpIncoming};
use traceflow_config::WorkerConfig;
use traceflow_http::{DependencyDown, health_response, with_metrics};
use traceflow_proto::log_service_server::LogServiceServer;
use traceflow_queue::{Consumer, Queue, QueueLocation};
use traceflow_runtime::{Backoff, bind};
use traceflow_storage::{RetentionPolicy, Storage, StorageError};

/// The worker, connected, migrated and bound to its ports.
pub struct Application {
    grpc_listener: TcpListener,
    http_listener: TcpListener,
    /// `WORKER_CONCURRENCY` loops, each its own consumer (id, processing list, heartbeat).
    consumers: Vec<ConsumerLoop>,
    upkeep: Upkeep,
    /// What `/health` checks.
    queue: Queue,
    storage: Storage,
    wake: Arc<Notify>,
}

impl Application {
    /// Waits for ClickHouse (retrying with backoff), applies pending migrations, binds the
    /// gRPC and HTTP ports. Redis need not be up yet: the loop waits for it.
    pub async fn build(config: WorkerConfig) -> anyhow::Result<Self> {
        for (variable, address) in config.redis.addresses() {
            traceflow_runtime::resolves(variable, address).await?;
        }
        traceflow_runtime::resolves("CLICKHOUSE_URL", &config.clickhouse.url).await?;
        // Bound first, so a port in use is said at once, not after ClickHouse is up.
        let grpc_listener = bind("BIND_HOST, GRPC_PORT", config.host, config.grpc_port).await?;
        let http_listener =
            bind("BIND_HOST, WORKER_HTTP_PORT", config.host, config.http_port).await?;
        let storage = connect_storage(&config).await;
        let applied = migrate(&storage).await?;
        tracing::info!(?applied, version = %storage.version(), "schema up to date");
        // Before any consumer inserts (see `retention`).
        let retention = RetentionPolicy {
            days: config.retention_days,
            tenants: config
                .tenant_retention_days
                .iter()
                .map(|(tenant, days)| (tenant.to_string(), *days))
                .collect(),
        };
        let retention_due = retention::apply_at_start(&storage, &retention).await;

        let location = QueueLocation::from_config(&config.redis);
        if location.shards.len() > 1 {
            let shards: Vec<&str> = location.shards.iter().map(|keys| keys.queue()).collect();
            tracing::info!(?shards, "the queue's shards");
        }
        let process_id = format!(
            "{}-{}",
            std::process::id(),
            &traceflow_traceid::generate()[..8]
        );
        let batching = Batching {
            batch_size: config.batch_size,
            max_batch_size: config.max_batch_size,
            flush_interval: config.flush_interval,
            insert_interval: config.insert_interval,
            poll_interval: config.poll_interval,
        };
        let wake = Arc::new(Notify::new());
        let orphans = Arc::new(Orphans::default());
        let mut consumers = Vec::with_capacity(config.concurrency);
        for index in 0..config.concurrency {
            let worker_id = format!("{process_id}-{index}");
            let queue = Consumer::connect(&location, &worker_id)?;
            tracing::info!(%worker_id, queue = location.name(), "consumer ready");
            consumers.push(ConsumerLoop {
                queue,
                storage: storage.clone(),
                batching,
                wake: wake.clone(),
                orphans: orphans.clone(),
            });
        }
        let queue = Queue::connect(&location)?;
        let upkeep = Upkeep {
            queue: queue.clone(),
            consumers: consumers.iter().map(|c| c.queue.clone()).collect(),
            heartbeat_ttl: config.heartbeat_ttl,
            orphans,
            wake: wake.clone(),
            storage: storage.clone(),
            retention,
            retention_due,
        };

        Ok(Self {
            grpc_listener,
            http_listener,
            consumers,
            upkeep,
            queue,
            storage,
            wake,
        })
    }

    pub fn grpc_port(&self) -> u16 {
        port(&self.grpc_listener)
    }

    pub fn http_port(&self) -> u16 {
        port(&self.http_listener)
    }

    /// Runs until `shutdown` completes: then stops taking batches, finishes the ones being
    /// inserted, and stops serving.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let stop = CancellationToken::new();
        tokio::spawn({
            let stop = stop.clone();
            async move {
                shutdown.await;
                stop.cancel();
            }
        });

        let (health, health_service) = tonic_health::server::health_reporter();
        health
            .set_serving::<LogServiceServer<SignalService>>()
            .await;
        let grpc = Server::builder()
            .add_service(health_service)
            .add_service(LogServiceServer::new(SignalService {
                wake: self.wake.clone(),
            }))
            .serve_with_incoming_shutdown(
                TcpIncoming::from(self.grpc_listener),
                stop.clone().cancelled_owned(),
            );
        let grpc = tokio::spawn(grpc);
        let http = tokio::spawn(traceflow_http::serve(
            self.http_listener,
            http_router(self.queue, self.storage),
            stop.clone().cancelled_owned(),
        ));

        self.upkeep.announce().await;
        // The upkeep outlives the loops: their heartbeats last while they finish a batch.
        let upkeep_stop = CancellationToken::new();
        let upkeep = tokio::spawn(self.upkeep.run(upkeep_stop.clone()));
        let mut loops = tokio::task::JoinSet::new();
        for consumer in self.consumers {
            loops.spawn(consumer.run(stop.clone()));
        }
        while let Some(finished) = loops.join_next().await {
            finished?;
        }

        stop.cancel();
        upkeep_stop.cancel();
        upkeep.await?;
        grpc.await??;
        http.await??;
        Ok(())
    }
}

fn port(listener: &TcpListener) -> u16 {
    listener
        .local_addr()
        .expect("a bound listener has an address")
        .port()
}

/// `/health` (Redis and ClickHouse) and `/metrics`.
fn http_router(queue: Queue, storage: Storage) -> Router {
    with_metrics(
        Router::new()
            .route("/health", get(health))
            .with_state((queue, storage)),
    )
}

async fn health(State((queue, storage)): State<(Queue, Storage)>) -> Response {
    let check = match queue.health().await {
        Err(error) => Err(DependencyDown {
            dependency: "redis",
            error: error.to_string(),
        }),
        Ok(redis_down) => storage
            .health()
            .await
            .map(|clickhouse_down| {
                let redis_down = redis_down.iter().map(ToString::to_string);
                let clickhouse_down = clickhouse_down.iter().map(ToString::to_string);
                redis_down.chain(clickhouse_down).collect()
            })
            .map_err(|error| DependencyDown {
                dependency: "clickhouse",
                error: error.to_string(),
            }),
    };
    health_response(check)
}

/// Applies the pending migrations, waiting out an outage of ClickHouse meanwhile (a node
/// restarting, a connection it closed) as the connection does; a statement refused stops
/// the worker.
async fn migrate(storage: &Storage) -> Result<Vec<u32>, StorageError> {
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
    loop {
        match storage.migrate().await {
            Err(error) if error.is_outage() => {
                let delay = backoff.next_delay();
                tracing::warn!(%error, attempt = backoff.attempt(), retry_in_ms = delay.as_millis() as u64, "migrations wait for clickhouse");
                tokio::time::sleep(delay).await;
            }
            applied => return applied,
        }
    }
}

async fn connect_storage(config: &WorkerConfig) -> Storage {
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
    loop {
        match Storage::connect(&config.clickhouse).await {
            Ok(storage) => return storage,
            Err(error) => {
                let delay = backoff.next_delay();
                tracing::warn!(%error, attempt = backoff.attempt(), retry_in_ms = delay.as_millis() as u64, "clickhouse not reachable yet");
                tokio::time::sleep(delay).await;
            }
        }
    }
}
