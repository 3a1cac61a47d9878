//! The queue between ingestion and the worker: the log event type, its wire format, and
//! the Redis producer and consumer. Both sides use this crate, so the format lives in one
//! place.
//!
//! Keys, for a queue key `Q` (default `logs_queue`):
//! - `Q`: a list; ingestion LPUSHes, workers take from the right (FIFO). `LLEN Q` is the depth.
//! - `Q:processing:<worker>`: the batch a worker holds; removed only once ClickHouse has it.
//! - `Q:worker:<worker>`: the worker's heartbeat (expires when the worker dies).
//! - `Q:dead`: dead-lettered entries with the reason, newest first.

mod consumer;
mod event;
mod producer;

pub use consumer::{Consumer, DeadLetter};
pub use event::{Level, LogEvent, WireError};
pub use producer::{Producer, Pushed};

use std::time::Duration;

/// A Redis failure, always meaning "the queue is unavailable right now".
#[derive(Debug, thiserror::Error)]
#[error("redis: {0}")]
pub struct QueueError(#[from] redis::RedisError);

/// One multiplexed connection that reconnects by itself; commands fail fast while Redis is
/// down instead of hanging, so callers can answer 503 and retry later.
async fn connect(url: &str) -> Result<redis::aio::ConnectionManager, QueueError> {
    let client = redis::Client::open(url)?;
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(5)))
        .set_number_of_retries(1)
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(Duration::from_secs(1));
    // Lazy, so a service starts (and reports 503) while Redis is still down.
    Ok(redis::aio::ConnectionManager::new_lazy_with_config(
        client, config,
    )?)
}

/// Whether Redis answers on this connection.
async fn ping(connection: &redis::aio::ConnectionManager) -> Result<(), QueueError> {
    redis::cmd("PING")
        .query_async::<()>(&mut connection.clone())
        .await?;
    Ok(())
}
