//! RETENTION_DAYS, enforced from the worker: at start the table TTL is set where ClickHouse
//! has TTL (so a changed value takes effect at the next start); on servers without it
//! (18.16) expired day partitions are dropped at start and then every hour.
//!
//! The first application happens before any consumer inserts: a TTL changed on current
//! ClickHouse rewrites the parts already there (`materialize_ttl_after_modify`), so it is set
//! before new parts arrive rather than racing them.

use std::time::Duration;
use tokio_util::sync::CancellationToken;
use traceflow_runtime::Backoff;
use traceflow_storage::{Retention, Storage};

/// How often expired partitions are looked for where the server has no TTL: a day
/// partition expires once a day, an hour late at most is fine.
const CHECK_INTERVAL: Duration = Duration::from_secs(3600);

/// Applies RETENTION_DAYS once, before the consumers start; returns when it is due again.
pub(crate) async fn apply_at_start(storage: &Storage, days: u32) -> Option<Duration> {
    Enforcer::new(storage.clone(), days).apply().await
}

/// Applies RETENTION_DAYS again after `next`, and then as often as it says, until `stop`.
pub(crate) async fn enforce(
    storage: Storage,
    days: u32,
    mut next: Option<Duration>,
    stop: CancellationToken,
) {
    let mut enforcer = Enforcer::new(storage, days);
    while let Some(wait) = next {
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = stop.cancelled() => return,
        }
        next = enforcer.apply().await;
    }
}

struct Enforcer {
    storage: Storage,
    days: u32,
    backoff: Backoff,
}

impl Enforcer {
    fn new(storage: Storage, days: u32) -> Self {
        Self {
            storage,
            days,
            backoff: Backoff::new(Duration::from_secs(1), CHECK_INTERVAL),
        }
    }

    /// Applies RETENTION_DAYS once; returns when to apply it again, or `None` once
    /// ClickHouse expires rows by itself.
    async fn apply(&mut self) -> Option<Duration> {
        let days = self.days;
        match self.storage.enforce_retention(days).await {
            Ok(Retention::Ttl { changed }) => {
                tracing::info!(days, ?changed, "retention: table TTL in place");
                None
            }
            Ok(Retention::DroppedPartitions(dropped)) => {
                tracing::info!(days, ?dropped, "retention: expired day partitions dropped");
                self.backoff.reset();
                Some(CHECK_INTERVAL)
            }
            Err(error) => {
                let delay = self.backoff.next_delay();
                tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "retention could not be applied");
                Some(delay)
            }
        }
    }
}
