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
//! - `Q:holders`: the set of processing lists that hold a batch.
//! - `Q:dead`: dead-lettered entries with the reason, newest first.
//!
//! On a Redis Cluster the queue is split into shards, each a whole set of these keys named
//! by a hash tag, `{Q:i}` or `{Q:i.k}` ([`QueueKeys::shards`]: one slot, so every script
//! and transaction of a shard runs on one node); the producer spreads its transactions over
//! them and every consumer claims from each in turn ([`QueueLocation`]). What follows holds
//! in each shard.
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

mod connection;
mod consumer;
mod keys;
mod producer;
mod queue;
mod scripts;
mod wire;

pub use connection::{QueueLocation, RedisTarget, ShardsDown};
pub use consumer::{Backlog, Consumer, DeadLetter, Orphan};
pub use keys::QueueKeys;
pub use producer::{Producer, Pushed};
pub use queue::Queue;
pub use wire::{ENTRY_MAX_EVENTS, WireError, decode_line, encode_entry, entry_lines, entry_tenant};

/// The queue is unavailable right now.
#[derive(Debug, Clone, thiserror::Error)]
pub enum QueueError {
    /// Redis failed or did not answer.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// Fewer replicas than `REDIS_MIN_REPLICAS` confirmed a push in time. Its entries are
    /// queued all the same, on the primary.
    #[error("too few redis replicas confirmed the push ({confirmed} of {wanted})")]
    Unreplicated { confirmed: u32, wanted: u32 },
}
