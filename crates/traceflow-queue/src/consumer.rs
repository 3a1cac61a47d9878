//! The worker side: claim a batch, acknowledge it once stored, dead-letter what cannot be
//! stored, and take over batches held by workers that died.
//!
//! Delivery is at-least-once: a batch moves atomically from the queue into this worker's
//! processing list and leaves it only on [`Consumer::ack`], after ClickHouse acknowledged the
//! INSERT. A worker that dies holding a batch stops refreshing its heartbeat; once that
//! expires, another worker's [`Consumer::take_over`] makes the batch, unchanged, its own held
//! batch, which its next [`Consumer::claim`] returns.

use crate::{
    QueueError, QueueKeys, QueueLocation,
    connection::{Connection, on_every_shard},
    scripts::{Claim, Script, TakeOver},
};
use redis::AsyncCommands;
use serde::Serialize;
use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

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

/// What a consumer has to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlog {
    /// Events waiting in the queue, all shards together (not counting batches held by
    /// workers).
    pub queued: u64,
    /// Whether this worker holds a batch not yet acknowledged.
    pub held: bool,
}

/// A dead worker's batch to take over: the worker, and the shard its batch is in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Orphan {
    pub worker: String,
    pub shard: usize,
}

/// One worker's view of the queue: its processing list and heartbeat in every shard, the
/// shard whose batch it holds, and what it last saw queued in each.
#[derive(Clone)]
pub struct Consumer {
    connection: Connection,
    shards: Arc<[ConsumerShard]>,
    worker_id: String,
    seen: Arc<Mutex<Seen>>,
}

/// A shard's keys, with this worker's in it.
struct ConsumerShard {
    keys: QueueKeys,
    processing: String,
    heartbeat: String,
}

/// What the last look at the shards found.
#[derive(Default)]
struct Seen {
    /// The shard whose batch this worker holds.
    held: Option<usize>,
    /// Each shard's depth.
    depths: Vec<u64>,
    /// Where the next claim starts looking, so that every shard gets its turn.
    next: usize,
}

impl Consumer {
    /// `worker_id` must be unique among live workers of this queue. Does not wait for
    /// Redis: the first command connects.
    pub fn connect(location: &QueueLocation, worker_id: &str) -> Result<Self, QueueError> {
        let shards: Vec<ConsumerShard> = location
            .shards
            .iter()
            .map(|keys| ConsumerShard {
                processing: keys.processing(worker_id),
                heartbeat: keys.heartbeat(worker_id),
                keys: keys.clone(),
            })
            .collect();
        Ok(Self {
            connection: Connection::open(&location.target)?,
            shards: shards.into(),
            worker_id: worker_id.to_owned(),
            seen: Arc::default(),
        })
    }

    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// The queue's depth and whether this worker holds a batch: one round trip per shard,
    /// all at once. A shard that does not answer counts as empty (its held batch, if it is
    /// the one, as still held), so the others are served meanwhile.
    pub async fn backlog(&self) -> Result<Backlog, QueueError> {
        let looks = self.shards.iter().map(|shard| {
            let mut connection = self.connection.clone();
            async move {
                redis::pipe()
                    .get(shard.keys.depth())
                    .exists(&shard.processing)
                    .query_async::<(Option<u64>, bool)>(&mut connection)
                    .await
            }
        });
        let looks = on_every_shard(looks).await?;
        let mut seen = self.seen();
        let unanswered_held = seen.held.filter(|held| looks[*held].is_none());
        seen.depths = looks
            .iter()
            .map(|look| look.and_then(|(depth, _)| depth).unwrap_or_default())
            .collect();
        seen.held = unanswered_held.or_else(|| {
            looks
                .iter()
                .position(|look| look.is_some_and(|(_, held)| held))
        });
        Ok(Backlog {
            queued: seen.depths.iter().sum(),
            held: seen.held.is_some(),
        })
    }

    /// The batch to store next, as queue entries (see [`crate::entry_lines`]): what this
    /// worker holds, else entries holding up to `max` events (more only when the oldest
    /// entry alone holds more) from the next shard with events queued. Empty when the
    /// queue is empty.
    /// A shard that fails is passed over, unless all do.
    pub async fn claim(&self, max: usize) -> Result<Vec<Vec<u8>>, QueueError> {
        let (mut answered, mut failure) = (false, None);
        for shard in self.claim_order() {
            match self.claim_in(shard, max).await {
                Ok(batch) if batch.is_empty() => answered = true,
                Ok(batch) => {
                    self.seen().held = Some(shard);
                    return Ok(batch);
                }
                Err(error) => failure = failure.or(Some(error)),
            }
        }
        match failure {
            Some(error) if !answered => Err(error),
            _ => Ok(Vec::new()),
        }
    }

