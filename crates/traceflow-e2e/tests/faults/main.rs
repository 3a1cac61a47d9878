//! Fault tests: the services as real processes under load while workers are killed,
//! ClickHouse and Redis go away, and services get SIGTERM. Each asserts the promise of a
//! 202: the event ends up in ClickHouse. A separate test binary, so the load here does not
//! disturb the timing of the other end-to-end tests.

mod startup;

use futures::{StreamExt, stream};
use std::{
    collections::HashMap,
    time::{Duration, Instant},
};
use traceflow_testkit::{ClickHouseServer, RedisServer, StackOptions, TestStack};

/// What the clients saw.
#[derive(Debug, Default)]
struct LoadReport {
    /// Messages of the events answered 202.
    accepted: Vec<String>,
    /// Answers by status; 0 counts requests that got no answer (connection refused/reset).
    statuses: HashMap<u16, usize>,
}

/// Where the load goes: a stack's ingestion, held apart so the stack can be changed
/// (services killed, restarted) while the load runs.
struct Target {
    url: String,
    http: reqwest::Client,
}

impl Target {
    fn of(stack: &TestStack) -> Self {
        Self {
            url: format!("{}/ingest", stack.ingestion_url),
            http: stack.http.clone(),
        }
    }
}

/// Posts `total` events `"{tag}-{n}"` from `clients` concurrent clients, each client
/// pausing `pause` after each request.
async fn load(
    target: &Target,
    tag: &str,
    total: usize,
    clients: usize,
    pause: Duration,
) -> LoadReport {
    let (url, http) = (&target.url, &target.http);
    let results: Vec<(String, u16)> = stream::iter(0..total)
        .map(|n| {
            let message = format!("{tag}-{n}");
            async move {
                let event =
                    serde_json::json!({"service": "load", "level": "INFO", "message": message});
                let status = match http
                    .post(url)
                    .json(&event)
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await
                {
                    Ok(answer) => answer.status().as_u16(),
                    Err(_) => 0,
                };
                tokio::time::sleep(pause).await;
                (message, status)
            }
        })
        .buffer_unordered(clients)
        .collect()
        .await;
    let mut report = LoadReport::default();
    for (message, status) in results {
        *report.statuses.entry(status).or_default() += 1;
        if status == 202 {
            report.accepted.push(message);
        }
    }
    report
}

/// How many times each message is stored, straight from ClickHouse.
async fn stored(stack: &TestStack) -> HashMap<String, u64> {
    let answer = stack
        .http
        .post(&stack.clickhouse_url)
        .body(format!(
            "SELECT message, count() FROM {}.logs GROUP BY message FORMAT TSV",
            stack.database
        ))
        .send()
        .await;
    let Ok(answer) = answer else {
        return HashMap::new();
    };
    let text = answer.text().await.unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let (message, count) = line.split_once('\t')?;
            Some((message.to_owned(), count.parse().ok()?))
        })
        .collect()
}

