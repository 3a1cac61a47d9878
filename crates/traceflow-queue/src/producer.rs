//! The ingestion side: push accepted events onto the queue.
//!
//! Pushes are committed in groups: every push hands its entries to one commit task, which
//! takes all the pushes waiting at that moment and queues them with one transaction, small
//! entries joined into one. Concurrent requests then share a Redis round trip, an `admit`
//! and a list element, and each is answered only once that transaction has succeeded.
//!
//! Each tenant's events in the queue are counted too (`Q:tenant_depth`), so that a tenant
//! with a share (`max_queued_events`) is refused once it holds that many, while the others
//! still get in.
//!
//! A queue in shards (on a Redis Cluster) gets each transaction in the next shard in turn,
//! and each shard an equal part of the queue's limit and of every tenant's share. A shard
//! that refuses a group, or whose node fails, passes it to the next one; a group is refused
//! only when every shard refused it.

use crate::{
    ENTRY_MAX_EVENTS, QueueError, QueueKeys, QueueLocation,
    connection::{Connection, ShardsDown},
    encode_entry, entry_tenant,
    scripts::{Admit, Script, TenantPush},
};
use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::sync::{mpsc, oneshot};
use traceflow_event::{DEFAULT_TENANT, Event};

/// Most pushes one transaction commits; more wait for the next one.
const GROUP_MAX_PUSHES: usize = 512;
/// Pushes waiting for the commit task before a push waits for room.
const WAITING_MAX_PUSHES: usize = 4096;
/// Largest entry the commit task makes by joining smaller ones (an entry that is larger by
/// itself stays as it is), so a worker's batch stays close to its size in events.
const JOINED_ENTRY_MAX_BYTES: usize = 1 << 20;
/// How long a push waits for `REDIS_MIN_REPLICAS` replicas to confirm it (`WAIT`).
const REPLICA_WAIT: Duration = Duration::from_secs(1);
/// How long a shard whose node failed is offered groups only after the others, so that a
/// node that is down (or slow to refuse) delays few pushes.
const FAILED_SHARD_PAUSE: Duration = Duration::from_secs(1);

/// What became of a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Queued; the queue's depth afterwards (in shards: the sum of each shard's depth as
    /// this producer last saw it).
    Queued { depth: u64 },
    /// Refused whole because the queue would exceed its limit; nothing was queued.
    Full { depth: u64 },
    /// Refused whole because the tenant would exceed its share; `queued` of its events
    /// are waiting. Nothing was queued.
    TenantFull { queued: u64 },
}

/// Cheap to clone: all clones share one commit task and one multiplexed connection.
#[derive(Clone)]
pub struct Producer {
    commits: mpsc::Sender<Push>,
    connection: Connection,
    shards: Arc<[QueueKeys]>,
}

/// One push waiting for its transaction: one tenant's entries.
struct Push {
    entries: Vec<Vec<u8>>,
    events: usize,
    tenant: String,
    /// The tenant's share, if it has one.
    max_queued: Option<u64>,
    answer: oneshot::Sender<Result<Pushed, QueueError>>,
}

impl Push {
    fn tenant(&self) -> TenantPush<'_> {
        TenantPush {
            tenant: &self.tenant,
            events: self.events as u64,
            max_queued: self.max_queued,
        }
    }
}

impl Producer {
    /// Does not wait for Redis: the first command connects. Pushes that would take the
    /// queue beyond `max_depth` events are refused, so a stalled worker cannot make Redis
    /// run out of memory. Starts the commit task, which ends with the last clone.
    pub fn connect(location: &QueueLocation, max_depth: u64) -> Result<Self, QueueError> {
        let connection = Connection::open(&location.target)?;
        let (commits, waiting) = mpsc::channel(WAITING_MAX_PUSHES);
        let committer = Committer::new(connection.clone(), location, max_depth);
        tokio::spawn(committer.run(waiting));
        Ok(Self {
            commits,
            connection,
            shards: location.shards.clone().into(),
        })
    }

