//! The ingestion side: push accepted events onto the queue.

use crate::{ENTRY_MAX_EVENTS, Event, QueueError, depth_key, encode_entry};
use redis::{Script, aio::ConnectionManager};

/// LPUSHes the entries ARGV[3..], holding ARGV[2] events, onto the queue KEYS[1] unless its
/// depth (KEYS[2], in events) would exceed ARGV[1]. Returns {1, depth after} when queued,
/// {0, depth} when refused. Pushes in chunks because Lua's `unpack` has a limit on the
/// number of values.
const PUSH_UNLESS_FULL: &str = r"
local depth = 0
if redis.call('LLEN', KEYS[1]) > 0 then depth = tonumber(redis.call('GET', KEYS[2]) or '0') end
local count = tonumber(ARGV[2])
if depth + count > tonumber(ARGV[1]) then return {0, depth} end
for first = 3, #ARGV, 1000 do
  redis.call('LPUSH', KEYS[1], unpack(ARGV, first, math.min(first + 999, #ARGV)))
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
    push: Script,
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
            push: Script::new(PUSH_UNLESS_FULL),
        })
    }

    /// Queues the events atomically in one round trip, oldest first, so the consumer
    /// (taking from the right) sees them in order: all of them, or none when full.
    pub async fn push(&self, events: &[Event<'_>]) -> Result<Pushed, QueueError> {
        let mut invocation = self.push.key(&self.queue_key);
        invocation.key(&self.depth_key);
        invocation.arg(self.max_depth).arg(events.len());
        for chunk in events.chunks(ENTRY_MAX_EVENTS) {
            invocation.arg(encode_entry(chunk));
        }
        let (queued, depth): (u8, u64) = invocation
            .invoke_async(&mut self.connection.clone())
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
