//! The consumer loop: claim a batch, store it with one INSERT, acknowledge it, repeat while
//! the queue has events; then sleep until a signal or the poll interval.
//!
//! Nothing is acknowledged before ClickHouse has it. Outages are waited out with backoff;
//! rows ClickHouse refuses as data are isolated by splitting the batch and dead-lettered
//! one by one, so they cannot block the queue.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use traceflow_event::Event;
use traceflow_queue::{Consumer, DeadLetter, decode_line, encode_entry, entry_lines};
use traceflow_runtime::Backoff;
use traceflow_storage::Storage;

/// Shutdown arrived while waiting; the held batch stays in Redis for the next worker.
struct Cancelled;

pub struct ConsumerLoop {
    pub queue: Consumer,
    pub storage: Storage,
    /// Events worth an INSERT at once; fewer wait up to `flush_interval`.
    pub batch_size: usize,
    /// Most events one INSERT takes from a deep queue.
    pub max_batch_size: usize,
    pub flush_interval: Duration,
    pub poll_interval: Duration,
    pub wake: Arc<Notify>,
}

fn retry_backoff() -> Backoff {
    Backoff::new(Duration::from_millis(200), Duration::from_secs(5))
}

/// Sleeps for the next backoff step, logging the failure once for that step. `operation`
/// is `claim` (Redis), `insert` (ClickHouse) or `ack` (Redis).
async fn wait_to_retry(
    backoff: &mut Backoff,
    operation: &'static str,
    error: &(dyn std::fmt::Display + Sync),
    stop: &CancellationToken,
) -> Result<(), Cancelled> {
    let delay = backoff.next_delay();
    metrics::counter!("traceflow_worker_retries_total", "operation" => operation).increment(1);
    tracing::warn!(operation, attempt = backoff.attempt(), retry_in_ms = delay.as_millis() as u64, %error, "retrying after a failure");
    tokio::select! {
        () = tokio::time::sleep(delay) => Ok(()),
        () = stop.cancelled() => Err(Cancelled),
    }
}

impl ConsumerLoop {
    /// Runs until `stop` is cancelled; a batch being inserted then is finished first.
    pub async fn run(self, stop: CancellationToken) {
        let mut redis_backoff = retry_backoff();
        // After a failed claim this worker may hold a batch whose reply was lost: claim
        // even from an empty queue, since a claim returns a held batch first.
        let mut may_hold = false;
        loop {
            // Drain: keep taking batches while the queue has events.
            let mut small_since: Option<Instant> = None;
            while !stop.is_cancelled() {
                let depth = match self.queue.depth().await {
                    Ok(depth) => depth as usize,
                    Err(error) => {
                        if wait_to_retry(&mut redis_backoff, "claim", &error, &stop)
                            .await
                            .is_err()
                        {
                            return;
                        }
                        continue;
                    }
                };
                if depth == 0 && !may_hold {
                    break;
                }
                // A shallow queue waits up to FLUSH_INTERVAL for a BATCH_SIZE batch, so a
                // trickle of events does not become a trickle of one-row INSERTs.
                if depth < self.batch_size && !may_hold {
                    let since = *small_since.get_or_insert_with(Instant::now);
                    let remaining = self.flush_interval.saturating_sub(since.elapsed());
                    if !remaining.is_zero() {
                        tokio::select! {
                            () = self.wake.notified() => {}
                            () = tokio::time::sleep(remaining) => {}
                            () = stop.cancelled() => return,
                        }
                        continue;
                    }
                }
                small_since = None;
                // A deep queue is taken up to MAX_BATCH_SIZE per INSERT.
                let entries = match self.queue.claim(self.max_batch_size).await {
                    Ok(entries) => entries,
                    Err(error) => {
                        may_hold = true;
                        if wait_to_retry(&mut redis_backoff, "claim", &error, &stop)
                            .await
                            .is_err()
                        {
                            return;
                        }
                        continue;
                    }
                };
                may_hold = false;
                redis_backoff.reset();
                if entries.is_empty() {
                    break;
                }
                if self.store_batch(&entries, &stop).await.is_err() {
                    return;
                }
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.poll_interval) => {}
                () = stop.cancelled() => return,
            }
        }
    }

    async fn store_batch(
        &self,
        entries: &[Vec<u8>],
        stop: &CancellationToken,
    ) -> Result<(), Cancelled> {
        let mut events = Vec::new();
        let mut dead = Vec::new();
        for line in entries.iter().flat_map(|entry| entry_lines(entry)) {
            match decode_line(line) {
                Ok(event) => events.push(event),
                Err(error) => dead.push(DeadLetter::new(line, error.to_string())),
            }
        }
        let batch_size = events.len() + dead.len();
        let started = Instant::now();
        let refused = self.insert_isolating_bad_rows(&events, stop).await?;
        let stored = events.len() - refused.len();
        dead.extend(refused);
        metrics::histogram!("traceflow_worker_batch_duration_seconds")
            .record(started.elapsed().as_secs_f64());

        let mut backoff = retry_backoff();
        while let Err(error) = self.queue.ack(&dead).await {
            wait_to_retry(&mut backoff, "ack", &error, stop).await?;
        }
        metrics::counter!("traceflow_worker_batches_total").increment(1);
        metrics::counter!("traceflow_worker_rows_inserted_total").increment(stored as u64);
        metrics::counter!("traceflow_worker_dead_lettered_total").increment(dead.len() as u64);
        tracing::info!(
            batch_size,
            stored,
            dead_lettered = dead.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "batch stored"
        );
        Ok(())
    }

    /// Inserts `events`; rows ClickHouse refuses as data come back as dead letters.
    async fn insert_isolating_bad_rows(
        &self,
        events: &[Event<'_>],
        stop: &CancellationToken,
    ) -> Result<Vec<DeadLetter>, Cancelled> {
        let mut dead = Vec::new();
        let mut pending = vec![events];
        while let Some(chunk) = pending.pop() {
            if chunk.is_empty() {
                continue;
            }
            match self.insert_until_stored(chunk, stop).await? {
                Ok(()) => {}
                Err(reason) if chunk.len() == 1 => {
                    dead.push(DeadLetter::new(&encode_entry(&chunk[..1]), reason));
                }
                Err(_) => {
                    let (left, right) = chunk.split_at(chunk.len() / 2);
                    pending.push(right);
                    pending.push(left);
                }
            }
        }
        Ok(dead)
    }

    /// Retries until ClickHouse stores the rows (`Ok(Ok)`) or refuses them as data
    /// (`Ok(Err(reason))`).
    async fn insert_until_stored(
        &self,
        events: &[Event<'_>],
        stop: &CancellationToken,
    ) -> Result<Result<(), String>, Cancelled> {
        let mut backoff = retry_backoff();
        loop {
            let started = Instant::now();
            let outcome = self.storage.insert(events).await;
            metrics::histogram!("traceflow_worker_insert_duration_seconds")
                .record(started.elapsed().as_secs_f64());
            match outcome {
                Ok(()) => return Ok(Ok(())),
                Err(error) if error.is_data_error() => return Ok(Err(error.to_string())),
                Err(error) => wait_to_retry(&mut backoff, "insert", &error, stop).await?,
            }
        }
    }
}
