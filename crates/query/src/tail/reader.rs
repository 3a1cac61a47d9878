//! One reader per distinct filter, shared by every client tailing it: it polls ClickHouse a
//! few times a second and fans what is new out to its clients, so that ClickHouse's load
//! grows with the number of different filters tailed, not with the number of clients.
//!
//! "New" follows the stored data rather than the clock: each poll finds where the stored
//! events end (the front: the newest timestamp, ignoring any in the future) and reads the
//! matching events from [`LOOKBACK`] before it, passing on those it has not passed on
//! before. So events that concurrent workers store slightly out of order are still pushed,
//! and a queue backlog (events stored long after their timestamp) does not stop the tail.
//! Events stored with a timestamp further behind the front (a backfill) are not news to a
//! tail; `GET /logs` finds them.

use super::seen::Seen;
use crate::clickhouse::LazyStorage;
use chrono::{DateTime, TimeDelta, Utc};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::{
    sync::{broadcast, watch},
    time::MissedTickBehavior,
};
use tokio_util::sync::CancellationToken;
use traceflow_event::LogEvent;
use traceflow_storage::{
    LogFilter, LogQuery, MAX_LIMIT, Order, Page, Position, Storage, StorageError,
};

/// What one poll found, in the table's order.
pub(crate) type Batch = Arc<[LogEvent]>;

/// How often a reader polls: well within the second a new event may take to reach clients.
const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// How far behind the front each poll re-reads, for events stored out of order.
pub(super) const LOOKBACK: TimeDelta = TimeDelta::seconds(5);
/// How far back a new reader looks for the front.
const FIRST_LOOK: TimeDelta = TimeDelta::hours(1);
/// Batches a client may fall behind by; beyond, it catches up from ClickHouse itself.
const BACKLOG: usize = 256;

/// A client's end of a reader.
pub(crate) struct Subscription {
    pub(crate) events: broadcast::Receiver<Batch>,
    /// True once the reader has read what was stored before: from then on, every event
    /// stored is pushed.
    pub(crate) primed: watch::Receiver<bool>,
}

struct Feed {
    events: broadcast::Sender<Batch>,
    primed: watch::Receiver<bool>,
}

/// The readers, by filter.
pub(crate) struct TailHub {
    storage: LazyStorage,
    feeds: Mutex<HashMap<LogFilter, Feed>>,
    stop: CancellationToken,
}

impl TailHub {
    pub(crate) fn new(storage: LazyStorage, stop: CancellationToken) -> Arc<Self> {
        Arc::new(Self {
            storage,
            feeds: Mutex::new(HashMap::new()),
            stop,
        })
    }

    /// Joins the reader for `filter`, starting one if there is none.
    pub(crate) fn subscribe(self: &Arc<Self>, filter: &LogFilter) -> Subscription {
        let mut feeds = self.feeds.lock().expect("no panic while holding the lock");
        if let Some(feed) = feeds.get(filter) {
            return Subscription {
                events: feed.events.subscribe(),
                primed: feed.primed.clone(),
            };
        }
        let (events, receiver) = broadcast::channel(BACKLOG);
        let (primed_sender, primed) = watch::channel(false);
        feeds.insert(
            filter.clone(),
            Feed {
                events: events.clone(),
                primed: primed.clone(),
            },
        );
        tokio::spawn(self.clone().read(filter.clone(), events, primed_sender));
        Subscription {
            events: receiver,
            primed,
        }
    }

    async fn read(
        self: Arc<Self>,
        filter: LogFilter,
        events: broadcast::Sender<Batch>,
        primed: watch::Sender<bool>,
    ) {
        metrics::gauge!("traceflow_query_tail_readers").increment(1.0);
        let mut reader = Reader::new(filter.clone());
        let mut ticks = tokio::time::interval(POLL_INTERVAL);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                () = self.stop.cancelled() => break,
            }
            if self.retire_if_unwatched(&filter, &events) {
                break;
            }
            let polled = match self.storage.get().await {
                Ok(storage) => reader.poll(storage, Utc::now()).await,
                Err(error) => Err(error),
            };
            metrics::counter!("traceflow_query_tail_polls_total").increment(1);
            match polled {
                Ok(fresh) => {
                    if failing {
                        tracing::info!("tail reader reaches clickhouse again");
                        failing = false;
                    }
                    if !*primed.borrow() {
                        // The first poll reads what was stored before anyone tailed: not news.
                        primed.send_replace(true);
                    } else if !fresh.is_empty() {
                        // No receiver left is fine: the next tick retires the reader.
                        let _ = events.send(fresh.into());
                    }
                }
                Err(error) if !failing => {
                    tracing::warn!(%error, "tail reader cannot poll clickhouse; retrying");
                    failing = true;
                }
                Err(_) => {}
            }
        }
        metrics::gauge!("traceflow_query_tail_readers").decrement(1.0);
    }

    /// Removes the reader when its last client has gone. Under the lock, so a client that
    /// subscribes meanwhile either keeps this reader or starts a new one.
    fn retire_if_unwatched(&self, filter: &LogFilter, events: &broadcast::Sender<Batch>) -> bool {
        let mut feeds = self.feeds.lock().expect("no panic while holding the lock");
        if events.receiver_count() > 0 {
            return false;
        }
        feeds.remove(filter);
        true
    }
}

/// A filter's view of the table: where the stored data ends, and what was passed on.
struct Reader {
    filter: LogFilter,
    front: Option<DateTime<Utc>>,
    seen: Seen,
}

impl Reader {
    fn new(filter: LogFilter) -> Self {
        Self {
            filter,
            front: None,
            seen: Seen::default(),
        }
    }

    /// The matching events stored since the last poll, in the table's order.
    async fn poll(
        &mut self,
        storage: &Storage,
        now: DateTime<Utc>,
    ) -> Result<Vec<LogEvent>, StorageError> {
        let since = self
            .front
            .map_or(now - FIRST_LOOK, |front| front - LOOKBACK);
        // A second of slack for clocks; anything further ahead is a wrong timestamp and
        // must not drag the front (and with it what counts as news) into the future.
        let newest = storage
            .newest_timestamp(&self.filter.tenant, since, now + TimeDelta::seconds(1))
            .await?;
        let front = self.front.max(newest).unwrap_or(now);
        self.front = Some(front);
        let floor = Position::start_of(front - LOOKBACK);
        let mut query = LogQuery {
            filter: self.filter.clone(),
            order: Order::Asc,
            page: Page::After(floor),
            limit: MAX_LIMIT,
        };
        let mut fresh = Vec::new();
        loop {
            let page = storage.search(&query).await?;
            fresh.extend(
                page.logs
                    .into_iter()
                    .filter(|event| self.seen.insert(Position::of(event))),
            );
            match page.next {
                Some(next) => query.page = Page::After(next),
                None => break,
            }
        }
        self.seen.forget_before(floor);
        Ok(fresh)
    }
}