    /// The held batch's shard alone; else the shards last seen with events queued (all of
    /// them when none was), starting after the one claimed from last.
    fn claim_order(&self) -> Vec<usize> {
        let mut seen = self.seen();
        if let Some(held) = seen.held {
            return vec![held];
        }
        let count = self.shards.len();
        let start = seen.next % count;
        seen.next = start + 1;
        let order = (start..count).chain(0..start);
        let queued: Vec<usize> = order
            .clone()
            .filter(|shard| seen.depths.get(*shard).is_some_and(|depth| *depth > 0))
            .collect();
        if queued.is_empty() {
            order.collect()
        } else {
            queued
        }
    }

    async fn claim_in(&self, shard: usize, max: usize) -> Result<Vec<Vec<u8>>, QueueError> {
        let shard = &self.shards[shard];
        let claim = Claim {
            keys: &shard.keys,
            processing: &shard.processing,
            max_events: max as u64,
        };
        let (batch,): (Vec<Vec<u8>>,) = redis::pipe()
            .add_command(claim.eval())
            .ignore()
            .lrange(&shard.processing, 0, -1)
            .query_async(&mut self.connection.clone())
            .await?;
        Ok(batch)
    }

    /// Makes the batch of `orphan`, a worker whose heartbeat expired, this worker's held
    /// batch, as it stands; returns its number of events. 0 when there was nothing to take
    /// over: the worker is alive after all, another worker took the batch first, or this
    /// worker holds a batch of its own.
    pub async fn take_over(&self, orphan: &Orphan) -> Result<u64, QueueError> {
        if self.seen().held.is_some() {
            return Ok(0);
        }
        let Some(shard) = self.shards.get(orphan.shard) else {
            return Ok(0);
        };
        let take_over = TakeOver {
            keys: &shard.keys,
            orphan: &shard.keys.processing(&orphan.worker),
            orphan_heartbeat: &shard.keys.heartbeat(&orphan.worker),
            heir: &shard.processing,
        };
        let events = take_over
            .eval()
            .query_async(&mut self.connection.clone())
            .await?;
        if events > 0 {
            self.seen().held = Some(orphan.shard);
        }
        Ok(events)
    }

    /// The held batch is stored: drop it, recording `dead` entries in its shard's
    /// dead-letter list in the same transaction.
    pub async fn ack(&self, dead: &[DeadLetter]) -> Result<(), QueueError> {
        let Some(held) = self.seen().held else {
            return Ok(());
        };
        let shard = &self.shards[held];
        let mut pipe = redis::pipe();
        pipe.atomic();
        for letter in dead {
            let json = serde_json::to_string(letter).expect("a DeadLetter always serializes");
            pipe.lpush(shard.keys.dead(), json).ignore();
        }
        pipe.del(&shard.processing).ignore();
        pipe.srem(shard.keys.holders(), &shard.processing).ignore();
        pipe.query_async::<()>(&mut self.connection.clone()).await?;
        self.seen().held = None;
        Ok(())
    }

    /// Announces this worker alive for `ttl`, in every shard that answers; call well
    /// within `ttl`, repeatedly.
    pub async fn heartbeat(&self, ttl: Duration) -> Result<(), QueueError> {
        let seconds = ttl.as_secs().max(1);
        let beats = self.shards.iter().map(|shard| {
            let mut connection = self.connection.clone();
            async move {
                connection
                    .set_ex::<_, _, ()>(&shard.heartbeat, 1, seconds)
                    .await
            }
        });
        on_every_shard(beats).await?;
        Ok(())
    }

    /// Removes this worker's heartbeats at a clean exit, so nobody waits for them to expire.
    pub async fn retire(&self) -> Result<(), QueueError> {
        let removals = self.shards.iter().map(|shard| {
            let mut connection = self.connection.clone();
            async move { connection.del::<_, ()>(&shard.heartbeat).await }
        });
        on_every_shard(removals).await?;
        Ok(())
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        // What was seen stays valid whatever a panicking holder did.
        self.seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
