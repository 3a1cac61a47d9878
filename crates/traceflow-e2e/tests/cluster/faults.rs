//! Both engines' clusters under load and their faults: two ingestion processes and two
//! workers on the ClickHouse cluster and a Redis Cluster, 20,000 events, while a ClickHouse
//! replica is killed and restarted, ZooKeeper stops for 20 s (a worker SIGKILLed meanwhile,
//! holding batches it could not store), and a Redis primary restarts. Clients send every
//! request until it is answered 202, as shippers do.

use super::{ONE_AT_A_TIME, get, replicated};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use traceflow_queue::{Queue, QueueLocation, ShardsDown};
use traceflow_testkit::{
    CLUSTER, ClickHouseCluster, RedisCluster, Service, StackOptions, TestStack,
};

const EVENTS: usize = 20_000;
const PER_REQUEST: usize = 100;
/// Clients sending at once, each request after the last one's answer.
const SENDERS: usize = 4;
const SHARDS: usize = 6;

/// What the clients saw: requests not answered 202 (and sent again).
#[derive(Default)]
struct Sent {
    refused: AtomicUsize,
}

/// Sends the events `fault <n>` in requests of [`PER_REQUEST`], spread over `targets` and
/// paced over about `over`; a request not answered 202 is sent again, as a client does.
async fn send_all(http: reqwest::Client, targets: Vec<String>, over: Duration, sent: Arc<Sent>) {
    let requests = EVENTS / PER_REQUEST;
    let pause = over / (requests / SENDERS) as u32;
    let senders = (0..SENDERS).map(|sender| {
        let (http, targets, sent) = (http.clone(), targets.clone(), sent.clone());
        tokio::spawn(async move {
            for request in (sender..requests).step_by(SENDERS) {
                let body: Vec<String> = (request * PER_REQUEST..(request + 1) * PER_REQUEST)
                    .map(|n| {
                        serde_json::json!({"service": "fault", "level": "INFO",
                                           "message": format!("fault {n}")})
                        .to_string()
                    })
                    .collect();
                let target = &targets[request % targets.len()];
                loop {
                    let answer = http
                        .post(format!("{target}/ingest"))
                        .header("Content-Type", "application/x-ndjson")
                        .body(body.join("\n"))
                        .send()
                        .await;
                    match answer {
                        Ok(answer) if answer.status() == 202 => break,
                        Ok(answer) => {
                            let status = answer.status();
                            let text = answer.text().await.unwrap_or_default();
                            eprintln!("sent again after {status}: {text}");
                        }
                        Err(error) => eprintln!("sent again after {error}"),
                    }
                    sent.refused.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                tokio::time::sleep(pause).await;
            }
        })
    });
    for sender in senders.collect::<Vec<_>>() {
        sender.await.expect("a sender does not panic");
    }
}

/// `(rows, distinct messages, distinct ids)` of the stored `fault` events.
async fn stored(stack: &TestStack) -> (u64, u64, u64) {
    let text = stack
        .clickhouse(
            "SELECT count(), uniqExact(message), uniqExact(event_id) FROM logs \
             WHERE service = 'fault' FORMAT TSV",
        )
        .await;
    let numbers: Vec<u64> = text
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    (numbers[0], numbers[1], numbers[2])
}

/// A service's `/metrics`: each sample's name (with its labels) and value.
async fn metrics(stack: &TestStack, url: &str) -> Vec<(String, f64)> {
    let text = stack
        .http
        .get(format!("{url}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            Some((name.to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// The value of the sample `name` in `samples`, 0 when it is not there (yet).
fn sample(samples: &[(String, f64)], name: &str) -> f64 {
    samples
        .iter()
        .find_map(|(sample, value)| (sample == name).then_some(*value))
        .unwrap_or_default()
}

/// Runs blocking test-kit work (a server's start or stop) without stalling the clients.
fn blocking<T>(work: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(work)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_thousand_events_through_both_clusters_and_their_faults_each_stored_once() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let mut clickhouse = blocking(ClickHouseCluster::start);
    let mut redis = blocking(RedisCluster::start);
    let stack = TestStack::spawn_with(StackOptions {
        clickhouse_url: Some(clickhouse.url()),
        processes: true,
        heartbeat_ttl: Some(Duration::from_secs(3)),
        extra_env: vec![
            ("CLICKHOUSE_CLUSTER", CLUSTER.to_owned()),
            ("REDIS_CLUSTER_NODES", redis.nodes().join(",")),
            ("REDIS_QUEUE_SHARDS", SHARDS.to_string()),
        ],
        ..StackOptions::default()
    })
    .await;
    let (_second_ingestion, second_ingestion_url) =
        stack.start_another(Service::Ingestion, &[]).await;
    let (mut second_worker, _) = stack.start_another(Service::Worker, &[]).await;

    let sent = Arc::new(Sent::default());
    let sending = tokio::spawn(send_all(
        stack.http.clone(),
        vec![stack.ingestion_url.clone(), second_ingestion_url],
        Duration::from_secs(40),
        sent.clone(),
    ));
    let started = Instant::now();
    let at = |seconds: u64| {
        tokio::time::sleep(
            (started + Duration::from_secs(seconds)).saturating_duration_since(Instant::now()),
        )
    };

    // A replica killed: the query service keeps answering for every shard.
    at(3).await;
    clickhouse.nodes[3].kill();
    for _ in 0..10 {
        let (status, body) = get(&stack, "/logs/count?service=fault").await;
        assert_eq!(status, 200, "with a replica down: {body}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    blocking(|| clickhouse.nodes[3].start_again());

    // ZooKeeper stopped for 20 s; the second worker SIGKILLed meanwhile, holding batches
    // whose inserts wait for the keeper.
    at(10).await;
    let stopped = Instant::now();
    blocking(|| clickhouse.zookeeper.stop());
    tokio::time::sleep(Duration::from_secs(8)).await;
    // Events wait in the queue meanwhile: the worker's depth gauges, each shard's and the
    // total, from one look at every shard.
    let samples = metrics(&stack, &stack.worker_http_url).await;
    let shards: Vec<f64> = (0..SHARDS)
        .map(|shard| {
            sample(
                &samples,
                &format!("traceflow_queue_shard_depth{{shard=\"{shard}\"}}"),
            )
        })
        .collect();
    let total = sample(&samples, "traceflow_queue_depth");
    assert!(
        total > 0.0,
        "nothing queued while ZooKeeper is down: {samples:?}"
    );
    assert_eq!(shards.iter().sum::<f64>(), total, "{shards:?}");
    assert!(
        shards.iter().filter(|depth| **depth > 0.0).count() > 1,
        "{shards:?}"
    );
    blocking(|| second_worker.kill());
    tokio::time::sleep(Duration::from_secs(20).saturating_sub(stopped.elapsed())).await;
    blocking(|| clickhouse.zookeeper.start_again());

    // A Redis primary restarted.
    at(33).await;
    let location = QueueLocation::cluster(&redis.nodes(), stack.queue_keys.queue(), SHARDS);
    let restarted = redis.primary_of(location.shards[0].queue());
    blocking(|| redis.stop(restarted));
    // Ingestion and the worker say which shards do not answer, and go on with the others.
    let down =
        (0..SHARDS).filter(|shard| redis.primary_of(location.shards[*shard].queue()) == restarted);
    let down = ShardsDown {
        shards: down.collect(),
        of: SHARDS,
    };
    let urls = [&stack.ingestion_url, &stack.worker_http_url];
    super::degraded(&stack, urls, &down.to_string()).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    blocking(|| redis.start_again(restarted));

    sending.await.expect("the clients finish");
    let deadline = Instant::now() + Duration::from_secs(120);
    let (rows, messages, ids) = loop {
        let counts = stored(&stack).await;
        if counts.1 as usize >= EVENTS || Instant::now() > deadline {
            break counts;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let refused = sent.refused.load(Ordering::Relaxed);
    println!(
        "stored {rows} rows, {messages} distinct messages, {ids} distinct ids; \
         {refused} requests answered other than 202 and sent again"
    );
    assert_eq!(messages as usize, EVENTS, "every accepted event is stored");
    // The shards of the primary that restarted passed their pushes to the others.
    assert_eq!(refused, 0, "requests refused while the clusters had faults");
    // An event is stored once: the shards deduplicate a re-sent batch. The one exception
    // the README states: a push in flight when its Redis primary stopped may have been
    // queued there and in the next shard, at most the pushes in flight then.
    assert!(
        rows - ids <= (SENDERS * PER_REQUEST) as u64,
        "{rows} rows for {ids} events"
    );
    // Each row is on its shard, by the hash of its id, and the killed replica caught up.
    let counts = replicated(&stack, &clickhouse).await;
    assert_eq!(counts[0] + counts[2], rows, "{counts:?}");
    for (shard, node) in [(0, &clickhouse.nodes[0]), (1, &clickhouse.nodes[2])] {
        let misplaced = super::on_node(
            &stack,
            node,
            &format!(
                "SELECT count() FROM logs_local WHERE cityHash64(toString(event_id)) % 2 != {shard}"
            ),
        )
        .await;
        assert_eq!(
            misplaced,
            "0",
            "rows of another shard on {}",
            node.address()
        );
    }

    // The killed worker's batches were taken over by the other; the queue is empty.
    let samples = metrics(&stack, &stack.worker_http_url).await;
    let reclaimed = sample(&samples, "traceflow_worker_reclaimed_events_total");
    assert!(
        reclaimed > 0.0,
        "no batch of the killed worker was taken over"
    );
    let queue = Queue::connect(&location).unwrap();
    assert_eq!(queue.depth().await.unwrap(), 0);
    stack.shutdown().await;
}
