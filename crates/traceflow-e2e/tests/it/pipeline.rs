//! POST -> queue -> worker -> ClickHouse -> GET, through the signal and through polling.

use futures::{StreamExt, stream};
use redis::AsyncCommands;
use serde_json::json;
use std::time::{Duration, Instant};
use traceflow_testkit::{StackOptions, TestStack, messages};

#[tokio::test]
async fn an_event_reads_back_with_every_field_it_was_sent_with() {
    let stack = TestStack::spawn().await;
    let sent = json!({
        "service": "auth-service",
        "level": "error",
        "message": "DB connection failed",
        "timestamp": "2026-05-05T12:00:00.123+02:00",
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "metadata": {"user_id": "42", "host": "db-primary", "attempt": 3, "retry": true}
    });
    let answer = stack.ingest(&sent).await;
    assert_eq!(answer.status(), 202);

    let body = stack
        .wait_for_logs("service=auth-service", 1, Duration::from_secs(10))
        .await;
    assert_eq!(body["count"], 1);
    let log = &body["logs"][0];
    assert_eq!(log["timestamp"], "2026-05-05T10:00:00.123Z");
    assert_eq!(log["service"], "auth-service");
    assert_eq!(log["level"], "ERROR");
    assert_eq!(log["message"], "DB connection failed");
    assert_eq!(log["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(
        log["metadata"],
        json!({"user_id": "42", "host": "db-primary", "attempt": "3", "retry": "true"})
    );
    assert!(
        uuid::Uuid::parse_str(log["id"].as_str().unwrap()).is_ok(),
        "{log}"
    );

    // The README's "Inspecting the data" queries work on the table itself.
    let seed_query = stack
        .clickhouse("SELECT level, count() FROM logs GROUP BY level FORMAT TSV")
        .await;
    assert_eq!(seed_query.trim(), "ERROR\t1");
}

#[tokio::test]
async fn the_signal_stores_events_well_before_the_poll_interval() {
    let stack = TestStack::spawn_with(StackOptions {
        poll_interval: Duration::from_secs(60),
        ..StackOptions::default()
    })
    .await;
    // Let the worker's first poll pass, so only a signal can wake it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let answer = stack
        .ingest(&json!({"service": "fast", "level": "INFO", "message": "hello"}))
        .await;
    assert_eq!(answer.status(), 202);
    stack
        .wait_for_logs("service=fast", 1, Duration::from_secs(5))
        .await;
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn without_a_signal_polling_stores_events_within_the_interval() {
    let stack = TestStack::spawn_with(StackOptions {
        poll_interval: Duration::from_secs(1),
        signal: false,
        ..StackOptions::default()
    })
    .await;
    let answer = stack
        .ingest(&json!({"service": "polled", "level": "INFO", "message": "hello"}))
        .await;
    // The failed signal must not fail or delay the answer.
    assert_eq!(answer.status(), 202);
    stack
        .wait_for_logs("service=polled", 1, Duration::from_millis(2500))
        .await;
}

#[tokio::test]
async fn a_burst_of_1000_posts_is_all_stored() {
    let stack = TestStack::spawn().await;
    let statuses: Vec<u16> = stream::iter(0..1000)
        .map(|i| {
            let stack = &stack;
            async move {
                let event =
                    json!({"service": "burst", "level": "INFO", "message": format!("event {i}")});
                stack.ingest(&event).await.status().as_u16()
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    assert!(statuses.iter().all(|status| *status == 202), "{statuses:?}");

    let body = stack
        .wait_for_logs("service=burst&limit=1000", 1000, Duration::from_secs(30))
        .await;
    let mut messages = messages(&body);
    messages.sort_unstable();
    messages.dedup();
    assert_eq!(messages.len(), 1000, "every event exactly once");
    assert_eq!(stack.stored_rows().await, 1000);
}

#[tokio::test]
async fn a_malformed_queue_entry_is_dead_lettered_and_its_batch_stored() {
    let stack = TestStack::spawn_with(StackOptions {
        worker: false,
        ..StackOptions::default()
    })
    .await;
    let mut stack = stack;
    for i in 0..3 {
        let event = json!({"service": "mixed", "level": "WARN", "message": format!("good {i}")});
        assert_eq!(stack.ingest(&event).await.status(), 202);
    }
    stack
        .producer()
        .await
        .push_entries(&[b"{not an event".to_vec()])
        .await
        .unwrap();
    stack.start_worker().await;

    stack
        .wait_for_logs("service=mixed", 3, Duration::from_secs(10))
        .await;
    let dead = stack.wait_for_dead_letters(1, Duration::from_secs(5)).await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    let letter = &dead[0];
    assert_eq!(letter["entry"], "{not an event");
    assert!(
        letter["reason"]
            .as_str()
            .unwrap()
            .starts_with("not a valid queued event: "),
        "{letter}"
    );
    let queued: u64 = stack
        .redis()
        .await
        .llen(stack.queue_keys.queue())
        .await
        .unwrap();
    assert_eq!(queued, 0);
}

#[tokio::test]
async fn events_queued_while_the_worker_is_down_are_stored_when_it_returns() {
    let mut stack = TestStack::spawn().await;
    stack.stop_worker().await;
    for i in 0..50 {
        let event = json!({"service": "later", "level": "DEBUG", "message": format!("m{i}")});
        assert_eq!(stack.ingest(&event).await.status(), 202);
    }
    let mut redis = stack.redis().await;
    let queued: u64 = redis.llen(stack.queue_keys.queue()).await.unwrap();
    assert_eq!(queued, 50, "LLEN shows the queue depth");
    stack.start_worker().await;
    stack
        .wait_for_logs("service=later", 50, Duration::from_secs(10))
        .await;
    // The worker acknowledges a batch just after its rows became visible; then no
    // processing list is left.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let processing: Vec<String> = redis
            .keys(stack.queue_keys.processing_pattern())
            .await
            .unwrap();
        if processing.is_empty() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{processing:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn rows_clickhouse_refuses_are_dead_lettered_with_its_message_and_the_rest_stored() {
    let mut stack = TestStack::spawn_with(StackOptions {
        worker: false,
        ..StackOptions::default()
    })
    .await;
    // The table itself refuses one message (a guard column, as a user might add), so the
    // INSERT of any batch holding it fails with a data error, not an outage.
    stack.start_worker().await;
    stack.stop_worker().await;
    let guard = format!(
        "ALTER TABLE {}.logs ADD COLUMN guard UInt8 MATERIALIZED throwIf(message = 'poison')",
        stack.database
    );
    stack.clickhouse(&guard).await;

    for message in ["fine 1", "fine 2", "poison", "fine 3", "fine 4"] {
        let event = json!({"service": "guarded", "level": "INFO", "message": message});
        assert_eq!(stack.ingest(&event).await.status(), 202);
    }
    stack.start_worker().await;

    let body = stack
        .wait_for_logs("service=guarded", 4, Duration::from_secs(10))
        .await;
    let mut messages = messages(&body);
    messages.sort_unstable();
    assert_eq!(messages, ["fine 1", "fine 2", "fine 3", "fine 4"]);
    let dead = stack.wait_for_dead_letters(1, Duration::from_secs(5)).await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    let letter = &dead[0];
    let reason = letter["reason"].as_str().unwrap();
    assert!(
        reason.contains("Code: 395") && reason.contains("throwIf"),
        "{reason}"
    );
    let entry = traceflow_queue::decode_line(letter["entry"].as_str().unwrap().as_bytes()).unwrap();
    assert_eq!(
        entry.message, "poison",
        "the dead letter holds the event, ready to replay"
    );
    assert!(stack.queued().await.is_empty(), "the queue is not blocked");
}
