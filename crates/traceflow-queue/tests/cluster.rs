//! The queue in shards on a real Redis Cluster (the test kit's three primaries), and the
//! replicas' confirmation (`REDIS_MIN_REPLICAS`) on a real primary and replica.

use std::time::Duration;
use traceflow_queue::{Consumer, Orphan, Producer, Pushed, Queue, QueueLocation, ShardsDown};
use traceflow_testkit::{RedisCluster, RedisServer};

const SHARDS: usize = 6;

fn sharded(cluster: &RedisCluster) -> QueueLocation {
    let name = format!("cluster_test_{}", &traceflow_traceid::generate()[..12]);
    QueueLocation::cluster(&cluster.nodes(), &name, SHARDS)
}

/// Pushes one single-line entry per name, each its own transaction.
async fn push_each(producer: &Producer, names: impl IntoIterator<Item = String>) {
    for name in names {
        let pushed = producer.push_entries(&[name.into_bytes()]).await;
        assert!(matches!(pushed, Ok(Pushed::Queued { .. })), "{pushed:?}");
    }
}

/// Claims and acknowledges until the queue is empty; returns the lines, each once.
async fn drain(consumer: &Consumer) -> Vec<String> {
    let mut lines = Vec::new();
    loop {
        let backlog = consumer.backlog().await.unwrap();
        if backlog.queued == 0 && !backlog.held {
            return lines;
        }
        let batch = consumer.claim(7).await.unwrap();
        lines.extend(
            batch
                .iter()
                .map(|entry| String::from_utf8_lossy(entry).into_owned()),
        );
        consumer.ack(&[]).await.unwrap();
    }
}

fn numbered(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|n| format!("{prefix}-{n}")).collect()
}

#[tokio::test]
async fn pushes_spread_over_every_shard_and_a_consumer_claims_each_entry_once() {
    let cluster = RedisCluster::start();
    let location = sharded(&cluster);
    let producer = Producer::connect(&location, u64::MAX).unwrap();
    push_each(&producer, numbered("e", 60)).await;

    let queue = Queue::connect(&location).unwrap();
    let depths = queue.shard_depths().await.unwrap();
    assert_eq!(depths, vec![10; SHARDS], "one transaction a shard in turn");
    assert_eq!(queue.depth().await.unwrap(), 60);
    // Their names spread the shards evenly over the primaries, as Redis itself places them.
    let mut per_primary = [0; 3];
    for shard in &location.shards {
        per_primary[cluster.primary_of(shard.queue())] += 1;
    }
    assert_eq!(per_primary, [SHARDS / 3; 3]);

    let consumer = Consumer::connect(&location, "w").unwrap();
    let mut lines = drain(&consumer).await;
    lines.sort();
    let mut expected = numbered("e", 60);
    expected.sort();
    assert_eq!(lines, expected);
    assert_eq!(queue.depth().await.unwrap(), 0);
}

#[tokio::test]
async fn each_shard_takes_its_part_of_the_limit_and_a_push_goes_where_there_is_room() {
    let cluster = RedisCluster::start();
    let location = sharded(&cluster);
    // 12 events: 2 a shard.
    let producer = Producer::connect(&location, 12).unwrap();
    push_each(&producer, numbered("e", 12)).await;
    assert_eq!(
        producer
            .push_entries(&[b"one more".to_vec()])
            .await
            .unwrap(),
        Pushed::Full { depth: 12 }
    );

    // Room in one shard only: the push finds it, whichever shard is next in turn.
    let consumer = Consumer::connect(&location, "w").unwrap();
    consumer.backlog().await.unwrap();
    let batch = consumer.claim(1).await.unwrap();
    assert_eq!(batch.len(), 1);
    consumer.ack(&[]).await.unwrap();
    let pushed = producer.push_entries(&[b"fits".to_vec()]).await.unwrap();
    assert!(matches!(pushed, Pushed::Queued { .. }), "{pushed:?}");
    assert_eq!(
        Queue::connect(&location).unwrap().depth().await.unwrap(),
        12
    );
}

