//! Start-up and shutdown pieces every Traceflow binary shares.

mod backoff;
mod startup;

pub use backoff::Backoff;
pub use startup::{StartError, bind, bind_udp, exit_code, resolves};

use std::io::IsTerminal;
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

/// Every binary's allocator (each links this crate): the services allocate and free small
/// buffers per request on several threads, where glibc's malloc spent a sixth of
/// ingestion's CPU. mimalloc 2 rather than 3, which held a third more memory at its peak
/// (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Structured logs to stdout. `RUST_LOG` picks the level (default `info`);
/// `LOG_FORMAT=json` switches from human-readable lines to one JSON object per event.
pub fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("json"));
    let registry = tracing_subscriber::registry().with(filter);
    // Colours only for a terminal, not for log files and collectors.
    let ansi = std::io::stdout().is_terminal();
    // `try_init` so tests that start several services in one process do not panic.
    let _ = if json {
        registry
            .with(fmt::layer().json().flatten_event(true))
            .try_init()
    } else {
        registry.with(fmt::layer().with_ansi(ansi)).try_init()
    };
}

/// Completes on Ctrl-C or SIGTERM, whichever comes first.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        tokio::signal::ctrl_c()
            .await
            .expect("failed to install the Ctrl-C handler");
    };
    #[cfg(unix)]
    let terminate = async {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("failed to install the SIGTERM handler")
            .recv()
            .await;
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();

    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received");
}
