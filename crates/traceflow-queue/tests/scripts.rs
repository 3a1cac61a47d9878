//! Each queue script against a real Redis (the test kit's): claim, take-over, admit/trim and
//! the depth counter, through the crate's public API, inspected with plain Redis commands.

use redis::AsyncCommands;
use std::time::Duration;
use traceflow_queue::{
    Backlog, Consumer, Orphan, Producer, Pushed, Queue, QueueKeys, QueueLocation,
};

/// One queue of its own on the shared Redis.
struct Fixture {
    location: QueueLocation,
    keys: QueueKeys,
    redis: redis::aio::MultiplexedConnection,
}

impl Fixture {
    async fn new() -> Self {
        let url = traceflow_testkit::shared_redis_url();
        let redis = redis::Client::open(url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let keys = QueueKeys::new(format!(
            "scripts_test_{}",
            &traceflow_traceid::generate()[..12]
        ));
        let location = QueueLocation::server(&url, keys.queue());
        Self {
            location,
            keys,
            redis,
        }
    }

    async fn producer(&self, max_depth: u64) -> Producer {
        Producer::connect(&self.location, max_depth).unwrap()
    }

    async fn consumer(&self, worker: &str) -> Consumer {
        Consumer::connect(&self.location, worker).unwrap()
    }

    async fn queue(&self) -> Queue {
        Queue::connect(&self.location).unwrap()
    }

    /// Pushes one entry per element, each through its own push, oldest first.
    async fn push_each(&self, entries: &[&str]) {
        let producer = self.producer(u64::MAX).await;
        for entry in entries {
            let pushed = producer.push_entries(&[entry.as_bytes().to_vec()]).await;
            assert!(matches!(pushed, Ok(Pushed::Queued { .. })), "{pushed:?}");
        }
    }

    /// The counter as stored (not through the crate), 0 when missing.
    async fn depth(&mut self) -> u64 {
        let depth: Option<u64> = self.redis.get(self.keys.depth()).await.unwrap();
        depth.unwrap_or_default()
    }

    /// The entries still queued, oldest first.
    async fn queued(&mut self) -> Vec<String> {
        let mut entries: Vec<String> = self.redis.lrange(self.keys.queue(), 0, -1).await.unwrap();
        entries.reverse();
        entries
    }

    /// A worker's processing list, in order.
    async fn processing(&mut self, worker: &str) -> Vec<String> {
        self.redis
            .lrange(self.keys.processing(worker), 0, -1)
            .await
            .unwrap()
    }
}

fn text(batch: Vec<Vec<u8>>) -> Vec<String> {
    batch
        .into_iter()
        .map(|entry| String::from_utf8(entry).unwrap())
        .collect()
}

#[tokio::test]
async fn a_claim_takes_the_oldest_entries_up_to_max_events_and_off_the_depth() {
    let mut queue = Fixture::new().await;
    queue
        .push_each(&["a1\na2\na3", "b1\nb2\nb3", "c1\nc2\nc3"])
        .await;
    assert_eq!(queue.depth().await, 9);

    let worker = queue.consumer("w").await;
    // 3 + 3 fit into 7; the third entry would overshoot and stays queued.
    let batch = text(worker.claim(7).await.unwrap());
    assert_eq!(batch, ["a1\na2\na3", "b1\nb2\nb3"]);
    assert_eq!(queue.processing("w").await, batch);
    assert_eq!(queue.queued().await, ["c1\nc2\nc3"]);
    assert_eq!(queue.depth().await, 3);
}

#[tokio::test]
async fn an_entry_larger_than_max_events_is_claimed_alone_when_it_is_the_oldest() {
    let mut queue = Fixture::new().await;
    queue.push_each(&["x1\nx2\nx3\nx4\nx5", "y1"]).await;
    let worker = queue.consumer("w").await;
    assert_eq!(text(worker.claim(2).await.unwrap()), ["x1\nx2\nx3\nx4\nx5"]);
    assert_eq!(queue.queued().await, ["y1"]);
    assert_eq!(queue.depth().await, 1);
    worker.ack(&[]).await.unwrap();
    assert_eq!(text(worker.claim(2).await.unwrap()), ["y1"]);
    assert_eq!(queue.depth().await, 0);
}

#[tokio::test]
async fn a_held_batch_comes_back_first_until_it_is_acknowledged() {
    let mut queue = Fixture::new().await;
    queue.push_each(&["a"]).await;
    let worker = queue.consumer("w").await;
    assert_eq!(text(worker.claim(10).await.unwrap()), ["a"]);
    queue.push_each(&["b"]).await;
    assert_eq!(
        worker.backlog().await.unwrap(),
        Backlog {
            queued: 1,
            held: true
        }
    );

    // As after a claim whose reply was lost: the same batch again, nothing more taken.
    assert_eq!(text(worker.claim(10).await.unwrap()), ["a"]);
    assert_eq!(queue.queued().await, ["b"]);
    assert_eq!(queue.depth().await, 1);

    worker.ack(&[]).await.unwrap();
    assert!(!worker.backlog().await.unwrap().held);
    assert_eq!(text(worker.claim(10).await.unwrap()), ["b"]);
}

#[tokio::test]
async fn a_push_is_admitted_up_to_max_depth_and_a_refused_one_leaves_nothing_queued() {
    let mut queue = Fixture::new().await;
    let producer = queue.producer(5).await;
    let entry = |text: &str| text.as_bytes().to_vec();

    assert_eq!(
        producer.push_entries(&[entry("a1\na2\na3")]).await.unwrap(),
        Pushed::Queued { depth: 3 }
    );
    // Two entries, 3 events: one too many; both entries are trimmed off again.
    assert_eq!(
        producer
            .push_entries(&[entry("b1\nb2"), entry("b3")])
            .await
            .unwrap(),
        Pushed::Full { depth: 3 }
    );
    assert_eq!(queue.queued().await, ["a1\na2\na3"]);
    assert_eq!(queue.depth().await, 3);

    // Exactly up to the limit.
    assert_eq!(
        producer
            .push_entries(&[entry("c1"), entry("c2")])
            .await
            .unwrap(),
        Pushed::Queued { depth: 5 }
    );
    assert_eq!(queue.queued().await, ["a1\na2\na3", "c1", "c2"]);
    assert_eq!(queue.depth().await, 5);
    assert_eq!(queue.queue().await.depth().await.unwrap(), 5);
}

/// Pushes of two lines each, `p<i>a` and `p<i>b`, all at once from tasks of their own.
async fn push_concurrently(producer: &Producer, pushes: usize) -> Vec<Pushed> {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..pushes {
        let producer = producer.clone();
        let entry = format!("p{i}a\np{i}b").into_bytes();
        tasks.spawn(async move { producer.push_entries(&[entry]).await.unwrap() });
    }
    tasks.join_all().await
}

#[tokio::test]
async fn concurrent_pushes_share_transactions_and_entries_and_each_is_answered() {
    let mut queue = Fixture::new().await;
    let producer = queue.producer(u64::MAX).await;

    let answers = push_concurrently(&producer, 200).await;
    assert!(
        answers
            .iter()
            .all(|pushed| matches!(pushed, Pushed::Queued { .. }))
    );
    assert_eq!(queue.depth().await, 400);

    let entries = queue.queued().await;
    assert!(
        entries.len() < 200,
        "no push shared an entry: {}",
        entries.len()
    );
    let lines: Vec<&str> = entries.iter().flat_map(|entry| entry.lines()).collect();
    assert_eq!(lines.len(), 400);
    for i in 0..200 {
        let first = lines.iter().position(|line| *line == format!("p{i}a"));
        let first = first.unwrap_or_else(|| panic!("p{i}a is not queued"));
        assert_eq!(
            lines[first + 1],
            format!("p{i}b"),
            "a push's lines stay together, in order"
        );
    }
}

#[tokio::test]
async fn pushes_the_queue_cannot_take_together_are_admitted_one_by_one() {
    let mut queue = Fixture::new().await;
    let producer = queue.producer(10).await;

    let answers = push_concurrently(&producer, 8).await;
    let queued = answers
        .iter()
        .filter(|pushed| matches!(pushed, Pushed::Queued { .. }))
        .count();
    assert_eq!(queued, 5, "{answers:?}");
    assert_eq!(queue.depth().await, 10);
    let entries = queue.queued().await;
    assert_eq!(entries.iter().flat_map(|entry| entry.lines()).count(), 10);
}

#[tokio::test]
async fn the_depth_is_counted_afresh_once_the_queue_was_emptied_by_hand() {
    let mut queue = Fixture::new().await;
    queue.push_each(&["a1\na2\na3"]).await;
    let _: () = queue.redis.del(queue.keys.queue()).await.unwrap();
    assert_eq!(queue.depth().await, 3, "stale until a script sees the list");

    // A push starts from its own events...
    queue.push_each(&["b1\nb2"]).await;
    assert_eq!(queue.depth().await, 2);

    // ...and a claim that finds the list empty sets it to 0.
    let _: () = queue.redis.del(queue.keys.queue()).await.unwrap();
    let worker = queue.consumer("w").await;
    assert!(worker.claim(10).await.unwrap().is_empty());
    assert_eq!(queue.depth().await, 0);
}

#[tokio::test]
async fn a_dead_workers_batch_is_taken_over_whole_and_in_order_never_merged() {
    let mut queue = Fixture::new().await;
    queue.push_each(&["a1\na2", "b1\nb2", "c1\nc2"]).await;
    let dead = queue.consumer("dead").await;
    dead.heartbeat(Duration::from_secs(60)).await.unwrap();
    assert_eq!(text(dead.claim(4).await.unwrap()), ["a1\na2", "b1\nb2"]);
    queue.push_each(&["d1"]).await;
    let watcher = queue.queue().await;
    assert!(watcher.orphans().await.unwrap().is_empty(), "alive");

    // The worker dies: its heartbeat is gone.
    dead.retire().await.unwrap();
    assert_eq!(watcher.orphans().await.unwrap(), [orphan("dead")]);
    let depth = queue.depth().await;
    let heir = queue.consumer("heir").await;
    heir.heartbeat(Duration::from_secs(60)).await.unwrap();
    assert_eq!(heir.take_over(&orphan("dead")).await.unwrap(), 4);
    assert_eq!(queue.processing("heir").await, ["a1\na2", "b1\nb2"]);
    assert!(queue.processing("dead").await.is_empty());
    assert!(watcher.orphans().await.unwrap().is_empty());
    // Its events left the depth when they were claimed.
    assert_eq!(queue.depth().await, depth);
    assert_eq!(queue.queued().await, ["c1\nc2", "d1"]);

    // The heir stores that batch as it stood, nothing added, before any new work.
    assert_eq!(text(heir.claim(100).await.unwrap()), ["a1\na2", "b1\nb2"]);
    heir.ack(&[]).await.unwrap();
    assert_eq!(text(heir.claim(100).await.unwrap()), ["c1\nc2", "d1"]);

    // Nothing is left to take over, for this heir or another.
    let second = queue.consumer("second").await;
    assert_eq!(second.take_over(&orphan("dead")).await.unwrap(), 0);
    assert!(queue.processing("second").await.is_empty());
}

#[tokio::test]
async fn a_batch_whose_worker_is_alive_is_not_taken_over() {
    let mut queue = Fixture::new().await;
    queue.push_each(&["a"]).await;
    let alive = queue.consumer("alive").await;
    alive.heartbeat(Duration::from_secs(60)).await.unwrap();
    alive.claim(10).await.unwrap();

    let heir = queue.consumer("heir").await;
    assert_eq!(heir.take_over(&orphan("alive")).await.unwrap(), 0);
    assert_eq!(queue.processing("alive").await, ["a"]);
    assert!(queue.processing("heir").await.is_empty());
}

#[tokio::test]
async fn a_worker_holding_a_batch_of_its_own_takes_nothing_over() {
    let mut queue = Fixture::new().await;
    queue.push_each(&["a", "b"]).await;
    let dead = queue.consumer("dead").await;
    dead.claim(1).await.unwrap();
    let heir = queue.consumer("heir").await;
    heir.claim(1).await.unwrap();

    assert_eq!(heir.take_over(&orphan("dead")).await.unwrap(), 0);
    assert_eq!(queue.processing("dead").await, ["a"]);
    assert_eq!(queue.processing("heir").await, ["b"]);

    heir.ack(&[]).await.unwrap();
    assert_eq!(heir.take_over(&orphan("dead")).await.unwrap(), 1);
    assert_eq!(queue.processing("heir").await, ["a"]);
}

#[tokio::test]
async fn every_script_runs_on_a_redis_that_forgot_its_scripts() {
    let mut queue = Fixture::new().await;
    // What a restart does to the script cache (for every test on this server: harmless, as
    // no call relies on the cache).
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut queue.redis)
        .await
        .unwrap();
    queue.push_each(&["a", "b"]).await;
    let dead = queue.consumer("dead").await;
    assert_eq!(text(dead.claim(1).await.unwrap()), ["a"]);
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut queue.redis)
        .await
        .unwrap();
    let heir = queue.consumer("heir").await;
    assert_eq!(heir.take_over(&orphan("dead")).await.unwrap(), 1);
    assert_eq!(queue.depth().await, 1);
}

