//! The queue between ingestion and the worker: its keys, wire format and Lua scripts, and
//! the Redis producer, consumer and queue-wide handle. Both sides use this crate, so the
//! protocol lives in one place.
//!
//! Keys ([`QueueKeys`]), for a queue key `Q` (default `logs_queue`):
//! - `Q`: a list of entries, each one request's events (one JSON object per line, at most
//!   [`ENTRY_MAX_EVENTS`]); ingestion LPUSHes, workers take from the right (FIFO).
//! - `Q:depth`: the number of events in `Q` (see below).
//! - `Q:processing:<worker>`: the batch a worker holds; removed only once ClickHouse has it.
//! - `Q:worker:<worker>`: the worker's heartbeat (expires when the worker dies).
//! - `Q:dead`: dead-lettered entries with the reason, newest first.
//!
//! The depth counter counts the events of the entries in `Q`, and only two scripts change
//! it: `admit` (every push: adds the pushed events) and `claim` (takes the claimed events
//! off). Each counts afresh when it finds `Q` empty (`admit` before its entries, `claim`
//! after its moves), so a queue emptied by hand leaves no stale count behind. A batch taken
//! over from a dead worker does not touch it: its events left the count when they were
//! claimed. Everything that puts entries on `Q` goes through [`Producer`], which keeps the
//! count, tests and the benchmark included ([`Producer::push_entries`]). Workers claim only
//! while the count says events are queued, so an entry pushed around the producer would
//! wait until counted events are queued behind it.

mod consumer;
mod keys;
mod producer;
mod queue;
mod scripts;
mod wire;

pub use consumer::{Backlog, Consumer, DeadLetter};
pub use keys::QueueKeys;
pub use producer::{Producer, Pushed};
pub use queue::Queue;
pub use wire::{ENTRY_MAX_EVENTS, WireError, decode_line, encode_entry, entry_lines, entry_tenant};

use std::time::Duration;

/// A Redis failure, always meaning "the queue is unavailable right now".
#[derive(Debug, Clone, thiserror::Error)]
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
