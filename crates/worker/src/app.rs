//! The worker application: connections, migrations, the gRPC server and the consumer loop.

use crate::{consumer::ConsumerLoop, signal::SignalService};
use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};
use tokio::{net::TcpListener, sync::Notify};
use tokio_util::sync::CancellationToken;
use tonic::transport::{Server, server::TcpIncoming};
use traceflow_config::WorkerConfig;
use traceflow_proto::log_service_server::LogServiceServer;
use traceflow_queue::Consumer;
use traceflow_runtime::Backoff;
use traceflow_storage::Storage;

/// A worker's heartbeat lives this long; a worker silent for longer is presumed dead and
/// its held batch goes back to the queue.
const HEARTBEAT_TTL: Duration = Duration::from_secs(15);

/// The worker, connected, migrated and bound to its gRPC port.
pub struct Application {
    listener: TcpListener,
    consumer: ConsumerLoop,
}

impl Application {
    /// Waits for ClickHouse (retrying with backoff), applies pending migrations, binds the
    /// gRPC port. Redis need not be up yet: the loop waits for it.
    pub async fn build(config: WorkerConfig) -> anyhow::Result<Self> {
        let storage = connect_storage(&config).await;
        let applied = storage.migrate().await?;
        tracing::info!(?applied, version = %storage.version(), "schema up to date");

        let worker_id = format!(
            "{}-{}",
            std::process::id(),
            &traceflow_traceid::generate()[..8]
        );
        let queue =
            Consumer::connect(&config.redis.url, &config.redis.queue_key, &worker_id).await?;
        tracing::info!(%worker_id, queue = %config.redis.queue_key, "consumer ready");

        let listener = TcpListener::bind(SocketAddr::new(config.host, config.grpc_port)).await?;
        Ok(Self {
            listener,
            consumer: ConsumerLoop {
                queue,
                storage,
                batch_size: config.batch_size,
                poll_interval: config.poll_interval,
                wake: Arc::new(Notify::new()),
            },
        })
    }

    pub fn grpc_port(&self) -> u16 {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
            .port()
    }

    /// Runs until `shutdown` completes: then stops taking batches, finishes the one being
    /// inserted, and stops serving gRPC.
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
                wake: self.consumer.wake.clone(),
            }))
            .serve_with_incoming_shutdown(
                TcpIncoming::from(self.listener),
                stop.clone().cancelled_owned(),
            );
        let grpc = tokio::spawn(grpc);

        // Alive before the first claim, so no other worker takes what this one holds.
        if let Err(error) = self.consumer.queue.heartbeat(HEARTBEAT_TTL).await {
            tracing::warn!(%error, "first heartbeat failed; redis may be down");
        }
        let liveness = tokio::spawn(keep_alive(self.consumer.queue.clone(), stop.clone()));
        self.consumer.run(stop.clone()).await;

        stop.cancel();
        let queue = liveness.await?;
        if let Err(error) = queue.retire().await {
            tracing::warn!(%error, "could not remove the heartbeat; another worker reclaims after it expires");
        }
        grpc.await??;
        Ok(())
    }
}

/// Keeps this worker's heartbeat fresh and hands dead workers' batches back to the queue.
/// Returns the consumer handle when stopped, for the final clean-up.
async fn keep_alive(queue: Consumer, stop: CancellationToken) -> Consumer {
    let mut ticks = tokio::time::interval(HEARTBEAT_TTL / 3);
    let mut tick = 0u64;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = stop.cancelled() => return queue,
        }
        if let Err(error) = queue.heartbeat(HEARTBEAT_TTL).await {
            tracing::warn!(%error, "heartbeat failed");
        }
        // Reclaim at start, then once per TTL.
        if tick.is_multiple_of(3)
            && let Err(error) = queue.reclaim_orphans().await
        {
            tracing::warn!(%error, "reclaiming dead workers' batches failed");
        }
        tick += 1;
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
