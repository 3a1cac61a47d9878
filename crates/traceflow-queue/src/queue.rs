//! The queue as a whole, for work that is no one consumer's: the depth, and finding the
//! batches of workers that died.

use crate::{
    Orphan, QueueError, QueueKeys, QueueLocation, RedisTarget,
    connection::{Connection, ShardsDown, on_every_shard},
};
use redis::AsyncCommands;
use std::collections::{BTreeMap, BTreeSet};

/// Cheap to clone: all clones share one multiplexed connection.
#[derive(Clone)]
pub struct Queue {
    connection: Connection,
    shards: Vec<QueueKeys>,
    /// One server: its keys can be scanned (for processing lists older than the holders set).
    scannable: bool,
}

impl Queue {
    /// Does not wait for Redis: the first command connects.
    pub fn connect(location: &QueueLocation) -> Result<Self, QueueError> {
        Ok(Self {
            connection: Connection::open(&location.target)?,
            shards: location.shards.clone(),
            scannable: matches!(location.target, RedisTarget::Server(_)),
        })
    }

    /// Events waiting in the queue (not counting batches held by workers), all shards
    /// together.
    pub async fn depth(&self) -> Result<u64, QueueError> {
        Ok(self.shard_depths().await?.iter().sum())
    }

    /// Each shard's events waiting, in shard order.
    pub async fn shard_depths(&self) -> Result<Vec<u64>, QueueError> {
        let depths = self.shards.iter().map(|keys| {
            let mut connection = self.connection.clone();
            async move {
                let depth: Option<u64> = connection.get(keys.depth()).await?;
                Ok::<_, QueueError>(depth.unwrap_or_default())
            }
        });
        futures::future::try_join_all(depths).await
    }

    /// Each tenant's events waiting in the queue, all shards together (tenants with none
    /// left out).
    pub async fn tenant_depths(&self) -> Result<Vec<(String, u64)>, QueueError> {
        let shards = self.shards.iter().map(|keys| {
            let mut connection = self.connection.clone();
            async move {
                connection
                    .hgetall::<_, Vec<(String, u64)>>(keys.tenant_depth())
                    .await
            }
        });
        let mut total: BTreeMap<String, u64> = BTreeMap::new();
        for (tenant, queued) in futures::future::try_join_all(shards)
            .await?
            .into_iter()
            .flatten()
        {
            *total.entry(tenant).or_default() += queued;
        }
        Ok(total.into_iter().collect())
    }

    /// The workers that hold a batch but whose heartbeat expired: theirs are the batches to
    /// take over ([`crate::Consumer::take_over`], which checks the heartbeat again). In
    /// the shards that answer.
    pub async fn orphans(&self) -> Result<Vec<Orphan>, QueueError> {
        let looks = self.shards.iter().map(|keys| self.orphans_in(keys));
        let shards = on_every_shard(looks).await?;
        Ok(shards
            .into_iter()
            .enumerate()
            .flat_map(|(shard, workers)| {
                let workers = workers.unwrap_or_default().into_iter();
                workers.map(move |worker| Orphan { worker, shard })
            })
            .collect())
    }

    async fn orphans_in(&self, keys: &QueueKeys) -> redis::RedisResult<Vec<String>> {
        let holders: Vec<String> = self.holders(keys).await?.into_iter().collect();
        if holders.is_empty() {
            return Ok(holders);
        }
        let mut alive = redis::pipe();
        for worker in &holders {
            alive.exists(keys.heartbeat(worker));
        }
        let alive: Vec<bool> = alive.query_async(&mut self.connection.clone()).await?;
        Ok(holders
            .into_iter()
            .zip(alive)
            .filter_map(|(worker, alive)| (!alive).then_some(worker))
            .collect())
    }

    /// The workers holding a batch in the shard of `keys`: the holders set, and on one
    /// server the processing lists a scan finds (ones claimed before the set existed).
    async fn holders(&self, keys: &QueueKeys) -> redis::RedisResult<BTreeSet<String>> {
        let mut connection = self.connection.clone();
        let mut lists: Vec<String> = connection.smembers(keys.holders()).await?;
        if self.scannable {
            let mut scanned = connection
                .scan_match::<_, String>(keys.processing_pattern())
                .await?;
            while let Some(key) = scanned.next_item().await {
                lists.push(key?);
            }
        }
        Ok(lists
            .iter()
            .filter_map(|list| keys.processing_worker(list))
            .map(str::to_owned)
            .collect())
    }

    /// Whether Redis answers for the queue: an error when it does not, the shards that do
    /// not answer while others do.
    pub async fn health(&self) -> Result<Option<ShardsDown>, QueueError> {
        self.connection.health(&self.shards).await
    }
}
