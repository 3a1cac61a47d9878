//! The ingestion service: `POST /ingest` validates a log event, queues it in Redis and
//! signals the worker; `GET /health` reports whether Redis answers.

use ingestion::Application;
use std::process::ExitCode;
use traceflow_config::IngestionConfig;

#[tokio::main]
async fn main() -> ExitCode {
    traceflow_runtime::init_tracing();
    traceflow_runtime::exit_code("ingestion", async {
        let config = IngestionConfig::from_env()?;
        tracing::info!(?config, "starting ingestion");

        let app = Application::build(config).await?;
        tracing::info!(port = app.port(), "ingestion listening");
        app.run_until(traceflow_runtime::shutdown_signal()).await?;

        tracing::info!("ingestion stopped");
        Ok(())
    })
    .await
}