#[tokio::test]
async fn a_primary_down_leaves_the_other_shards_serving_and_keeps_its_own() {
    let mut cluster = RedisCluster::start();
    let location = sharded(&cluster);
    let producer = Producer::connect(&location, u64::MAX).unwrap();
    push_each(&producer, numbered("before", 30)).await;

    let down = cluster.primary_of(location.shards[0].queue());
    cluster.stop(down);
    let queue = Queue::connect(&location).unwrap();
    let shards_down: Vec<usize> = (0..SHARDS)
        .filter(|shard| cluster.primary_of(location.shards[*shard].queue()) == down)
        .collect();
    let expected = ShardsDown {
        shards: shards_down,
        of: SHARDS,
    };
    assert_eq!(queue.health().await.unwrap(), Some(expected.clone()));
    assert_eq!(producer.health().await.unwrap(), Some(expected));
    // Every push is still queued: a shard whose primary is down passes it on.
    push_each(&producer, numbered("during", 30)).await;
    let consumer = Consumer::connect(&location, "w").unwrap();
    let served = drain(&consumer).await;
    assert!(served.iter().any(|line| line.starts_with("during")));

    cluster.start_again(down);
    let mut lines = served;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while lines.len() < 60 && std::time::Instant::now() < deadline {
        lines.extend(drain(&consumer).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    lines.sort();
    let mut expected = [numbered("before", 30), numbered("during", 30)].concat();
    expected.sort();
    assert_eq!(
        lines, expected,
        "every entry once, the restarted shard's included"
    );
    assert_eq!(queue.health().await.unwrap(), None);
}

#[tokio::test]
async fn with_every_primary_down_the_queue_fails_and_serves_again_once_they_are_back() {
    let mut cluster = RedisCluster::start();
    let location = sharded(&cluster);
    let producer = Producer::connect(&location, u64::MAX).unwrap();
    push_each(&producer, numbered("before", 12)).await;
    for primary in 0..3 {
        cluster.stop(primary);
    }
    assert!(producer.health().await.is_err());
    assert!(producer.push_entries(&[b"refused".to_vec()]).await.is_err());
    let consumer = Consumer::connect(&location, "w").unwrap();
    assert!(consumer.backlog().await.is_err());

    for primary in 0..3 {
        cluster.start_again(primary);
    }
    // The client reconnects by itself: no new connection is made here.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while producer.health().await.map_or(true, |down| down.is_some()) {
        assert!(std::time::Instant::now() < deadline, "not back after 20 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    push_each(&producer, numbered("after", 12)).await;
    let mut lines = drain(&consumer).await;
    lines.sort();
    let mut expected = [numbered("before", 12), numbered("after", 12)].concat();
    expected.sort();
    assert_eq!(lines, expected, "what was queued before the outage is kept");
}

#[tokio::test]
async fn a_dead_workers_batch_in_any_shard_is_found_without_a_scan_and_taken_over() {
    let cluster = RedisCluster::start();
    let location = sharded(&cluster);
    let producer = Producer::connect(&location, u64::MAX).unwrap();
    push_each(&producer, numbered("e", SHARDS * 2)).await;

    let dead = Consumer::connect(&location, "dead").unwrap();
    dead.heartbeat(Duration::from_secs(60)).await.unwrap();
    dead.backlog().await.unwrap();
    let held = dead.claim(100).await.unwrap();
    assert_eq!(held.len(), 2, "one shard's entries");
    let queue = Queue::connect(&location).unwrap();
    assert!(queue.orphans().await.unwrap().is_empty(), "alive");

    dead.retire().await.unwrap();
    let orphans = queue.orphans().await.unwrap();
    let [Orphan { worker, shard }] = orphans.as_slice() else {
        panic!("one orphan expected: {orphans:?}");
    };
    assert_eq!(worker, "dead");
    let heir = Consumer::connect(&location, "heir").unwrap();
    assert_eq!(heir.take_over(&orphans[0]).await.unwrap(), 2);
    assert_eq!(
        heir.claim(100).await.unwrap(),
        held,
        "the batch as it stood"
    );
    heir.ack(&[]).await.unwrap();
    assert!(queue.orphans().await.unwrap().is_empty());
    assert_eq!(queue.shard_depths().await.unwrap()[*shard], 0);
    assert_eq!(queue.depth().await.unwrap(), (SHARDS as u64 - 1) * 2);
}

#[tokio::test]
async fn with_min_replicas_a_push_is_answered_once_a_replica_has_it() {
    let primary = RedisServer::start();
    let name = format!("wait_test_{}", &traceflow_traceid::generate()[..12]);
    let location = QueueLocation {
        min_replicas: 1,
        ..QueueLocation::server(&primary.url(), &name)
    };
    let producer = Producer::connect(&location, u64::MAX).unwrap();

    // No replica: the entry is queued on the primary, but the push is not confirmed.
    let error = producer
        .push_entries(&[b"alone".to_vec()])
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(error, "too few redis replicas confirmed the push (0 of 1)");

    let replica = RedisServer::start_replica_of(primary.port());
    let client = redis::Client::open(replica.url()).unwrap();
    let mut replica_connection = client.get_multiplexed_async_connection().await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        match producer.push_entries(&[b"replicated".to_vec()]).await {
            Ok(pushed) => {
                assert!(matches!(pushed, Pushed::Queued { .. }), "{pushed:?}");
                break;
            }
            // The replica's first sync takes a moment.
            Err(error) if std::time::Instant::now() < deadline => {
                assert!(
                    error.to_string().starts_with("too few redis replicas"),
                    "{error}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(error) => panic!("no replica confirmed within 20 s: {error}"),
        }
    }
    let on_replica: Vec<String> =
        redis::AsyncCommands::lrange(&mut replica_connection, &name, 0, 0)
            .await
            .unwrap();
    assert_eq!(
        on_replica,
        ["replicated"],
        "answered only once the replica had it"
    );
}
