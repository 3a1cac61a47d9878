//! The worker side: claim a batch, acknowledge it once stored, dead-letter what cannot be
//! stored, and hand back batches held by workers that died.
//!
//! Delivery is at-least-once: a batch moves atomically from the queue into this worker's
//! processing list and leaves it only on [`Consumer::ack`], after ClickHouse acknowledged the
//! INSERT. A worker that dies holding a batch stops refreshing its heartbeat; once that
//! expires, any worker's [`Consumer::reclaim_orphans`] moves the batch back to the queue.

use crate::{EVENTS_IN, QueueError, connect, depth_key};
use redis::{AsyncCommands, ErrorKind, Script, ServerErrorKind, aio::ConnectionManager};
use serde::Serialize;
use std::time::Duration;

/// Unless this worker already holds a batch (a claim whose reply was lost, or a batch not yet
/// acknowledged), moves entries from the queue's right end into the processing list, oldest
/// first, until they hold ARGV[1] events (an entry that would overshoot stays queued, unless
/// it is the first), and takes them off the queue's depth (KEYS[3]). The entries are read
/// back with LRANGE rather than returned: handing each value back out of Lua costs as much as
/// the move itself.
const CLAIM: &str = r"
if redis.call('LLEN', KEYS[2]) > 0 then return 0 end
local events, most = 0, tonumber(ARGV[1])
while events < most do
  local entry = redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'RIGHT')
  if not entry then break end
  local count = events_in(entry)
  if events > 0 and events + count > most then
    redis.call('LMOVE', KEYS[2], KEYS[1], 'RIGHT', 'RIGHT')
    break
  end
  events = events + count
end
if events > 0 then
  local left = tonumber(redis.call('GET', KEYS[3]) or '0') - events
  if left < 0 or redis.call('LLEN', KEYS[1]) == 0 then left = 0 end
  redis.call('SET', KEYS[3], left)
end
return events
";

/// Moves an orphaned processing list back to the queue's right end, oldest entry rightmost
/// so it is taken first, unless its worker's heartbeat (KEYS[3]) came back; adds its events
/// to the queue's depth (KEYS[4]). Returns the number of events moved.
const RECLAIM: &str = r"
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
local moved = 0
while true do
  local entry = redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'RIGHT')
  if not entry then break end
  moved = moved + events_in(entry)
end
if moved > 0 then redis.call('INCRBY', KEYS[4], moved) end
return moved
";

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

#[derive(Clone)]
pub struct Consumer {
    connection: ConnectionManager,
    queue_key: String,
    worker_id: String,
    claim: Script,
    reclaim: Script,
}

impl Consumer {
    /// `worker_id` must be unique among live workers of this queue.
    pub async fn connect(url: &str, queue_key: &str, worker_id: &str) -> Result<Self, QueueError> {
        Ok(Self {
            connection: connect(url).await?,
            queue_key: queue_key.to_owned(),
            worker_id: worker_id.to_owned(),
            claim: Script::new(&format!("{EVENTS_IN}{CLAIM}")),
            reclaim: Script::new(&format!("{EVENTS_IN}{RECLAIM}")),
        })
    }

    pub fn processing_key(&self) -> String {
        processing_key(&self.queue_key, &self.worker_id)
    }

    pub fn dead_letter_key(&self) -> String {
        format!("{}:dead", self.queue_key)
    }

    fn heartbeat_key(&self, worker_id: &str) -> String {
        format!("{}:worker:{worker_id}", self.queue_key)
    }

