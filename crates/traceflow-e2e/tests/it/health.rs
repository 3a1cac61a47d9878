//! `/health` and the answers while a dependency is down, with private servers that the
//! tests stop and start again.

use serde_json::{Value, json};
use std::time::{Duration, Instant};
use traceflow_testkit::{ClickHouseServer, RedisServer, StackOptions, TestStack};

async fn get_json(stack: &TestStack, url: String) -> (u16, Value) {
    let answer = stack.http.get(url).send().await.unwrap();
    (answer.status().as_u16(), answer.json().await.unwrap())
}

/// Retries `check` until it holds or `timeout` passes; recovery is not instant.
async fn eventually<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_min_replicas_a_push_no_replica_confirmed_is_a_503_that_says_it_may_be_stored() {
    let redis = RedisServer::start();
    let stack = TestStack::spawn_with(StackOptions {
        redis_url: Some(redis.url()),
        ..StackOptions::env("REDIS_MIN_REPLICAS", "1")
    })
    .await;
    let event = json!({"service": "unreplicated", "level": "INFO", "message": "alone"});
    let refused = stack.ingest(&event).await;
    assert_eq!(refused.status(), 503);
    assert_eq!(
        refused.json::<Value>().await.unwrap(),
        json!({"error": "queue unavailable, the event is queued but only 0 of 1 redis replicas \
                         confirmed it (REDIS_MIN_REPLICAS): it may be stored, and stored again \
                         if sent again"})
    );
    // As it says: the primary has it, and the worker stores it.
    stack
        .wait_for_logs("service=unreplicated", 1, Duration::from_secs(15))
        .await;

    let replica = RedisServer::start_replica_of(redis.port());
    let confirmed = eventually(Duration::from_secs(20), || async {
        let event = json!({"service": "replicated", "level": "INFO", "message": "confirmed"});
        stack.ingest(&event).await.status() == 202
    })
    .await;
    assert!(
        confirmed,
        "a push is answered 202 once the replica confirms it"
    );
    drop(replica);
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingestion_reports_redis_down_answers_503_and_recovers() {
    let mut redis = RedisServer::start();
    let stack = TestStack::spawn_with(StackOptions {
        redis_url: Some(redis.url()),
        ..StackOptions::default()
    })
    .await;
    let health = format!("{}/health", stack.ingestion_url);
    assert_eq!(
        get_json(&stack, health.clone()).await,
        (200, json!({"status": "ok"}))
    );

    redis.stop();
    let (status, body) = get_json(&stack, health.clone()).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["down"], json!(["redis"]));
    assert!(
        body["error"].as_str().unwrap().starts_with("redis is down"),
        "{body}"
    );
    let event = json!({"service": "outage", "level": "ERROR", "message": "during"});
    let refused = stack.ingest(&event).await;
    assert_eq!(
        refused.status(),
        503,
        "never a 2xx for an event that was not queued"
    );
    let error: Value = refused.json().await.unwrap();
    // Redis's own words, which name its address, are logged rather than sent.
    assert_eq!(
        error,
        json!({"error": "queue unavailable, the event was not accepted: redis does not answer"})
    );

    redis.start_again();
    let recovered = eventually(Duration::from_secs(10), || async {
        stack
            .ingest(&json!({"service": "outage", "level": "INFO", "message": "after"}))
            .await
            .status()
            == 202
    })
    .await;
    assert!(recovered, "ingestion accepts again once redis is back");
    assert_eq!(get_json(&stack, health).await.0, 200);
    let body = stack
        .wait_for_logs("service=outage", 1, Duration::from_secs(15))
        .await;
    assert_eq!(
        body["logs"][0]["message"], "after",
        "the refused event was not stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_reports_clickhouse_down_answers_503_and_recovers() {
    let mut clickhouse = ClickHouseServer::start();
    let stack = TestStack::spawn_with(StackOptions {
        clickhouse_url: Some(clickhouse.url()),
        ..StackOptions::default()
    })
    .await;
    let health = format!("{}/health", stack.query_url);
    assert_eq!(
        get_json(&stack, health.clone()).await,
        (200, json!({"status": "ok"}))
    );

    clickhouse.stop();
    let (status, body) = get_json(&stack, health.clone()).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["down"], json!(["clickhouse"]));
    let (status, body) = get_json(&stack, format!("{}/logs", stack.query_url)).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("clickhouse is unavailable"),
        "{body}"
    );

    // Accepted while ClickHouse is down: kept in Redis, stored once it is back.
    let event = json!({"service": "patient", "level": "INFO", "message": "waited"});
    assert_eq!(stack.ingest(&event).await.status(), 202);

    clickhouse.start_again();
    let recovered = eventually(Duration::from_secs(10), || async {
        get_json(&stack, health.clone()).await.0 == 200
    })
    .await;
    assert!(recovered, "query is healthy again once clickhouse is back");
    stack
        .wait_for_logs("service=patient", 1, Duration::from_secs(20))
        .await;
}

#[tokio::test]
async fn query_starts_and_reports_503_while_clickhouse_has_never_been_up() {
    let stack = TestStack::spawn_with(StackOptions {
        worker: false,
        clickhouse_url: Some(format!(
            "http://127.0.0.1:{}",
            traceflow_testkit::free_port()
        )),
        ..StackOptions::default()
    })
    .await;
    let (status, body) = get_json(&stack, format!("{}/health", stack.query_url)).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["down"], json!(["clickhouse"]));
    // Every read answers 503 too, the streamed export included (before it streams).
    for path in [
        "/logs/facets",
        "/logs/context?id=0196a0b0-0000-7000-8000-000000000004",
        "/logs/export",
        "/logs/export?format=csv",
    ] {
        let (status, body) = get_json(&stack, format!("{}{path}", stack.query_url)).await;
        assert_eq!(status, 503, "{path}: {body}");
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .starts_with("clickhouse is unavailable"),
            "{path}: {body}"
        );
    }
}
