//! The ingestion service: `POST /ingest` validates a log event, queues it in Redis and
//! signals the worker; `GET /health` reports whether Redis answers.

use ingestion::Application;
use traceflow_config::IngestionConfig;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    traceflow_runtime::init_tracing();
    let config = IngestionConfig::from_env()?;
    tracing::info!(?config, "starting ingestion");

    let app = Application::build(config).await?;
    tracing::info!(port = app.port(), "ingestion listening");
    app.run_until(traceflow_runtime::shutdown_signal()).await?;

    tracing::info!("ingestion stopped");
    Ok(())
}
