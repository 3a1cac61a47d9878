//! The worker: applies migrations, then moves queued events from Redis into ClickHouse in
//! batches, woken by the ingestion service's gRPC signal or every POLL_INTERVAL.

use std::process::ExitCode;
use traceflow_config::WorkerConfig;
use worker::Application;

#[tokio::main]
async fn main() -> ExitCode {
    traceflow_runtime::init_tracing();
    traceflow_runtime::exit_code("worker", async {
        let config = WorkerConfig::from_env()?;
        tracing::info!(?config, "starting worker");

        // Waiting for ClickHouse can take a while at first start; a signal ends it too.
        let app = tokio::select! {
            app = Application::build(config) => app?,
            () = traceflow_runtime::shutdown_signal() => return Ok(()),
        };
        tracing::info!(grpc_port = app.grpc_port(), "worker listening");
        app.run_until(traceflow_runtime::shutdown_signal()).await?;

        tracing::info!("worker stopped");
        Ok(())
    })
    .await
}
