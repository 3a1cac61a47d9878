//! The ingestion side: push accepted events onto the queue.

use crate::{
    ENTRY_MAX_EVENTS, QueueError, QueueKeys, encode_entry,
    scripts::{Admit, Script},
};
use redis::aio::ConnectionManager;
use traceflow_event::Event;

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
    keys: QueueKeys,
    max_depth: u64,
}

impl Producer {
    /// Does not wait for Redis: the first command connects. Pushes that would take the
    /// queue beyond `max_depth` events are refused, so a stalled worker cannot make Redis
    /// run out of memory.
    pub async fn connect(url: &str, keys: &QueueKeys, max_depth: u64) -> Result<Self, QueueError> {
        Ok(Self {
            connection: crate::connect(url).await?,
            keys: keys.clone(),
            max_depth,
        })
    }

    /// Queues the events atomically in one round trip, oldest first, so the consumer
    /// (taking from the right) sees them in order: all of them, or none when full.
    pub async fn push(&self, events: &[Event<'_>]) -> Result<Pushed, QueueError> {
        let entries: Vec<Vec<u8>> = events.chunks(ENTRY_MAX_EVENTS).map(encode_entry).collect();
        self.push_counted(&entries, events.len()).await
    }

    /// Queues entries already in the wire format (see [`encode_entry`]) as [`Producer::push`]
    /// does, for tools and tests that build entries themselves, malformed ones included.
    /// Each line counts as an event, as the claim counts them (`events_in.lua`).
    pub async fn push_entries(&self, entries: &[Vec<u8>]) -> Result<Pushed, QueueError> {
        let lines = |entry: &Vec<u8>| entry.iter().filter(|byte| **byte == b'\n').count() + 1;
        let events = entries.iter().map(lines).sum();
        self.push_counted(entries, events).await
    }

    async fn push_counted(&self, entries: &[Vec<u8>], events: usize) -> Result<Pushed, QueueError> {
        let admit = Admit {
            keys: &self.keys,
            max_depth: self.max_depth,
            events: events as u64,
            entries: entries.len() as u64,
        };
        let ((queued, depth),): ((u8, u64),) = redis::pipe()
            .atomic()
            .lpush(self.keys.queue(), entries)
            .ignore()
            .add_command(admit.eval())
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
