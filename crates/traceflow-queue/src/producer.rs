//! The ingestion side: push accepted events onto the queue.

use crate::{ENTRY_MAX_EVENTS, QueueError, depth_key, encode_entry};
use redis::aio::ConnectionManager;
use traceflow_event::Event;

/// Runs in the transaction right after the LPUSH of ARGV[3] entries, holding ARGV[2] events,
/// onto the queue KEYS[1]: keeps them unless the queue's depth (KEYS[2], in events) would
/// exceed ARGV[1], in which case it trims them off again. The entries themselves never pass
/// through Lua: handing a value to Lua costs about 1 ns per byte, several times the LPUSH.
/// Returns {1, depth after} when queued, {0, depth} when refused. A depth found while the
/// queue held nothing else counts as 0, so a queue emptied by hand leaves no stale count.
const ADMIT: &str = r"
local pushed = tonumber(ARGV[3])
local depth = 0
if redis.call('LLEN', KEYS[1]) > pushed then depth = tonumber(redis.call('GET', KEYS[2]) or '0') end
local count = tonumber(ARGV[2])
if depth + count > tonumber(ARGV[1]) then
  redis.call('LTRIM', KEYS[1], pushed, -1)
  return {0, depth}
end
redis.call('SET', KEYS[2], depth + count)
return {1, depth + count}
";

/// What became of a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Queued; the queue's depth afterwards.
    Queued { depth: u64 },
    /// Refused whole because the queue would exceed its limit; nothing was queued.
    Full { depth: u64 },
}

/// Cheap to clone: all clones share one multiplexed connection.
#[derive(Clone)]
pub struct Producer {
    connection: ConnectionManager,
    queue_key: String,
    depth_key: String,
    max_depth: u64,
}

impl Producer {
    /// Does not wait for Redis: the first command connects. Pushes that would take the
    /// queue beyond `max_depth` entries are refused, so a stalled worker cannot make Redis
    /// run out of memory.
    pub async fn connect(url: &str, queue_key: &str, max_depth: u64) -> Result<Self, QueueError> {
        Ok(Self {
            connection: crate::connect(url).await?,
            queue_key: queue_key.to_owned(),
            depth_key: depth_key(queue_key),
            max_depth,
        })
    }

    /// Queues the events atomically in one round trip, oldest first, so the consumer
    /// (taking from the right) sees them in order: all of them, or none when full.
    pub async fn push(&self, events: &[Event<'_>]) -> Result<Pushed, QueueError> {
        let entries: Vec<Vec<u8>> = events.chunks(ENTRY_MAX_EVENTS).map(encode_entry).collect();
        let mut transaction = redis::pipe();
        transaction
            .atomic()
            .lpush(&self.queue_key, &entries)
            .ignore()
            // EVAL rather than EVALSHA: a script Redis forgot (a restart) cannot fail the
            // transaction after its LPUSH ran.
            .cmd("EVAL")
            .arg(ADMIT)
            .arg(2)
            .arg(&self.queue_key)
            .arg(&self.depth_key)
            .arg(self.max_depth)
            .arg(events.len())
            .arg(entries.len());
        let ((queued, depth),): ((u8, u64),) = transaction
            .query_async(&mut self.connection.clone())
            .await?;
        Ok(if queued == 1 {
            Pushed::Queued { depth }
        } else {
            Pushed::Full { depth }
        })
    }

    /// Whether Redis answers.
    pub async fn ping(&self) -> Result<(), QueueError> {
        crate::ping(&self.connection).await
    }
}
