//! The ingestion side: push accepted events onto the queue.

use crate::{LogEvent, QueueError};
use redis::aio::ConnectionManager;

/// Cheap to clone: all clones share one multiplexed connection.
#[derive(Clone)]
pub struct Producer {
    connection: ConnectionManager,
    queue_key: String,
}

impl Producer {
    /// Does not wait for Redis: the first command connects.
    pub async fn connect(url: &str, queue_key: &str) -> Result<Self, QueueError> {
        Ok(Self {
            connection: crate::connect(url).await?,
            queue_key: queue_key.to_owned(),
        })
    }

    /// LPUSHes the events in one round trip, oldest first, so the consumer (taking from the
    /// right) sees them in order. Returns the queue depth after the push.
    pub async fn push(&self, events: &[LogEvent]) -> Result<u64, QueueError> {
        let entries: Vec<String> = events.iter().map(LogEvent::to_wire).collect();
        let depth = redis::cmd("LPUSH")
            .arg(&self.queue_key)
            .arg(entries)
            .query_async(&mut self.connection.clone())
            .await?;
        Ok(depth)
    }

    /// Whether Redis answers.
    pub async fn ping(&self) -> Result<(), QueueError> {
        redis::cmd("PING")
            .query_async::<()>(&mut self.connection.clone())
            .await?;
        Ok(())
    }
}