/// Waits until every accepted message is stored; returns how many rows are duplicates.
/// Panics naming a few missing messages after `timeout`.
async fn all_stored(stack: &TestStack, accepted: &[String], timeout: Duration) -> u64 {
    let deadline = Instant::now() + timeout;
    loop {
        let rows = stored(stack).await;
        let missing: Vec<&String> = accepted.iter().filter(|m| !rows.contains_key(*m)).collect();
        if missing.is_empty() {
            return rows.values().map(|count| count - 1).sum();
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} accepted events are not stored after {timeout:?}, e.g. {:?}",
            missing.len(),
            accepted.len(),
            &missing[..missing.len().min(5)]
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn options() -> StackOptions {
    StackOptions {
        processes: true,
        poll_interval: Duration::from_millis(500),
        heartbeat_ttl: Some(Duration::from_secs(2)),
        ..StackOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_killed_three_times_under_load_loses_nothing() {
    let max_batch_size = 200;
    let mut stack = TestStack::spawn_with(StackOptions {
        max_batch_size: Some(max_batch_size),
        ..options()
    })
    .await;
    let kills = 3;
    let target = Target::of(&stack);
    let (report, ()) = tokio::join!(load(&target, "kill", 20_000, 32, Duration::ZERO), async {
        for _ in 0..kills {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            stack.kill_worker().await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            stack.start_worker().await;
        }
    });
    assert_eq!(report.accepted.len(), 20_000, "{:?}", report.statuses);

    let duplicates = all_stored(&stack, &report.accepted, Duration::from_secs(120)).await;
    if deduplicates_by_token(&stack).await {
        // A dead worker's batch is re-sent whole, with the token of the INSERT that may
        // have succeeded: ClickHouse stores it once.
        assert_eq!(
            duplicates, 0,
            "duplicate rows despite the deduplication token"
        );
    } else {
        // No insert deduplication token (before 22.2): only the batches in flight at a kill
        // (one per consumer loop, WORKER_CONCURRENCY 2) may be stored twice.
        eprintln!(
            "ClickHouse before 22.2: {duplicates} duplicate rows, at most {} allowed",
            kills * 2 * max_batch_size as u64
        );
        assert!(
            duplicates <= kills * 2 * max_batch_size as u64,
            "{duplicates} duplicate rows"
        );
    }
    assert_eq!(stack.dead_letters().await.len(), 0);
}

/// Whether this stack's ClickHouse has `insert_deduplication_token` (22.2 and later).
async fn deduplicates_by_token(stack: &TestStack) -> bool {
    let version = stack.clickhouse("SELECT version()").await;
    let mut parts = version.trim().split('.').map(|part| part.parse::<u32>());
    match (parts.next(), parts.next()) {
        (Some(Ok(major)), Some(Ok(minor))) => (major, minor) >= (22, 2),
        _ => panic!("not a ClickHouse version: {version:?}"),
    }
}

/// Runs a blocking server stop or start on a blocking thread, so the load running in the
/// same task is not stalled meanwhile; gives the server back.
async fn off_runtime<T: Send + 'static>(mut server: T, work: fn(&mut T)) -> T {
    tokio::task::spawn_blocking(move || {
        work(&mut server);
        server
    })
    .await
    .expect("the server stops and starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clickhouse_down_for_20_seconds_under_load_loses_nothing() {
    let clickhouse = ClickHouseServer::start();
    let stack = TestStack::spawn_with(StackOptions {
        clickhouse_url: Some(clickhouse.url()),
        ..options()
    })
    .await;
    let target = Target::of(&stack);
    // About 200 events/s for 30 s, the outage in the middle of it.
    let (report, _clickhouse) = tokio::join!(
        load(&target, "ch", 6_000, 8, Duration::from_millis(40)),
        async {
            tokio::time::sleep(Duration::from_secs(3)).await;
            let clickhouse = off_runtime(clickhouse, ClickHouseServer::stop).await;
            tokio::time::sleep(Duration::from_secs(20)).await;
            off_runtime(clickhouse, ClickHouseServer::start_again).await
        }
    );
    // Ingestion does not depend on ClickHouse: everything is accepted.
    assert_eq!(report.accepted.len(), 6_000, "{:?}", report.statuses);

    let duplicates = all_stored(&stack, &report.accepted, Duration::from_secs(60)).await;
    assert_eq!(
        duplicates, 0,
        "a failed INSERT stores nothing, so its retry duplicates nothing"
    );
    assert_eq!(
        stack.dead_letters().await.len(),
        0,
        "an outage is not a reason to dead-letter"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_restarted_under_load_keeps_every_accepted_event() {
    let redis = RedisServer::start_persistent();
    let stack = TestStack::spawn_with(StackOptions {
        redis_url: Some(redis.url()),
        ..options()
    })
    .await;
    let target = Target::of(&stack);
    let (report, _redis) = tokio::join!(
        load(&target, "redis", 4_000, 8, Duration::from_millis(20)),
        async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let redis = off_runtime(redis, RedisServer::stop).await;
            tokio::time::sleep(Duration::from_secs(3)).await;
            off_runtime(redis, RedisServer::start_again).await
        }
    );
    let refused = report.statuses.get(&503).copied().unwrap_or(0);
    assert!(
        refused > 0,
        "requests during the outage are refused with 503: {:?}",
        report.statuses
    );
    assert_eq!(
        report.accepted.len() + refused,
        4_000,
        "every request is either accepted or refused with 503: {:?}",
        report.statuses
    );
    let duplicates = all_stored(&stack, &report.accepted, Duration::from_secs(60)).await;
    assert!(
        duplicates <= 20,
        "at most the batch in flight: {duplicates}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_to_each_service_under_load_loses_nothing_accepted() {
    let mut stack = TestStack::spawn_with(options()).await;
    let target = Target::of(&stack);
    let (report, ()) = tokio::join!(
        load(&target, "term", 6_000, 16, Duration::from_millis(20)),
        async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            stack.stop_worker().await;
            stack.start_worker().await;
            tokio::time::sleep(Duration::from_secs(1)).await;
            stack.stop_ingestion().await;
            stack.start_ingestion().await;
            tokio::time::sleep(Duration::from_secs(1)).await;
            stack.stop_query().await;
            stack.start_query().await;
        }
    );
    // While ingestion restarts, connections are refused (status 0 here): never a 2xx for
    // an event that was not queued, and nothing but 202 otherwise.
    let unexpected: Vec<_> = report
        .statuses
        .keys()
        .filter(|status| ![0, 202].contains(*status))
        .collect();
    assert!(unexpected.is_empty(), "{:?}", report.statuses);
    assert!(report.accepted.len() > 4_000, "{:?}", report.statuses);

    let duplicates = all_stored(&stack, &report.accepted, Duration::from_secs(60)).await;
    assert_eq!(
        duplicates, 0,
        "a worker stopped by SIGTERM acknowledges what it stored"
    );
    let body = stack
        .wait_for_logs("service=load&limit=1", 1, Duration::from_secs(10))
        .await;
    assert_eq!(body["count"], 1, "the restarted query service answers");
}