/// `worker`'s batch in the one shard of a queue on one server.
fn orphan(worker: &str) -> Orphan {
    Orphan {
        worker: worker.to_owned(),
        shard: 0,
    }
}

/// An event of `tenant`, as ingestion queues it.
fn event_of(tenant: &str, message: &str) -> traceflow_event::LogEvent {
    let json = serde_json::json!({
        "id": uuid::Uuid::now_v7(),
        "tenant": tenant,
        "timestamp": "2026-05-05T10:00:00.000Z",
        "service": "s",
        "level": "INFO",
        "message": message,
        "trace_id": "t",
    });
    traceflow_queue::decode_line(json.to_string().as_bytes())
        .unwrap()
        .into_owned()
}

impl Fixture {
    /// Each tenant's count as stored.
    async fn tenant_depths(&mut self) -> Vec<(String, u64)> {
        let mut counts: Vec<(String, u64)> =
            self.redis.hgetall(self.keys.tenant_depth()).await.unwrap();
        counts.sort();
        counts
    }
}

#[tokio::test]
async fn a_tenant_over_its_share_is_refused_while_others_get_in_and_a_claim_frees_it() {
    let mut queue = Fixture::new().await;
    let producer = queue.producer(u64::MAX).await;
    let acme =
        |n: usize| -> Vec<_> { (0..n).map(|i| event_of("acme", &format!("a{i}"))).collect() };
    let beta =
        |n: usize| -> Vec<_> { (0..n).map(|i| event_of("beta", &format!("b{i}"))).collect() };

    assert!(matches!(
        producer.push(&acme(3), Some(4)).await.unwrap(),
        Pushed::Queued { depth: 3 }
    ));
    assert_eq!(
        producer.push(&acme(2), Some(4)).await.unwrap(),
        Pushed::TenantFull { queued: 3 }
    );
    assert!(matches!(
        producer.push(&beta(5), None).await.unwrap(),
        Pushed::Queued { depth: 8 }
    ));
    assert_eq!(
        queue.tenant_depths().await,
        [("acme".to_owned(), 3), ("beta".to_owned(), 5)]
    );

    // Claiming acme's entry (the oldest) takes it off acme's count, and acme gets in again.
    let consumer = queue.consumer("w1").await;
    assert_eq!(consumer.claim(3).await.unwrap().len(), 1);
    assert_eq!(queue.tenant_depths().await, [("beta".to_owned(), 5)]);
    assert!(matches!(
        producer.push(&acme(2), Some(4)).await.unwrap(),
        Pushed::Queued { .. }
    ));

    // Concurrent pushes of both: acme's beyond its share are refused, every beta push is in.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40 {
        let producer = producer.clone();
        let events = if i % 2 == 0 { acme(1) } else { beta(1) };
        let share = (i % 2 == 0).then_some(4);
        tasks.spawn(async move { (i % 2, producer.push(&events, share).await.unwrap()) });
    }
    let answers = tasks.join_all().await;
    let queued = |tenant: usize| {
        answers
            .iter()
            .filter(|(of, pushed)| *of == tenant && matches!(pushed, Pushed::Queued { .. }))
            .count()
    };
    assert_eq!((queued(0), queued(1)), (2, 20), "{answers:?}");
    assert_eq!(
        queue.tenant_depths().await,
        [("acme".to_owned(), 4), ("beta".to_owned(), 25)]
    );
    // Every entry holds one tenant's events.
    for entry in queue.queued().await {
        let tenant = traceflow_queue::entry_tenant(entry.as_bytes()).to_owned();
        assert!(
            entry
                .lines()
                .all(|line| line.contains(&format!("\"tenant\":\"{tenant}\""))),
            "{entry}"
        );
    }

    // Emptied, the counts are gone.
    consumer.ack(&[]).await.unwrap();
    while !consumer.claim(1000).await.unwrap().is_empty() {
        consumer.ack(&[]).await.unwrap();
    }
    assert_eq!(queue.tenant_depths().await, []);
    assert_eq!(queue.depth().await, 0);
}

#[tokio::test]
async fn a_batch_claimed_before_the_holders_set_existed_is_still_found_on_one_server() {
    let mut queue = Fixture::new().await;
    // A processing list as an earlier version left it: no entry in the holders set.
    let _: () = queue
        .redis
        .lpush(queue.keys.processing("old"), "a")
        .await
        .unwrap();
    let holders: Vec<String> = queue.redis.smembers(queue.keys.holders()).await.unwrap();
    assert!(holders.is_empty());

    let watcher = queue.queue().await;
    assert_eq!(watcher.orphans().await.unwrap(), [orphan("old")]);
    let heir = queue.consumer("heir").await;
    assert_eq!(heir.take_over(&orphan("old")).await.unwrap(), 1);
    assert_eq!(queue.processing("heir").await, ["a"]);
    let holders: Vec<String> = queue.redis.smembers(queue.keys.holders()).await.unwrap();
    assert_eq!(holders, [queue.keys.processing("heir")]);
}
