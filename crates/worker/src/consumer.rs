//! The consumer loop: one step at a time, as [`next_step`] decides from what the queue
//! shows: store the batch this consumer holds, take over a dead worker's batch, claim a new
//! batch, wait for a shallow queue to fill, or sleep.
//!
//! Nothing is acknowledged before ClickHouse has it. Outages are waited out with backoff;
//! rows ClickHouse refuses as data are isolated by splitting the batch and dead-lettered
//! one by one, so they cannot block the queue.

use crate::upkeep::Orphans;
use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use traceflow_event::Event;
use traceflow_queue::{
    Backlog, Consumer, DeadLetter, QueueError, decode_line, encode_entry, entry_lines, entry_tenant,
};
use traceflow_runtime::Backoff;
use traceflow_storage::Storage;

/// How batches are made out of the queue.
#[derive(Debug, Clone, Copy)]
pub struct Batching {
    /// Events worth an INSERT at once; fewer wait up to `flush_interval`.
    pub batch_size: usize,
    /// Most events one INSERT takes from a deep queue.
    pub max_batch_size: usize,
    pub flush_interval: Duration,
    /// Least time between the starts of this consumer's INSERTs, unless a full batch waits.
    pub insert_interval: Duration,
    pub poll_interval: Duration,
}

/// How long a consumer has been waiting, for [`next_step`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waited {
    /// Since the queue was first found too shallow to claim from.
    pub shallow: Duration,
    /// Since this consumer's last INSERT started; `Duration::MAX` before its first.
    pub since_insert: Duration,
}

/// What a consumer does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Claim and store a batch: the one held, else one from the queue.
    Claim,
    /// Take over a dead worker's batch (stored by the next step).
    TakeOver,
    /// Wait up to this long for more events, or a signal, before claiming.
    WaitForMore(Duration),
    /// Nothing to do: sleep until a signal or the poll interval.
    Idle,
}

/// The next step. A held batch comes first (its INSERT may already have succeeded, so it is
/// re-sent as it was), then a dead worker's batch, then new work. New work waits for
/// `insert_interval` since the consumer's last INSERT (unless the queue holds a full
/// `max_batch_size` batch), so a busy queue becomes a few large INSERTs a second rather than
/// many small ones; and a queue holding fewer than `batch_size` events waits until its
/// events have waited `flush_interval`, so a trickle does not become one-row INSERTs.
pub fn next_step(batching: &Batching, backlog: Backlog, orphaned: bool, waited: Waited) -> Step {
    if backlog.held {
        return Step::Claim;
    }
    if orphaned {
        return Step::TakeOver;
    }
    if backlog.queued == 0 {
        return Step::Idle;
    }
    if backlog.queued >= batching.max_batch_size as u64 {
        return Step::Claim;
    }
    let cadence = batching.insert_interval.saturating_sub(waited.since_insert);
    if !cadence.is_zero() {
        return Step::WaitForMore(cadence);
    }
    let remaining = batching.flush_interval.saturating_sub(waited.shallow);
    if backlog.queued < batching.batch_size as u64 && !remaining.is_zero() {
        return Step::WaitForMore(remaining);
    }
    Step::Claim
}

/// What became of an INSERT, retried through outages.
enum Inserted {
    Stored,
    /// ClickHouse refused the rows as data, for this reason.
    Refused(String),
    Cancelled,
}

/// Shutdown arrived while waiting; a held batch stays in Redis for the next worker.
struct Cancelled;

/// Why a step ended early.
enum Interrupted {
    Redis(QueueError),
    Cancelled,
}

impl From<QueueError> for Interrupted {
    fn from(error: QueueError) -> Self {
        Interrupted::Redis(error)
    }
}

impl From<Cancelled> for Interrupted {
    fn from(Cancelled: Cancelled) -> Self {
        Interrupted::Cancelled
    }
}

/// A consumer's timestamps behind [`Waited`].
#[derive(Default)]
struct Clock {
    /// Since when the queue has been too shallow to claim from.
    shallow_since: Option<Instant>,
    last_insert: Option<Instant>,
}

impl Clock {
    fn waited(&self) -> Waited {
        Waited {
            shallow: self
                .shallow_since
                .map_or(Duration::ZERO, |since| since.elapsed()),
            since_insert: self.last_insert.map_or(Duration::MAX, |at| at.elapsed()),
        }
    }
}