    /// The batch to store next, as queue entries (see [`crate::entry_lines`]): what this
    /// worker still holds, else entries holding up to `max` events (more only when the oldest
    /// entry alone holds more). Empty when the queue is empty.
    pub async fn claim(&self, max: usize) -> Result<Vec<Vec<u8>>, QueueError> {
        let processing = self.processing_key();
        let mut claim = redis::cmd("EVALSHA");
        claim
            .arg(self.claim.get_hash())
            .arg(3)
            .arg(&self.queue_key)
            .arg(&processing)
            .arg(depth_key(&self.queue_key))
            .arg(max);
        let mut pipeline = redis::pipe();
        pipeline
            .add_command(claim)
            .ignore()
            .lrange(&processing, 0, -1);
        let mut connection = self.connection.clone();
        let (batch,): (Vec<Vec<u8>>,) = match pipeline.query_async(&mut connection).await {
            // A Redis that restarted has forgotten the script (the LRANGE only read).
            Err(error) if error.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                self.claim.load_async(&mut connection).await?;
                pipeline.query_async(&mut connection).await?
            }
            answer => answer?,
        };
        Ok(batch)
    }

    /// The held batch is stored: drop it, recording `dead` entries in the dead-letter list in
    /// the same transaction.
    pub async fn ack(&self, dead: &[DeadLetter]) -> Result<(), QueueError> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        for letter in dead {
            let json = serde_json::to_string(letter).expect("a DeadLetter always serializes");
            pipe.lpush(self.dead_letter_key(), json).ignore();
        }
        pipe.del(self.processing_key()).ignore();
        pipe.query_async::<()>(&mut self.connection.clone()).await?;
        Ok(())
    }

    /// Events waiting in the queue (not counting batches held by workers). At least the
    /// number of entries, so entries pushed by something that does not keep the count are
    /// not overlooked.
    pub async fn depth(&self) -> Result<u64, QueueError> {
        let (counted, entries): (Option<u64>, u64) = redis::pipe()
            .get(depth_key(&self.queue_key))
            .llen(&self.queue_key)
            .query_async(&mut self.connection.clone())
            .await?;
        Ok(counted.unwrap_or_default().max(entries))
    }

    /// Whether Redis answers.
    pub async fn ping(&self) -> Result<(), QueueError> {
        crate::ping(&self.connection).await
    }

    /// Announces this worker alive for `ttl`; call well within `ttl`, repeatedly.
    pub async fn heartbeat(&self, ttl: Duration) -> Result<(), QueueError> {
        let seconds = ttl.as_secs().max(1);
        self.connection
            .clone()
            .set_ex::<_, _, ()>(self.heartbeat_key(&self.worker_id), 1, seconds)
            .await?;
        Ok(())
    }

    /// Removes this worker's heartbeat at a clean exit, so nobody waits for it to expire.
    pub async fn retire(&self) -> Result<(), QueueError> {
        self.connection
            .clone()
            .del::<_, ()>(self.heartbeat_key(&self.worker_id))
            .await?;
        Ok(())
    }

    /// Moves batches held by workers whose heartbeat expired back to the queue.
    /// Returns how many events went back.
    pub async fn reclaim_orphans(&self) -> Result<u64, QueueError> {
        let prefix = processing_key(&self.queue_key, "");
        let mut connection = self.connection.clone();
        let keys: Vec<String> = {
            let mut iter = connection
                .scan_match::<_, String>(format!("{prefix}*"))
                .await?;
            let mut keys = Vec::new();
            while let Some(key) = iter.next_item().await {
                keys.push(key?);
            }
            keys
        };
        let mut moved = 0;
        for key in keys {
            let Some(worker_id) = key.strip_prefix(&prefix) else {
                continue;
            };
            if worker_id == self.worker_id {
                continue;
            }
            let count: u64 = self
                .reclaim
                .key(&key)
                .key(&self.queue_key)
                .key(self.heartbeat_key(worker_id))
                .key(depth_key(&self.queue_key))
                .invoke_async(&mut connection)
                .await?;
            if count > 0 {
                tracing::warn!(worker_id, count, "reclaimed a dead worker's batch");
            }
            moved += count;
        }
        Ok(moved)
    }
}

fn processing_key(queue_key: &str, worker_id: &str) -> String {
    format!("{queue_key}:processing:{worker_id}")
}
