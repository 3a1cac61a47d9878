//! The worker side: claim a batch, acknowledge it once stored, dead-letter what cannot be
//! stored, and take over batches held by workers that died.
//!
//! Delivery is at-least-once: a batch moves atomically from the queue into this worker's
//! processing list and leaves it only on [`Consumer::ack`], after ClickHouse acknowledged the
//! INSERT. A worker that dies holding a batch stops refreshing its heartbeat; once that
//! expires, another worker's [`Consumer::take_over`] makes the batch, unchanged, its own held
//! batch, which its next [`Consumer::claim`] returns.

use crate::{
    QueueError, QueueKeys, connect,
    scripts::{Claim, Script, TakeOver},
};
use redis::{AsyncCommands, aio::ConnectionManager};
use serde::Serialize;
use std::time::Duration;

/// An entry that cannot be stored, and why.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    pub reason: String,
    /// The queue entry exactly as it was (lossy UTF-8 if it was not text).
    pub entry: String,
    pub failed_at: String,
}

impl DeadLetter {
    pub fn new(entry: &[u8], reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            entry: String::from_utf8_lossy(entry).into_owned(),
            failed_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        }
    }
}

/// What a consumer has to do, read in one round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlog {
    /// Events waiting in the queue (not counting batches held by workers).
    pub queued: u64,
    /// Whether this worker holds a batch not yet acknowledged.
    pub held: bool,
}

/// One worker's view of the queue: its processing list and heartbeat.
#[derive(Clone)]
pub struct Consumer {
    connection: ConnectionManager,
    keys: QueueKeys,
    worker_id: String,
    processing: String,
    heartbeat: String,
}

impl Consumer {
    /// `worker_id` must be unique among live workers of this queue.
    pub async fn connect(url: &str, keys: &QueueKeys, worker_id: &str) -> Result<Self, QueueError> {
        Ok(Self {
            connection: connect(url).await?,
            processing: keys.processing(worker_id),
            heartbeat: keys.heartbeat(worker_id),
            keys: keys.clone(),
            worker_id: worker_id.to_owned(),
        })
    }

    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// The queue's depth and whether this worker holds a batch.
    pub async fn backlog(&self) -> Result<Backlog, QueueError> {
        let (queued, held): (Option<u64>, bool) = redis::pipe()
            .get(self.keys.depth())
            .exists(&self.processing)
            .query_async(&mut self.connection.clone())
            .await?;
        Ok(Backlog {
            queued: queued.unwrap_or_default(),
            held,
        })
    }

    /// The batch to store next, as queue entries (see [`crate::entry_lines`]): what this
    /// worker holds, else entries holding up to `max` events (more only when the oldest
    /// entry alone holds more). Empty when the queue is empty.
    pub async fn claim(&self, max: usize) -> Result<Vec<Vec<u8>>, QueueError> {
        let claim = Claim {
            keys: &self.keys,
            processing: &self.processing,
            max_events: max as u64,
        };
        let (batch,): (Vec<Vec<u8>>,) = redis::pipe()
            .add_command(claim.eval())
            .ignore()
            .lrange(&self.processing, 0, -1)
            .query_async(&mut self.connection.clone())
            .await?;
        Ok(batch)
    }

    /// Makes the batch of `dead_worker`, whose heartbeat expired, this worker's held batch,
    /// as it stands; returns its number of events. 0 when there was nothing to take over:
    /// the worker is alive after all, another worker took the batch first, or this worker
    /// holds a batch of its own.
    pub async fn take_over(&self, dead_worker: &str) -> Result<u64, QueueError> {
        let take_over = TakeOver {
            orphan: &self.keys.processing(dead_worker),
            orphan_heartbeat: &self.keys.heartbeat(dead_worker),
            heir: &self.processing,
        };
        Ok(take_over
            .eval()
            .query_async(&mut self.connection.clone())
            .await?)
    }

    /// The held batch is stored: drop it, recording `dead` entries in the dead-letter list in
    /// the same transaction.
    pub async fn ack(&self, dead: &[DeadLetter]) -> Result<(), QueueError> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        for letter in dead {
            let json = serde_json::to_string(letter).expect("a DeadLetter always serializes");
            pipe.lpush(self.keys.dead(), json).ignore();
        }
        pipe.del(&self.processing).ignore();
        pipe.query_async::<()>(&mut self.connection.clone()).await?;
        Ok(())
    }

    /// Announces this worker alive for `ttl`; call well within `ttl`, repeatedly.
    pub async fn heartbeat(&self, ttl: Duration) -> Result<(), QueueError> {
        let seconds = ttl.as_secs().max(1);
        self.connection
            .clone()
            .set_ex::<_, _, ()>(&self.heartbeat, 1, seconds)
            .await?;
        Ok(())
    }

    /// Removes this worker's heartbeat at a clean exit, so nobody waits for it to expire.
    pub async fn retire(&self) -> Result<(), QueueError> {
        self.connection
            .clone()
            .del::<_, ()>(&self.heartbeat)
            .await?;
        Ok(())
    }
}
