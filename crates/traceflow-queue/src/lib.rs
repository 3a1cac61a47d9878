//! The queue between ingestion and the worker: its wire format, and the Redis producer and
//! consumer. Both sides use this crate, so the format lives in one place.
//!
//! Keys, for a queue key `Q` (default `logs_queue`):
//! - `Q`: a list of entries, each one request's events (one JSON object per line, at most
//!   [`ENTRY_MAX_EVENTS`]); ingestion LPUSHes, workers take from the right (FIFO).
//! - `Q:depth`: the number of events in `Q`, kept by the scripts that push and claim, which
//!   reset it whenever `Q` is found empty (so a queue emptied by hand does not leave a stale
//!   count behind).
//! - `Q:processing:<worker>`: the batch a worker holds; removed only once ClickHouse has it.
//! - `Q:worker:<worker>`: the worker's heartbeat (expires when the worker dies).
//! - `Q:dead`: dead-lettered entries with the reason, newest first.

mod consumer;
mod producer;
mod wire;

pub use consumer::{Consumer, DeadLetter};
pub use producer::{Producer, Pushed};
pub use wire::{ENTRY_MAX_EVENTS, WireError, decode_line, encode_entry, entry_lines};

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

fn depth_key(queue_key: &str) -> String {
    format!("{queue_key}:depth")
}

/// Lua: `events_in(entry)`, the number of events in a queue entry (its lines).
const EVENTS_IN: &str = r"
local function events_in(entry)
  local count, at = 1, string.find(entry, '\n', 1, true)
  while at do
    count = count + 1
    at = string.find(entry, '\n', at + 1, true)
  end
  return count
end
";

/// Whether Redis answers on this connection.
async fn ping(connection: &redis::aio::ConnectionManager) -> Result<(), QueueError> {
    redis::cmd("PING")
        .query_async::<()>(&mut connection.clone())
        .await?;
    Ok(())
}
