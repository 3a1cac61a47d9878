//! RETENTION_DAYS, on both ClickHouse ends: on 18.16 (no TTL) the worker drops the day
//! partitions of `logs` and `logs_by_trace` that are wholly older than the limit, at start;
//! on current servers it sets both tables' TTL at start and ClickHouse expires the rows
//! itself, each table in its own time. Either way a changed value takes effect at the next
//! start.

use crate::stored::{event, get, storage};
use chrono::{TimeDelta, Utc};
use std::time::{Duration, Instant};
use traceflow_event::{Level, LogEvent};
use traceflow_testkit::{StackOptions, TestStack};

/// Waits until `GET /logs/count` answers `count`; returns the messages then stored.
async fn until_count(stack: &TestStack, count: u64) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, body) = get(stack, "/logs/count").await;
        if body["count"] == count {
            let (_, logs) = get(stack, "/logs?order=asc").await;
            return traceflow_testkit::messages(&logs)
                .into_iter()
                .map(str::to_owned)
                .collect();
        }
        assert!(
            Instant::now() < deadline,
            "expected {count} events to remain, still {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the trace index holds `count` entries.
async fn until_indexed(stack: &TestStack, count: u64) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let indexed = stack.clickhouse("SELECT count() FROM logs_by_trace").await;
        if indexed.trim() == count.to_string() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the trace index expires with the events: expected {count} entries, still {indexed}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_worker_drops_expired_days_at_start_and_a_new_limit_applies_at_the_next_start() {
    let mut stack = TestStack::spawn_with(StackOptions {
        worker: false,
        extra_env: vec![("RETENTION_DAYS", "30".into())],
        ..StackOptions::default()
    })
    .await;
    let storage = storage(&stack).await;
    storage.migrate().await.unwrap();
    let now = Utc::now();
    let events: Vec<LogEvent> = [
        (40, "40 days old"),
        (31, "31 days old"),
        (10, "10 days old"),
        (0, "an hour old"),
    ]
    .into_iter()
    .map(|(days, message)| {
        let mut event = event(
            "kept",
            Level::Info,
            now - TimeDelta::days(days) - TimeDelta::hours(1),
            message,
        );
        event.trace_id = format!("trace-{days}").into();
        event
    })
    .collect();
    storage.insert(&events).await.unwrap();
    until_indexed(&stack, 4).await;

    stack.start_worker().await;
    assert_eq!(until_count(&stack, 2).await, ["10 days old", "an hour old"]);
    until_indexed(&stack, 2).await;

    stack.stop_worker().await;
    stack.set_env("RETENTION_DAYS", "5");
    stack.start_worker().await;
    assert_eq!(until_count(&stack, 1).await, ["an hour old"]);
    until_indexed(&stack, 1).await;
}

#[tokio::test]
async fn each_tenant_keeps_its_events_for_its_own_retention_days() {
    let directory = tempfile::tempdir().unwrap();
    let keys = directory.path().join("keys.toml");
    std::fs::write(
        &keys,
        "[[keys]]\nkey = \"k\"\ntenants = [\"short\", \"long\"]\nscopes = [\"query\"]\n\n\
         [tenants.short]\nretention_days = 7\n\n[tenants.long]\nretention_days = 60\n",
    )
    .unwrap();
    let mut stack = TestStack::spawn_with(StackOptions {
        worker: false,
        extra_env: vec![
            ("RETENTION_DAYS", "30".into()),
            ("KEYS_FILE", keys.to_str().unwrap().to_owned()),
        ],
        ..StackOptions::default()
    })
    .await;
    let storage = storage(&stack).await;
    storage.migrate().await.unwrap();
    let now = Utc::now();
    let events: Vec<LogEvent> = [
        ("short", 10),
        ("short", 3),
        ("long", 40),
        ("default", 40),
        ("default", 10),
    ]
    .into_iter()
    .map(|(tenant, days)| {
        let mut event = event(
            "kept",
            Level::Info,
            now - TimeDelta::days(days) - TimeDelta::hours(1),
            &format!("{tenant} {days} days old"),
        );
        event.tenant = tenant.into();
        event
    })
    .collect();
    storage.insert(&events).await.unwrap();

    stack.start_worker().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = stack
            .clickhouse("SELECT message FROM logs ORDER BY message FORMAT TSV")
            .await;
        let left: Vec<&str> = left.lines().collect();
        if left
            == [
                "default 10 days old",
                "long 40 days old",
                "short 3 days old",
            ]
        {
            break;
        }
        assert!(Instant::now() < deadline, "still stored: {left:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
