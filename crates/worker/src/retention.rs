//! RETENTION_DAYS, enforced from the worker: at start the table TTL is set where ClickHouse
//! has TTL (so a changed value takes effect at the next start); on servers without it
//! (18.16) expired day partitions are dropped at start and then every hour.

use std::time::Duration;
use tokio_util::sync::CancellationToken;
use traceflow_runtime::Backoff;
use traceflow_storage::{Retention, Storage};

/// How often expired partitions are looked for where the server has no TTL: a day
/// partition expires once a day, an hour late at most is fine.
const CHECK_INTERVAL: Duration = Duration::from_secs(3600);

pub(crate) async fn enforce(storage: Storage, days: u32, stop: CancellationToken) {
    let mut backoff = Backoff::new(Duration::from_secs(1), CHECK_INTERVAL);
    loop {
        let wait = match storage.enforce_retention(days).await {
            Ok(Retention::Ttl { changed }) => {
                tracing::info!(days, ?changed, "retention: table TTL in place");
                // ClickHouse expires rows itself from now on.
                return;
            }
            Ok(Retention::DroppedPartitions(dropped)) => {
                tracing::info!(days, ?dropped, "retention: expired day partitions dropped");
                backoff.reset();
                CHECK_INTERVAL
            }
            Err(error) => {
                let delay = backoff.next_delay();
                tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "retention could not be applied");
                delay
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = stop.cancelled() => return,
        }
    }
}