    /// Queues the events (one tenant's) atomically, oldest first, so the consumer (taking
    /// from the right) sees them in order: all of them, or none when the queue is full or
    /// the tenant would hold more than `max_queued` events.
    pub async fn push(
        &self,
        events: &[Event<'_>],
        max_queued: Option<u64>,
    ) -> Result<Pushed, QueueError> {
        let entries: Vec<Vec<u8>> = events.chunks(ENTRY_MAX_EVENTS).map(encode_entry).collect();
        let tenant = events.first().map_or(DEFAULT_TENANT, |event| &event.tenant);
        self.push_counted(entries, events.len(), tenant, max_queued)
            .await
    }

    /// Queues entries already in the wire format (see [`encode_entry`]) as [`Producer::push`]
    /// does, for tools and tests that build entries themselves, malformed ones included.
    /// Each line counts as an event, as the claim counts them (`events_in.lua`), and as the
    /// first entry's tenant's ([`entry_tenant`]), without a share.
    pub async fn push_entries(&self, entries: &[Vec<u8>]) -> Result<Pushed, QueueError> {
        let events = entries.iter().map(|entry| lines_in(entry)).sum();
        let tenant = entries
            .first()
            .map_or(DEFAULT_TENANT, |entry| entry_tenant(entry));
        self.push_counted(entries.to_vec(), events, tenant, None)
            .await
    }

    async fn push_counted(
        &self,
        entries: Vec<Vec<u8>>,
        events: usize,
        tenant: &str,
        max_queued: Option<u64>,
    ) -> Result<Pushed, QueueError> {
        let (answer, answered) = oneshot::channel();
        let push = Push {
            entries,
            events,
            tenant: tenant.to_owned(),
            max_queued,
            answer,
        };
        if self.commits.send(push).await.is_err() {
            return Err(committer_stopped());
        }
        answered.await.unwrap_or_else(|_| Err(committer_stopped()))
    }

    /// Whether Redis takes pushes: an error when it does not, the shards that do not
    /// answer while others do.
    pub async fn health(&self) -> Result<Option<ShardsDown>, QueueError> {
        self.connection.health(&self.shards).await
    }
}

fn committer_stopped() -> QueueError {
    QueueError::from(redis::RedisError::from((
        redis::ErrorKind::Client,
        "the queue's commit task has stopped",
    )))
}

fn lines_in(entry: &[u8]) -> usize {
    entry.iter().filter(|byte| **byte == b'\n').count() + 1
}

/// The commit task's half of the producer.
struct Committer {
    connection: Connection,
    shards: Vec<QueueKeys>,
    /// Each shard's depth as its last transaction here found it.
    depths: Vec<u64>,
    /// When each shard last failed here, if it has.
    failed_at: Vec<Option<Instant>>,
    /// The shard the next transaction goes to first.
    next: usize,
    /// The queue's limit, divided among its shards.
    shard_max_depth: u64,
    min_replicas: u32,
}

impl Committer {
    fn new(connection: Connection, location: &QueueLocation, max_depth: u64) -> Self {
        let shards = location.shards.len();
        Self {
            connection,
            depths: vec![0; shards],
            failed_at: vec![None; shards],
            shards: location.shards.clone(),
            next: 0,
            shard_max_depth: max_depth.div_ceil(shards as u64),
            min_replicas: location.min_replicas,
        }
    }

    async fn run(mut self, mut waiting: mpsc::Receiver<Push>) {
        let mut group = Vec::with_capacity(GROUP_MAX_PUSHES);
        while waiting.recv_many(&mut group, GROUP_MAX_PUSHES).await > 0 {
            self.commit(&mut group).await;
        }
    }

    /// Queues the group with one transaction. When the queue cannot take the whole group
    /// (full, or a tenant over its share), its pushes are tried one by one, so each is
    /// refused or queued on its own, as if it had come alone.
    async fn commit(&mut self, group: &mut Vec<Push>) {
        if let [push] = group.as_slice() {
            let pushed = self
                .admit_anywhere(&push.entries, push.events, &[push.tenant()])
                .await;
            answer(group, &pushed);
            return;
        }
        let events = group.iter().map(|push| push.events).sum();
        match self
            .admit_anywhere(&joined(group), events, &tenants(group))
            .await
        {
            Ok(Pushed::Full { .. } | Pushed::TenantFull { .. }) => {
                for push in group.drain(..) {
                    let pushed = self
                        .admit_anywhere(&push.entries, push.events, &[push.tenant()])
                        .await;
                    let _ = push.answer.send(pushed);
                }
            }
            pushed => answer(group, &pushed),
        }
    }

