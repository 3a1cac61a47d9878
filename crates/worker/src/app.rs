//! The worker application: connections, migrations, the gRPC and HTTP servers and the
//! consumer loop.

use crate::{consumer::ConsumerLoop, retention, signal::SignalService};
use axum::{Router, extract::State, response::Response, routing::get};
use std::{future::Future, sync::Arc, time::Duration};
use tokio::{net::TcpListener, sync::Notify};
use tokio_util::sync::CancellationToken;
use tonic::transport::{Server, server::TcpIncoming};
use traceflow_config::WorkerConfig;
use traceflow_http::{DependencyDown, health_response, with_metrics};
use traceflow_proto::log_service_server::LogServiceServer;
use traceflow_queue::Consumer;
use traceflow_runtime::{Backoff, bind};
use traceflow_storage::Storage;

/// The worker, connected, migrated and bound to its ports.
pub struct Application {
    grpc_listener: TcpListener,
    http_listener: TcpListener,
    heartbeat_ttl: Duration,
    retention_days: u32,
    /// `WORKER_CONCURRENCY` loops, each its own consumer (id, processing list, heartbeat).
    consumers: Vec<ConsumerLoop>,
    wake: Arc<Notify>,
}

impl Application {
    /// Waits for ClickHouse (retrying with backoff), applies pending migrations, binds the
    /// gRPC and HTTP ports. Redis need not be up yet: the loop waits for it.
    pub async fn build(config: WorkerConfig) -> anyhow::Result<Self> {
        traceflow_runtime::resolves("REDIS_ADDR", &config.redis.url).await?;
        traceflow_runtime::resolves("CLICKHOUSE_URL", &config.clickhouse.url).await?;
        // Bound first, so a port in use is said at once, not after ClickHouse is up.
        let grpc_listener = bind("BIND_HOST, GRPC_PORT", config.host, config.grpc_port).await?;
        let http_listener =
            bind("BIND_HOST, WORKER_HTTP_PORT", config.host, config.http_port).await?;
        let storage = connect_storage(&config).await;
        let applied = storage.migrate().await?;
        tracing::info!(?applied, version = %storage.version(), "schema up to date");

        let process_id = format!(
            "{}-{}",
            std::process::id(),
            &traceflow_traceid::generate()[..8]
        );
        let wake = Arc::new(Notify::new());
        let mut consumers = Vec::with_capacity(config.concurrency);
        for index in 0..config.concurrency {
            let worker_id = format!("{process_id}-{index}");
            let queue =
                Consumer::connect(&config.redis.url, &config.redis.queue_key, &worker_id).await?;
            tracing::info!(%worker_id, queue = %config.redis.queue_key, "consumer ready");
            consumers.push(ConsumerLoop {
                queue,
                storage: storage.clone(),
                batch_size: config.batch_size,
                max_batch_size: config.max_batch_size,
                flush_interval: config.flush_interval,
                poll_interval: config.poll_interval,
                wake: wake.clone(),
            });
        }

        Ok(Self {
            grpc_listener,
            http_listener,
            heartbeat_ttl: config.heartbeat_ttl,
            retention_days: config.retention_days,
            consumers,
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
        let first = &self.consumers[0];
        let http = tokio::spawn(traceflow_http::serve(
            self.http_listener,
            http_router(first.queue.clone(), first.storage.clone()),
            stop.clone().cancelled_owned(),
        ));
        let retention = tokio::spawn(retention::enforce(
            first.storage.clone(),
            self.retention_days,
            stop.clone(),
        ));

        let queues: Vec<Consumer> = self.consumers.iter().map(|c| c.queue.clone()).collect();
        // Alive before the first claim, so no other worker takes what this one holds.
        beat(&queues, self.heartbeat_ttl).await;
        let liveness = tokio::spawn(keep_alive(queues.clone(), self.heartbeat_ttl, stop.clone()));
        let mut loops = tokio::task::JoinSet::new();
        for consumer in self.consumers {
            loops.spawn(consumer.run(stop.clone()));
        }
        while let Some(finished) = loops.join_next().await {
            finished?;
        }

        stop.cancel();
        retention.await?;
        liveness.await?;
        for queue in queues {
            if let Err(error) = queue.retire().await {
                tracing::warn!(%error, "could not remove the heartbeat; another worker reclaims after it expires");
            }
        }
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
fn http_router(queue: Consumer, storage: Storage) -> Router {
    with_metrics(
        Router::new()
            .route("/health", get(health))
            .with_state((queue, storage)),
    )
}

async fn health(State((queue, storage)): State<(Consumer, Storage)>) -> Response {
    let check = match queue.ping().await {
        Err(error) => Err(DependencyDown {
            dependency: "redis",
            error: error.to_string(),
        }),
        Ok(()) => storage.ping().await.map_err(|error| DependencyDown {
            dependency: "clickhouse",
            error: error.to_string(),
        }),
    };
    health_response(check)
}

/// Keeps the heartbeats of this process's consumers fresh, hands dead workers' batches
/// back to the queue and reports the queue's depth.
async fn keep_alive(queues: Vec<Consumer>, ttl: Duration, stop: CancellationToken) {
    let mut ticks = tokio::time::interval(ttl / 3);
    let mut tick = 0u64;
    // Any one of this process's consumers can do the queue-wide work.
    let queue = &queues[0];
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = stop.cancelled() => return,
        }
        beat(&queues, ttl).await;
        // Reclaim at start, then once per TTL.
        if tick.is_multiple_of(3) {
            match queue.reclaim_orphans().await {
                Ok(reclaimed) => metrics::counter!("traceflow_worker_reclaimed_events_total")
                    .increment(reclaimed),
                Err(error) => tracing::warn!(%error, "reclaiming dead workers' batches failed"),
            }
        }
        if let Ok(depth) = queue.depth().await {
            metrics::gauge!("traceflow_queue_depth").set(depth as f64);
        }
        tick += 1;
    }
}

/// Refreshes the heartbeat of each of this process's consumers for `ttl`.
async fn beat(queues: &[Consumer], ttl: Duration) {
    for queue in queues {
        if let Err(error) = queue.heartbeat(ttl).await {
            tracing::warn!(%error, "heartbeat failed; redis may be down");
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
