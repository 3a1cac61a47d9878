//! The queue as a whole, for work that is no one consumer's: the depth, and finding the
//! batches of workers that died.

use crate::{QueueError, QueueKeys, connect};
use redis::{AsyncCommands, aio::ConnectionManager};

/// Cheap to clone: all clones share one multiplexed connection.
#[derive(Clone)]
pub struct Queue {
    connection: ConnectionManager,
    keys: QueueKeys,
}

impl Queue {
    /// Does not wait for Redis: the first command connects.
    pub async fn connect(url: &str, keys: &QueueKeys) -> Result<Self, QueueError> {
        Ok(Self {
            connection: connect(url).await?,
            keys: keys.clone(),
        })
    }

    /// Events waiting in the queue (not counting batches held by workers).
    pub async fn depth(&self) -> Result<u64, QueueError> {
        let depth: Option<u64> = self.connection.clone().get(self.keys.depth()).await?;
        Ok(depth.unwrap_or_default())
    }

    /// Each tenant's events waiting in the queue (tenants with none left out).
    pub async fn tenant_depths(&self) -> Result<Vec<(String, u64)>, QueueError> {
        let depths: Vec<(String, u64)> = self
            .connection
            .clone()
            .hgetall(self.keys.tenant_depth())
            .await?;
        Ok(depths)
    }

    /// The workers that hold a batch but whose heartbeat expired: theirs are the batches to
    /// take over ([`crate::Consumer::take_over`], which checks the heartbeat again).
    pub async fn orphans(&self) -> Result<Vec<String>, QueueError> {
        let mut connection = self.connection.clone();
        let mut holders = Vec::new();
        {
            let mut keys = connection
                .scan_match::<_, String>(self.keys.processing_pattern())
                .await?;
            while let Some(key) = keys.next_item().await {
                if let Some(worker) = self.keys.processing_worker(&key?) {
                    holders.push(worker.to_owned());
                }
            }
        }
        if holders.is_empty() {
            return Ok(holders);
        }
        let mut alive = redis::pipe();
        for worker in &holders {
            alive.exists(self.keys.heartbeat(worker));
        }
        let alive: Vec<bool> = alive.query_async(&mut connection).await?;
        Ok(holders
            .into_iter()
            .zip(alive)
            .filter_map(|(worker, alive)| (!alive).then_some(worker))
            .collect())
    }

    /// Whether Redis answers.
    pub async fn ping(&self) -> Result<(), QueueError> {
        crate::ping(&self.connection).await
    }
}