    /// Offers the entries to each shard in turn, starting with the next one (a shard that
    /// failed within [`FAILED_SHARD_PAUSE`] last), until one keeps them. Refused when all
    /// refused them (the depth then is the sum of theirs, the tenant's count the sum of its
    /// counts); failed when none kept them and one failed.
    async fn admit_anywhere(
        &mut self,
        entries: &[Vec<u8>],
        events: usize,
        tenants: &[TenantPush<'_>],
    ) -> Result<Pushed, QueueError> {
        let (mut full, mut tenant_full, mut failure) = (None, None, None);
        for shard in self.offer_order() {
            match self.admit(shard, entries, events, tenants).await {
                // Queued, so not to be offered to another shard whatever the replicas say.
                Ok((Pushed::Queued { .. }, confirmed)) if confirmed < self.min_replicas => {
                    return Err(QueueError::Unreplicated {
                        confirmed,
                        wanted: self.min_replicas,
                    });
                }
                Ok((Pushed::Queued { .. }, _)) => {
                    return Ok(Pushed::Queued {
                        depth: self.depths.iter().sum(),
                    });
                }
                Ok((Pushed::Full { depth }, _)) => *full.get_or_insert(0) += depth,
                Ok((Pushed::TenantFull { queued }, _)) => {
                    *tenant_full.get_or_insert(0) += queued;
                }
                Err(error) => {
                    self.failed_at[shard] = Some(Instant::now());
                    failure.get_or_insert(error);
                }
            }
        }
        if let Some(error) = failure {
            return Err(error);
        }
        Ok(match (tenant_full, full) {
            (Some(queued), _) => Pushed::TenantFull { queued },
            (None, depth) => Pushed::Full {
                depth: depth.unwrap_or_default(),
            },
        })
    }

    /// Every shard once, in turn from the next one, those that failed lately last.
    fn offer_order(&mut self) -> Vec<usize> {
        let count = self.shards.len();
        let start = self.next % count;
        self.next = start + 1;
        let failed_lately = |shard: &usize| {
            self.failed_at[*shard].is_some_and(|at| at.elapsed() < FAILED_SHARD_PAUSE)
        };
        let (mut order, failed): (Vec<usize>, Vec<usize>) = (start..count)
            .chain(0..start)
            .partition(|shard| !failed_lately(shard));
        order.extend(failed);
        order
    }

    /// `MULTI; LPUSH entries; EVAL admit; EXEC` in one shard: the entries never pass
    /// through Lua. With `min_replicas`, a `WAIT` follows the `EXEC` (in a transaction it
    /// would not wait); the verdict comes with the replicas that confirmed it.
    async fn admit(
        &mut self,
        shard: usize,
        entries: &[Vec<u8>],
        events: usize,
        tenants: &[TenantPush<'_>],
    ) -> Result<(Pushed, u32), QueueError> {
        let shards = self.shards.len() as u64;
        let tenants: Vec<TenantPush<'_>> = tenants
            .iter()
            .map(|part| TenantPush {
                max_queued: part.max_queued.map(|share| share.div_ceil(shards)),
                ..*part
            })
            .collect();
        let keys = &self.shards[shard];
        let admit = Admit {
            keys,
            max_depth: self.shard_max_depth,
            events: events as u64,
            entries: entries.len() as u64,
            tenants: &tenants,
        };
        let mut connection = self.connection.clone();
        let ((verdict, count), confirmed): ((u8, u64), u32) = if self.min_replicas == 0 {
            let (verdict,): ((u8, u64),) = redis::pipe()
                .atomic()
                .lpush(keys.queue(), entries)
                .ignore()
                .add_command(admit.eval())
                .query_async(&mut connection)
                .await?;
            (verdict, 0)
        } else {
            let ((_, verdict), confirmed): ((u64, (u8, u64)), u32) = redis::pipe()
                .cmd("MULTI")
                .ignore()
                .lpush(keys.queue(), entries)
                .ignore()
                .add_command(admit.eval())
                .ignore()
                .cmd("EXEC")
                .cmd("WAIT")
                .arg(self.min_replicas)
                .arg(REPLICA_WAIT.as_millis() as u64)
                .query_async(&mut connection)
                .await?;
            (verdict, confirmed)
        };
        let pushed = match verdict {
            1 => {
                self.depths[shard] = count;
                Pushed::Queued { depth: count }
            }
            2 => Pushed::TenantFull { queued: count },
            _ => {
                self.depths[shard] = count;
                Pushed::Full { depth: count }
            }
        };
        Ok((pushed, confirmed))
    }
}

/// Gives every push of the group the same answer and empties it. A push whose request has
/// gone (its client disconnected) finds nobody to answer; its events are queued all the same.
fn answer(group: &mut Vec<Push>, pushed: &Result<Pushed, QueueError>) {
    for push in group.drain(..) {
        let _ = push.answer.send(pushed.clone());
    }
}

/// Each tenant of the group, with its events and its share (the smallest its pushes carry:
/// a share changed by a reload meanwhile).
fn tenants(group: &[Push]) -> Vec<TenantPush<'_>> {
    let mut tenants: BTreeMap<&str, TenantPush<'_>> = BTreeMap::new();
    for push in group {
        tenants
            .entry(&push.tenant)
            .and_modify(|part| {
                part.events += push.events as u64;
                part.max_queued = match (part.max_queued, push.max_queued) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            })
            .or_insert_with(|| push.tenant());
    }
    tenants.into_values().collect()
}

/// The group's entries in order, consecutive small ones of one tenant joined into one (lines
/// joined by `\n`, as within an entry) up to [`ENTRY_MAX_EVENTS`] events and
/// [`JOINED_ENTRY_MAX_BYTES`].
fn joined(group: &[Push]) -> Vec<Vec<u8>> {
    let mut entries: Vec<Vec<u8>> = Vec::new();
    let mut last_events = 0;
    let mut last_tenant = None;
    for (tenant, entry) in group
        .iter()
        .flat_map(|push| push.entries.iter().map(|entry| (&push.tenant, entry)))
    {
        let events = lines_in(entry);
        let same_tenant = last_tenant == Some(tenant);
        last_tenant = Some(tenant);
        match entries.last_mut() {
            Some(last)
                if same_tenant
                    && last_events + events <= ENTRY_MAX_EVENTS
                    && last.len() + 1 + entry.len() <= JOINED_ENTRY_MAX_BYTES =>
            {
                last.push(b'\n');
                last.extend_from_slice(entry);
                last_events += events;
            }
            _ => {
                entries.push(entry.clone());
                last_events = events;
            }
        }
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(entries: &[&str]) -> Push {
        push_for("default", entries)
    }

    fn push_for(tenant: &str, entries: &[&str]) -> Push {
        let entries: Vec<Vec<u8>> = entries.iter().map(|e| e.as_bytes().to_vec()).collect();
        let events = entries.iter().map(|entry| lines_in(entry)).sum();
        Push {
            entries,
            events,
            tenant: tenant.to_owned(),
            max_queued: None,
            answer: oneshot::channel().0,
        }
    }

    fn text(entries: Vec<Vec<u8>>) -> Vec<String> {
        entries
            .into_iter()
            .map(|entry| String::from_utf8(entry).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn every_shard_is_offered_a_group_once_in_turn_those_failed_lately_last() {
        let mut location = QueueLocation::server("redis://127.0.0.1:1", "q");
        location.shards = (0..4)
            .map(|i| QueueKeys::new(format!("{{q:{i}}}")))
            .collect();
        let connection = Connection::open(&location.target).unwrap();
        let mut committer = Committer::new(connection, &location, 10);
        assert_eq!(
            committer.shard_max_depth, 3,
            "each shard its part, rounded up"
        );
        assert_eq!(committer.offer_order(), [0, 1, 2, 3]);
        assert_eq!(committer.offer_order(), [1, 2, 3, 0]);
        committer.failed_at[3] = Some(Instant::now());
        committer.failed_at[0] = Some(Instant::now() - FAILED_SHARD_PAUSE);
        assert_eq!(committer.offer_order(), [2, 0, 1, 3]);
        assert_eq!(committer.offer_order(), [0, 1, 2, 3]);
    }

    #[test]
    fn small_entries_are_joined_in_order() {
        let group = [push(&["a"]), push(&["b1\nb2"]), push(&["c"])];
        assert_eq!(text(joined(&group)), ["a\nb1\nb2\nc"]);
    }

    #[test]
    fn a_joined_entry_holds_at_most_entry_max_events() {
        let full = vec!["x"; ENTRY_MAX_EVENTS - 1].join("\n");
        let group = [push(&[&full]), push(&["y"]), push(&["z"])];
        let entries = text(joined(&group));
        assert_eq!(entries.len(), 2);
        assert_eq!(lines_in(entries[0].as_bytes()), ENTRY_MAX_EVENTS);
        assert!(entries[0].ends_with("x\ny"));
        assert_eq!(entries[1], "z");
    }

    #[test]
    fn only_one_tenants_entries_are_joined_and_each_tenant_is_counted_once() {
        let mut limited = push_for("acme", &["a2"]);
        limited.max_queued = Some(5);
        let group = [
            push_for("acme", &["a1"]),
            push_for("beta", &["b1"]),
            push_for("beta", &["b2\nb3"]),
            limited,
        ];
        assert_eq!(text(joined(&group)), ["a1", "b1\nb2\nb3", "a2"]);
        let counted: Vec<(&str, u64, Option<u64>)> = tenants(&group)
            .iter()
            .map(|part| (part.tenant, part.events, part.max_queued))
            .collect();
        assert_eq!(counted, [("acme", 2, Some(5)), ("beta", 3, None)]);
    }

    #[test]
    fn a_large_entry_stays_whole_and_is_not_joined() {
        let large = "l".repeat(JOINED_ENTRY_MAX_BYTES);
        let group = [push(&["a"]), push(&[&large]), push(&["b"])];
        let entries = text(joined(&group));
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0], "a");
        assert_eq!(entries[1].len(), JOINED_ENTRY_MAX_BYTES);
        assert_eq!(entries[2], "b");
    }
}
