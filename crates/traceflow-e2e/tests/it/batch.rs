//! Batch ingest (a JSON array, NDJSON) and the worker's adaptive batching.

use redis::AsyncCommands;
use serde_json::{Value, json};
use std::time::Duration;
use traceflow_testkit::{StackOptions, TestStack};

fn event(service: &str, n: usize) -> Value {
    json!({"service": service, "level": "INFO", "message": format!("{service} {n}")})
}

async fn post(stack: &TestStack, content_type: &str, body: String) -> (u16, Value) {
    let answer = stack
        .http
        .post(format!("{}/ingest", stack.ingestion_url))
        .header("Content-Type", content_type)
        .header("X-Trace-ID", "batch-trace")
        .body(body)
        .send()
        .await
        .unwrap();
    (answer.status().as_u16(), answer.json().await.unwrap())
}

/// INSERTs into this stack's table so far: each creates one level-0 part (all events here
/// fall in one day's partition), and parts are kept a while after merges.
async fn inserts(stack: &TestStack) -> u64 {
    let sql = format!(
        "SELECT count() FROM system.parts WHERE database = '{}' AND table = 'logs' AND level = 0",
        stack.database
    );
    stack.clickhouse(&sql).await.trim().parse().unwrap()
}

#[tokio::test]
async fn a_json_array_and_ndjson_are_accepted_whole_and_stored() {
    let stack = TestStack::spawn().await;
    let array: Vec<Value> = (0..3).map(|n| event("array", n)).collect();
    let (status, body) = post(&stack, "application/json", Value::from(array).to_string()).await;
    assert_eq!(status, 202);
    assert_eq!(
        body,
        json!({"status": "accepted", "count": 3, "trace_id": "batch-trace"})
    );

    let lines: Vec<String> = (0..4).map(|n| event("ndjson", n).to_string()).collect();
    let (status, body) = post(&stack, "application/x-ndjson", lines.join("\n") + "\n").await;
    assert_eq!(status, 202);
    assert_eq!(body["count"], 4);

    let stored = stack
        .wait_for_logs("service=array", 3, Duration::from_secs(10))
        .await;
    assert_eq!(
        stored["logs"][0]["trace_id"], "batch-trace",
        "a batch's events carry the request's trace id"
    );
    stack
        .wait_for_logs("service=ndjson", 4, Duration::from_secs(10))
        .await;
}

#[tokio::test]
async fn one_invalid_event_refuses_the_whole_batch_listing_the_failures() {
    let stack = TestStack::spawn_with(StackOptions {
        worker: false,
        ..StackOptions::default()
    })
    .await;
    let mut events: Vec<Value> = (0..30).map(|n| event("mixed", n)).collect();
    events[4] = json!({"service": "mixed", "message": "no level"});
    for slot in &mut events[10..] {
        *slot = json!("not an event");
    }
    let (status, body) = post(&stack, "application/json", Value::from(events).to_string()).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"],
        "21 of 30 events are invalid, nothing was accepted; first: event 4: level is required"
    );
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 20, "at most 20 failures are listed");
    assert_eq!(errors[0], json!({"index": 4, "error": "level is required"}));
    assert_eq!(
        errors[1],
        json!({"index": 10, "error": "an event must be a JSON object"})
    );
    assert!(stack.queued().await.is_empty(), "all or nothing");
}

#[tokio::test]
async fn batches_over_the_event_limit_or_empty_are_refused() {
    let stack = TestStack::spawn_with(StackOptions {
        worker: false,
        extra_env: vec![("MAX_BATCH_EVENTS", "5".to_owned())],
        ..StackOptions::default()
    })
    .await;
    let six: Vec<String> = (0..6).map(|n| event("big", n).to_string()).collect();
    let (status, body) = post(&stack, "application/x-ndjson", six.join("\n")).await;
    assert_eq!(status, 413);
    assert_eq!(
        body["error"],
        "the request holds 6 events, more than the limit of 5"
    );
    let (status, body) = post(&stack, "application/json", "[]".to_owned()).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "the request holds no events");
    assert!(stack.queued().await.is_empty());
}

