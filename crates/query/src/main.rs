//! The query service: `GET /logs` answers filtered, paginated searches over the stored
//! events, newest first; `GET /health` reports whether ClickHouse answers.

use query::Application;
use std::process::ExitCode;
use traceflow_config::QueryConfig;

#[tokio::main]
async fn main() -> ExitCode {
    traceflow_runtime::init_tracing();
    traceflow_runtime::exit_code("query", async {
        let config = QueryConfig::from_env()?;
        tracing::info!(?config, "starting query");

        let app = Application::build(config).await?;
        tracing::info!(port = app.port(), "query listening");
        app.run_until(traceflow_runtime::shutdown_signal()).await?;

        tracing::info!("query stopped");
        Ok(())
    })
    .await
}