pub struct ConsumerLoop {
    pub queue: Consumer,
    pub storage: Storage,
    pub batching: Batching,
    pub wake: Arc<Notify>,
    /// Dead workers' batches found by the process's upkeep, for whichever loop is free first.
    pub orphans: Arc<Orphans>,
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
    /// Runs the next step until `stop` is cancelled; a batch being stored then is finished
    /// first. A step that fails on Redis is retried with backoff.
    pub async fn run(self, stop: CancellationToken) {
        let mut redis_backoff = retry_backoff();
        let mut clock = Clock::default();
        while !stop.is_cancelled() {
            match self.step(&mut clock, &stop).await {
                Ok(()) => redis_backoff.reset(),
                Err(Interrupted::Redis(error)) => {
                    if wait_to_retry(&mut redis_backoff, "claim", &error, &stop)
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                Err(Interrupted::Cancelled) => return,
            }
        }
    }

    /// Reads the backlog, then does what [`next_step`] says.
    async fn step(&self, clock: &mut Clock, stop: &CancellationToken) -> Result<(), Interrupted> {
        let backlog = self.queue.backlog().await?;
        match next_step(&self.batching, backlog, self.orphans.any(), clock.waited()) {
            Step::Claim => {
                clock.shallow_since = None;
                let batch = self.queue.claim(self.batching.max_batch_size).await?;
                if !batch.is_empty() {
                    clock.last_insert = Some(Instant::now());
                    self.store_batch(&batch, stop).await?;
                }
            }
            Step::TakeOver => self.take_over().await?,
            Step::WaitForMore(wait) => {
                clock.shallow_since.get_or_insert_with(Instant::now);
                self.sleep(wait, stop).await?;
            }
            Step::Idle => {
                clock.shallow_since = None;
                self.sleep(self.batching.poll_interval, stop).await?;
            }
        }
        Ok(())
    }

    /// Sleeps up to `duration`, less when woken by a signal.
    async fn sleep(&self, duration: Duration, stop: &CancellationToken) -> Result<(), Cancelled> {
        tokio::select! {
            () = self.wake.notified() => Ok(()),
            () = tokio::time::sleep(duration) => Ok(()),
            () = stop.cancelled() => Err(Cancelled),
        }
    }

    /// Makes one dead worker's batch this consumer's held batch, if it is still there. An
    /// orphan lost to a Redis failure here is found again by the upkeep's next look.
    async fn take_over(&self) -> Result<(), QueueError> {
        let Some(orphan) = self.orphans.take() else {
            return Ok(());
        };
        let events = self.queue.take_over(&orphan).await?;
        if events > 0 {
            metrics::counter!("traceflow_worker_reclaimed_events_total").increment(events);
            tracing::warn!(
                dead_worker = orphan.worker,
                shard = orphan.shard,
                worker_id = self.queue.worker_id(),
                events,
                "took over a dead worker's batch"
            );
        }
        Ok(())
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
        count_stored_by_tenant(&events, &dead);
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
            match self.insert_until_stored(chunk, stop).await {
                Inserted::Stored => {}
                Inserted::Refused(reason) if chunk.len() == 1 => {
                    dead.push(DeadLetter::new(&encode_entry(chunk), reason));
                }
                Inserted::Refused(_) => {
                    let (left, right) = chunk.split_at(chunk.len() / 2);
                    pending.push(right);
                    pending.push(left);
                }
                Inserted::Cancelled => return Err(Cancelled),
            }
        }
        Ok(dead)
    }