#[tokio::test]
async fn a_deep_queue_is_stored_in_few_large_inserts() {
    let mut stack = TestStack::spawn_with(StackOptions {
        max_batch_size: Some(1000),
        ..StackOptions::default()
    })
    .await;
    stack.stop_worker().await;
    for chunk in 0..5 {
        let events: Vec<Value> = (0..1000).map(|n| event("deep", chunk * 1000 + n)).collect();
        let (status, _) = post(&stack, "application/json", Value::from(events).to_string()).await;
        assert_eq!(status, 202);
    }
    stack.start_worker().await;
    stack
        .wait_for_logs("service=deep&limit=1", 1, Duration::from_secs(10))
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while stack.stored_rows().await < 5000 {
        assert!(
            std::time::Instant::now() < deadline,
            "not all 5000 events stored"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // BATCH_SIZE 20 alone would have taken 250 INSERTs.
    let inserts = inserts(&stack).await;
    assert!(
        (5..=10).contains(&inserts),
        "{inserts} INSERTs for 5000 events"
    );
}

#[tokio::test]
async fn a_trickle_waits_for_flush_interval_instead_of_inserting_row_by_row() {
    let stack = TestStack::spawn_with(StackOptions {
        flush_interval: Some(Duration::from_millis(600)),
        ..StackOptions::default()
    })
    .await;
    for n in 0..10 {
        assert_eq!(stack.ingest(&event("trickle", n)).await.status(), 202);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Still bounded: every event is visible soon after FLUSH_INTERVAL.
    stack
        .wait_for_logs("service=trickle", 10, Duration::from_secs(3))
        .await;
    let inserts = inserts(&stack).await;
    assert!(inserts <= 3, "{inserts} INSERTs for 10 events 20 ms apart");
}

#[tokio::test]
async fn a_steady_stream_of_single_events_keeps_the_insert_cadence() {
    let stack = TestStack::spawn().await;
    // 3,000 single events from 8 clients, each pausing 8 ms between its requests: the queue
    // holds BATCH_SIZE (20) events every few milliseconds, which alone would start an INSERT
    // each time (with INSERT_INTERVAL=1ms this test counted 124 INSERTs in 8 s).
    let started = std::time::Instant::now();
    let senders: Vec<_> = (0..8)
        .map(|client| {
            let (http, url) = (
                stack.http.clone(),
                format!("{}/ingest", stack.ingestion_url),
            );
            tokio::spawn(async move {
                for n in 0..375 {
                    let event = event("steady", client * 1000 + n);
                    let answer = http.post(&url).json(&event).send().await.unwrap();
                    assert_eq!(answer.status(), 202);
                    tokio::time::sleep(Duration::from_millis(8)).await;
                }
            })
        })
        .collect();
    for sender in senders {
        sender.await.unwrap();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while stack.stored_rows().await < 3000 {
        assert!(
            std::time::Instant::now() < deadline,
            "not all 3000 events stored"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // WORKER_CONCURRENCY (2) / INSERT_INTERVAL (200 ms): at most 10 a second.
    let seconds = started.elapsed().as_secs_f64();
    let inserts = inserts(&stack).await;
    assert!(
        inserts as f64 <= 10.0 * seconds + 2.0,
        "{inserts} INSERTs in {seconds:.1} s for 3000 events"
    );
}

#[tokio::test]
async fn a_batch_is_queued_as_entries_of_1000_events_and_the_depth_counts_events() {
    let stack = TestStack::spawn_with(StackOptions {
        worker: false,
        max_queue_depth: Some(3000),
        ..StackOptions::default()
    })
    .await;
    let mut redis = stack.redis().await;
    let depth_key = stack.queue_keys.depth();
    let events: Vec<Value> = (0..2500).map(|n| event("entries", n)).collect();
    let (status, body) = post(&stack, "application/json", Value::from(events).to_string()).await;
    assert_eq!((status, &body["count"]), (202, &json!(2500)));

    // Oldest entry first, as the worker takes them: 1000, 1000 and 500 events, one per line.
    let mut entries: Vec<String> = redis.lrange(stack.queue_keys.queue(), 0, -1).await.unwrap();
    entries.reverse();
    let lines: Vec<usize> = entries.iter().map(|entry| entry.lines().count()).collect();
    assert_eq!(lines, [1000, 1000, 500]);
    let queued = stack.queued().await;
    assert_eq!(queued.len(), 2500);
    assert_eq!(queued[0].message, "entries 0");
    assert_eq!(queued[2499].message, "entries 2499");
    let depth: u64 = redis.get(depth_key).await.unwrap();
    assert_eq!(depth, 2500);

    // MAX_QUEUE_DEPTH counts events, not entries: 2,500 + 501 > 3,000. A refused request
    // (here two entries) leaves nothing of itself behind.
    for over in [501, 1001] {
        let events: Vec<Value> = (0..over).map(|n| event("over", n)).collect();
        let (status, body) =
            post(&stack, "application/json", Value::from(events).to_string()).await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(stack.queued().await.len(), 2500);
    }
    let events: Vec<Value> = (0..500).map(|n| event("fits", n)).collect();
    let (status, _) = post(&stack, "application/json", Value::from(events).to_string()).await;
    assert_eq!(status, 202);
    let depth: u64 = redis.get(depth_key).await.unwrap();
    assert_eq!(depth, 3000);
    let queued = stack.queued().await;
    assert_eq!(queued.len(), 3000);
    assert_eq!(queued[2500].message, "fits 0");
    assert!(queued.iter().all(|event| event.service != "over"));

    // A queue emptied by hand leaves a stale count behind; the next push starts afresh.
    let _: () = redis.del(stack.queue_keys.queue()).await.unwrap();
    assert_eq!(stack.ingest(&event("fresh", 0)).await.status(), 202);
    let depth: u64 = redis.get(depth_key).await.unwrap();
    assert_eq!(depth, 1);
}

#[tokio::test]
async fn the_worker_drains_the_depth_count_to_zero() {
    let mut stack = TestStack::spawn_with(StackOptions {
        worker: false,
        ..StackOptions::default()
    })
    .await;
    let events: Vec<Value> = (0..1500).map(|n| event("drained", n)).collect();
    let (status, _) = post(&stack, "application/json", Value::from(events).to_string()).await;
    assert_eq!(status, 202);
    stack.start_worker().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while stack.stored_rows().await < 1500 {
        assert!(std::time::Instant::now() < deadline, "not all stored");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let depth: u64 = stack
        .redis()
        .await
        .get(stack.queue_keys.depth())
        .await
        .unwrap();
    assert_eq!(depth, 0);
}

#[tokio::test]
async fn one_worker_process_runs_worker_concurrency_consumers_that_share_the_queue() {
    let mut stack = TestStack::spawn_with(StackOptions {
        worker: false,
        max_batch_size: Some(1000),
        extra_env: vec![("WORKER_CONCURRENCY", "3".to_owned())],
        ..StackOptions::default()
    })
    .await;
    for chunk in 0..6 {
        let events: Vec<Value> = (0..1000)
            .map(|n| event("shared", chunk * 1000 + n))
            .collect();
        let (status, _) = post(&stack, "application/json", Value::from(events).to_string()).await;
        assert_eq!(status, 202);
    }
    stack.start_worker().await;
    // Each consumer announces itself with its own heartbeat.
    let mut redis = stack.redis().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let heartbeats: Vec<String> = redis
            .keys(stack.queue_keys.heartbeat_pattern())
            .await
            .unwrap();
        if heartbeats.len() == 3 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{heartbeats:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    while stack.stored_rows().await < 6000 {
        assert!(std::time::Instant::now() < deadline, "not all stored");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let duplicates = stack
        .clickhouse("SELECT count() - uniqExact(event_id) FROM logs")
        .await;
    assert_eq!(
        duplicates.trim(),
        "0",
        "each event is claimed by one consumer"
    );
    assert_eq!(inserts(&stack).await, 6);
}
