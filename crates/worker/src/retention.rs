//! RETENTION_DAYS and the tenants' own `retention_days`, enforced from the worker: at start
//! the table TTL is set where ClickHouse has TTL (so a changed value takes effect at the next
//! start); on servers without it (18.16) expired day partitions are dropped, and a tenant's
//! expired events deleted, at start and then every hour.
//!
//! The first application happens before any consumer inserts: a TTL changed on current
//! ClickHouse rewrites the parts already there (`materialize_ttl_after_modify`), so it is set
//! before new parts arrive rather than racing them.

use std::time::Duration;
use tokio_util::sync::CancellationToken;
use traceflow_runtime::Backoff;
use traceflow_storage::{Retention, RetentionPolicy, Storage};

/// How often expired partitions are looked for where the server has no TTL: a day
/// partition expires once a day, an hour late at most is fine.
const CHECK_INTERVAL: Duration = Duration::from_secs(3600);

/// Applies the policy once, before the consumers start; returns when it is due again.
pub(crate) async fn apply_at_start(
    storage: &Storage,
    policy: &RetentionPolicy,
) -> Option<Duration> {
    Enforcer::new(storage.clone(), policy.clone()).apply().await
}

/// Applies the policy again after `next`, and then as often as it says, until `stop`.
pub(crate) async fn enforce(
    storage: Storage,
    policy: RetentionPolicy,
    mut next: Option<Duration>,
    stop: CancellationToken,
) {
    let mut enforcer = Enforcer::new(storage, policy);
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
    policy: RetentionPolicy,
    backoff: Backoff,
}

impl Enforcer {
    fn new(storage: Storage, policy: RetentionPolicy) -> Self {
        Self {
            storage,
            policy,
            backoff: Backoff::new(Duration::from_secs(1), CHECK_INTERVAL),
        }
    }

    /// Applies the policy once; returns when to apply it again, or `None` once ClickHouse
    /// expires rows by itself.
    async fn apply(&mut self) -> Option<Duration> {
        let (days, tenants) = (self.policy.days, &self.policy.tenants);
        match self.storage.enforce_retention(&self.policy).await {
            Ok(Retention::Ttl { changed }) => {
                tracing::info!(days, ?tenants, ?changed, "retention: table TTL in place");
                None
            }
            Ok(Retention::Dropped {
                partitions,
                deleting,
            }) => {
                tracing::info!(
                    days,
                    ?tenants,
                    ?partitions,
                    deleting,
                    "retention: expired day partitions dropped, tenants' expired events being deleted"
                );
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