    /// Retries until ClickHouse stores the rows or refuses them as data.
    async fn insert_until_stored(
        &self,
        events: &[Event<'_>],
        stop: &CancellationToken,
    ) -> Inserted {
        let mut backoff = retry_backoff();
        loop {
            let started = Instant::now();
            let outcome = self.storage.insert(events).await;
            metrics::histogram!("traceflow_worker_insert_duration_seconds")
                .record(started.elapsed().as_secs_f64());
            match outcome {
                Ok(()) => return Inserted::Stored,
                Err(error) if error.is_data_error() => return Inserted::Refused(error.to_string()),
                Err(error) => {
                    if wait_to_retry(&mut backoff, "insert", &error, stop)
                        .await
                        .is_err()
                    {
                        return Inserted::Cancelled;
                    }
                }
            }
        }
    }
}

/// `traceflow_tenant_events_stored_total{tenant}`: the batch's events, less those refused
/// as rows (dead letters holding one event each; a line that was no event has no tenant).
fn count_stored_by_tenant(events: &[Event<'_>], dead: &[DeadLetter]) {
    let mut stored: BTreeMap<&str, i64> = BTreeMap::new();
    for event in events {
        *stored.entry(&event.tenant).or_default() += 1;
    }
    for letter in dead {
        if let Some(count) = stored.get_mut(entry_tenant(letter.entry.as_bytes())) {
            *count -= 1;
        }
    }
    for (tenant, count) in stored {
        metrics::counter!("traceflow_tenant_events_stored_total", "tenant" => tenant.to_owned())
            .increment(count.max(0) as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BATCHING: Batching = Batching {
        batch_size: 20,
        max_batch_size: 20_000,
        flush_interval: Duration::from_millis(250),
        insert_interval: Duration::from_millis(200),
        poll_interval: Duration::from_secs(5),
    };

    /// `shallow` since the queue was too shallow, long after the last INSERT.
    fn after(shallow: Duration) -> Waited {
        Waited {
            shallow,
            since_insert: Duration::MAX,
        }
    }

    fn backlog(queued: u64, held: bool) -> Backlog {
        Backlog { queued, held }
    }

    #[test]
    fn a_held_batch_is_stored_before_anything_else() {
        for queued in [0, 1, 20, 50_000] {
            for orphaned in [false, true] {
                assert_eq!(
                    next_step(
                        &BATCHING,
                        backlog(queued, true),
                        orphaned,
                        after(Duration::ZERO)
                    ),
                    Step::Claim,
                    "{queued} queued, orphaned {orphaned}"
                );
            }
        }
    }

    #[test]
    fn a_dead_workers_batch_comes_before_new_work() {
        for queued in [0, 1, 50_000] {
            assert_eq!(
                next_step(
                    &BATCHING,
                    backlog(queued, false),
                    true,
                    after(Duration::ZERO)
                ),
                Step::TakeOver
            );
        }
    }

    #[test]
    fn an_empty_queue_idles() {
        for waited in [Duration::ZERO, Duration::from_secs(1)] {
            assert_eq!(
                next_step(&BATCHING, backlog(0, false), false, after(waited)),
                Step::Idle
            );
        }
    }

    #[test]
    fn a_shallow_queue_waits_out_the_rest_of_the_flush_interval() {
        assert_eq!(
            next_step(&BATCHING, backlog(1, false), false, after(Duration::ZERO)),
            Step::WaitForMore(Duration::from_millis(250))
        );
        assert_eq!(
            next_step(
                &BATCHING,
                backlog(19, false),
                false,
                after(Duration::from_millis(100))
            ),
            Step::WaitForMore(Duration::from_millis(150))
        );
        for waited in [250, 400] {
            assert_eq!(
                next_step(
                    &BATCHING,
                    backlog(19, false),
                    false,
                    after(Duration::from_millis(waited))
                ),
                Step::Claim
            );
        }
    }

    #[test]
    fn a_batch_worth_an_insert_is_claimed_at_once() {
        for queued in [20, 21, 50_000] {
            assert_eq!(
                next_step(
                    &BATCHING,
                    backlog(queued, false),
                    false,
                    after(Duration::ZERO)
                ),
                Step::Claim
            );
        }
    }

    #[test]
    fn inserts_keep_their_cadence_unless_a_full_batch_waits() {
        let since_insert = |ms| Waited {
            shallow: Duration::ZERO,
            since_insert: Duration::from_millis(ms),
        };
        // A batch worth an INSERT waits out the rest of the interval since the last one...
        assert_eq!(
            next_step(&BATCHING, backlog(5_000, false), false, since_insert(50)),
            Step::WaitForMore(Duration::from_millis(150))
        );
        // ...and is claimed once it has passed.
        for ms in [200, 1_000] {
            assert_eq!(
                next_step(&BATCHING, backlog(5_000, false), false, since_insert(ms)),
                Step::Claim
            );
        }
        // A full batch does not wait: a deep queue drains in large INSERTs at once.
        assert_eq!(
            next_step(&BATCHING, backlog(20_000, false), false, since_insert(0)),
            Step::Claim
        );
        // A held batch or a dead worker's batch is not held back either.
        assert_eq!(
            next_step(&BATCHING, backlog(5, true), false, since_insert(0)),
            Step::Claim
        );
        assert_eq!(
            next_step(&BATCHING, backlog(5, false), true, since_insert(0)),
            Step::TakeOver
        );
    }
}
