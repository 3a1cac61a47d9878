//! The queue-wide work of one worker process, done once whatever `WORKER_CONCURRENCY`:
//! keeping its consumers' heartbeats fresh, finding dead workers' batches for its consumers
//! to take over, the depth gauge, and retention.

use crate::retention;
use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use traceflow_queue::{Consumer, Orphan, Queue};
use traceflow_storage::{RetentionPolicy, Storage};

/// Dead workers whose batches wait to be taken over, found by [`Upkeep`] and taken one at a
/// time by this process's consumer loops between batches, so that under load too an
/// orphaned batch is stored next by whichever loop finishes first.
#[derive(Debug, Default)]
pub struct Orphans(Mutex<BTreeSet<Orphan>>);

impl Orphans {
    fn offer(&self, dead_workers: impl IntoIterator<Item = Orphan>) {
        self.lock().extend(dead_workers);
    }

    pub fn any(&self) -> bool {
        !self.lock().is_empty()
    }

    pub fn take(&self) -> Option<Orphan> {
        self.lock().pop_first()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<Orphan>> {
        // The set stays valid whatever a panicking holder did.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub struct Upkeep {
    pub queue: Queue,
    /// This process's consumers, whose heartbeats are kept here.
    pub consumers: Vec<Consumer>,
    pub heartbeat_ttl: Duration,
    pub orphans: Arc<Orphans>,
    /// Wakes a consumer loop when there is a batch to take over.
    pub wake: Arc<Notify>,
    pub storage: Storage,
    pub retention: RetentionPolicy,
    /// When retention is next due, after its application at start.
    pub retention_due: Option<Duration>,
}

impl Upkeep {
    /// Marks this process's consumers alive; call before their first claim, so that no
    /// other worker takes what they hold.
    pub async fn announce(&self) {
        for consumer in &self.consumers {
            if let Err(error) = consumer.heartbeat(self.heartbeat_ttl).await {
                tracing::warn!(%error, worker_id = consumer.worker_id(), "heartbeat failed; redis may be down");
            }
        }
    }

    /// Runs until `stop` is cancelled (once the consumer loops are done, so their heartbeats
    /// last while they finish a batch); then removes the heartbeats.
    pub async fn run(self, stop: CancellationToken) {
        tokio::join!(
            retention::enforce(
                self.storage.clone(),
                self.retention.clone(),
                self.retention_due,
                stop.clone()
            ),
            self.keep_alive(&stop)
        );
        for consumer in &self.consumers {
            if let Err(error) = consumer.retire().await {
                tracing::warn!(%error, worker_id = consumer.worker_id(), "could not remove the heartbeat; another worker takes over after it expires");
            }
        }
    }

    /// Every third of the TTL: the heartbeats and the depth gauge; at start and then once
    /// per TTL, the dead workers' batches.
    async fn keep_alive(&self, stop: &CancellationToken) {
        let mut ticks = tokio::time::interval(self.heartbeat_ttl / 3);
        let mut tenants_seen = BTreeSet::new();
        for tick in 0u64.. {
            tokio::select! {
                _ = ticks.tick() => {}
                () = stop.cancelled() => return,
            }
            self.announce().await;
            if tick.is_multiple_of(3) {
                self.find_orphans().await;
            }
            self.publish_depths().await;
            self.publish_tenant_depths(&mut tenants_seen).await;
        }
    }

    /// `traceflow_queue_depth`, the events waiting in all shards, and on a queue in shards
    /// `traceflow_queue_shard_depth{shard}`, each shard's.
    async fn publish_depths(&self) {
        let Ok(depths) = self.queue.shard_depths().await else {
            return;
        };
        metrics::gauge!("traceflow_queue_depth").set(depths.iter().sum::<u64>() as f64);
        if depths.len() > 1 {
            for (shard, depth) in depths.iter().enumerate() {
                metrics::gauge!("traceflow_queue_shard_depth", "shard" => shard.to_string())
                    .set(*depth as f64);
            }
        }
    }

    /// `traceflow_tenant_queued_events{tenant}`: each tenant's events waiting; a tenant seen
    /// before with none left is set to 0 rather than left at its last count.
    async fn publish_tenant_depths(&self, seen: &mut BTreeSet<String>) {
        let Ok(depths) = self.queue.tenant_depths().await else {
            return;
        };
        for tenant in seen.iter() {
            if !depths.iter().any(|(queued, _)| queued == tenant) {
                metrics::gauge!("traceflow_tenant_queued_events", "tenant" => tenant.clone())
                    .set(0.0);
            }
        }
        for (tenant, queued) in depths {
            metrics::gauge!("traceflow_tenant_queued_events", "tenant" => tenant.clone())
                .set(queued as f64);
            seen.insert(tenant);
        }
    }

    async fn find_orphans(&self) {
        let dead_workers = match self.queue.orphans().await {
            Ok(dead_workers) => dead_workers,
            Err(error) => {
                tracing::warn!(%error, "looking for dead workers' batches failed");
                return;
            }
        };
        let ours = |orphan: &Orphan| {
            self.consumers
                .iter()
                .any(|consumer| consumer.worker_id() == orphan.worker)
        };
        let dead_workers: Vec<Orphan> = dead_workers.into_iter().filter(|o| !ours(o)).collect();
        if dead_workers.is_empty() {
            return;
        }
        tracing::info!(?dead_workers, "found dead workers' batches to take over");
        let count = dead_workers.len();
        self.orphans.offer(dead_workers);
        for _ in 0..count {
            self.wake.notify_one();
        }
    }
}
