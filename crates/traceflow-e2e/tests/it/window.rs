//! The window of accepted times: an event older than `RETENTION_DAYS` (it would not be
//! kept) or further ahead than `MAX_FUTURE_SKEW` (it would head every newest-first view) is
//! refused, on every protocol, naming `timestamp`, the limit and the variable; a metric
//! counts the refusals by reason.

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::{Value, json};
use std::time::Duration;
use traceflow_testkit::{StackOptions, TestStack, messages};

/// The defaults users run with: 30 days back, 10 minutes ahead.
async fn stack() -> TestStack {
    TestStack::spawn_with(StackOptions::env("RETENTION_DAYS", "30")).await
}

fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn event(message: &str, at: DateTime<Utc>) -> Value {
    json!({"service": "window", "level": "INFO", "message": message, "timestamp": rfc3339(at)})
}

/// `message`, which must read `{head}<a time>{tail}`; returns the time, so a caller can check
/// it against the clock.
fn limit_in(message: &str, head: &str, tail: &str) -> DateTime<Utc> {
    let time = message
        .strip_prefix(head)
        .and_then(|rest| rest.strip_suffix(tail))
        .unwrap_or_else(|| panic!("{message:?} is not {head:?}<time>{tail:?}"));
    time.parse()
        .unwrap_or_else(|_| panic!("{time:?} in {message:?} is not a time"))
}

fn near(time: DateTime<Utc>, expected: DateTime<Utc>) -> bool {
    (time - expected).num_seconds().abs() < 60
}

async fn rejected_total(stack: &TestStack, reason: &str) -> f64 {
    let text = crate::metrics::metrics(stack, &stack.ingestion_url).await;
    let labels = format!("reason=\"{reason}\"");
    // One sample per protocol: their sum.
    text.lines()
        .filter(|line| {
            line.starts_with("traceflow_ingest_events_rejected_total") && line.contains(&labels)
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn ingest_refuses_events_outside_the_window_and_stores_those_inside() {
    let stack = stack().await;
    let now = Utc::now();
    let old = now - TimeDelta::days(31);
    let ahead = now + TimeDelta::hours(1);

    let answer = stack.ingest(&event("too old", old)).await;
    assert_eq!(answer.status(), 400);
    let body: Value = answer.json().await.unwrap();
    let earliest = limit_in(
        body["error"].as_str().unwrap(),
        "timestamp must be within the retention window of 30 days (RETENTION_DAYS): not before ",
        &format!(", got \"{}\"", rfc3339(old)),
    );
    assert!(near(earliest, now - TimeDelta::days(30)), "{earliest}");

    let answer = stack.ingest(&event("too far ahead", ahead)).await;
    assert_eq!(answer.status(), 400);
    let body: Value = answer.json().await.unwrap();
    let latest = limit_in(
        body["error"].as_str().unwrap(),
        "timestamp must not be more than 10m ahead of the server's clock (MAX_FUTURE_SKEW): not after ",
        &format!(", got \"{}\"", rfc3339(ahead)),
    );
    assert!(near(latest, now + TimeDelta::minutes(10)), "{latest}");

    // In a batch, each is one of the listed failures; the batch stays all-or-nothing.
    let batch = json!([
        event("inside", now - TimeDelta::days(29)),
        event("too old", old),
        event("too far ahead", ahead),
    ]);
    let answer = stack.ingest(&batch).await;
    assert_eq!(answer.status(), 400);
    let body: Value = answer.json().await.unwrap();
    let failures: Vec<(u64, &str)> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|failure| {
            let error = failure["error"].as_str().unwrap();
            (
                failure["index"].as_u64().unwrap(),
                &error[..error.find(':').unwrap()],
            )
        })
        .collect();
    assert_eq!(
        failures,
        [
            (
                1,
                "timestamp must be within the retention window of 30 days (RETENTION_DAYS)"
            ),
            (
                2,
                "timestamp must not be more than 10m ahead of the server's clock (MAX_FUTURE_SKEW)"
            ),
        ]
    );

    // Just inside both ends: accepted and stored.
    let inside = json!([
        event("29 days ago", now - TimeDelta::days(29)),
        event("5 minutes ahead", now + TimeDelta::minutes(5)),
    ]);
    assert_eq!(stack.ingest(&inside).await.status(), 202);
    let stored = stack
        .wait_for_logs("service=window", 2, Duration::from_secs(10))
        .await;
    assert_eq!(messages(&stored), ["5 minutes ahead", "29 days ago"]);
}

#[tokio::test]
async fn otlp_reports_records_outside_the_window_in_partial_success() {
    let stack = stack().await;
    let nanos = |time: DateTime<Utc>| time.timestamp_nanos_opt().unwrap().to_string();
    let now = Utc::now();
    let record = |body: &str, time: DateTime<Utc>| json!({"timeUnixNano": nanos(time), "body": {"stringValue": body}});
    let request = json!({"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "window-otlp"}}]},
        "scopeLogs": [{"logRecords": [
            record("kept", now),
            record("too old", now - TimeDelta::days(40)),
            record("too far ahead", now + TimeDelta::days(1)),
        ]}]
    }]});
    let answer = stack
        .http
        .post(format!("{}/v1/logs", stack.otlp_url))
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let body: Value = answer.json().await.unwrap();
    let partial = &body["partialSuccess"];
    assert_eq!(partial["rejectedLogRecords"], 2);
    let message = partial["errorMessage"].as_str().unwrap();
    assert!(
        message.starts_with(
            "2 of 3 log records were rejected: resourceLogs[0].scopeLogs[0].logRecords[1]: \
             the record's time (timeUnixNano, else observedTimeUnixNano) must be within the \
             retention window of 30 days (RETENTION_DAYS): not before "
        ),
        "{message}"
    );
    assert!(
        message.contains(
            "; resourceLogs[0].scopeLogs[0].logRecords[2]: the record's time (timeUnixNano, \
             else observedTimeUnixNano) must not be more than 10m ahead of the server's clock \
             (MAX_FUTURE_SKEW): not after "
        ),
        "{message}"
    );
    let stored = stack
        .wait_for_logs("service=window-otlp", 1, Duration::from_secs(10))
        .await;
    assert_eq!(messages(&stored), ["kept"]);
}

#[tokio::test]
async fn refusals_are_counted_by_reason() {
    let stack = stack().await;
    let now = Utc::now();
    let (old_before, new_before) = (
        rejected_total(&stack, "too_old").await,
        rejected_total(&stack, "too_new").await,
    );
    let old = event("too old", now - TimeDelta::days(31));
    let ahead = event("too far ahead", now + TimeDelta::hours(1));
    assert_eq!(stack.ingest(&old).await.status(), 400);
    assert_eq!(stack.ingest(&ahead).await.status(), 400);
    assert_eq!(stack.ingest(&ahead).await.status(), 400);
    // Other tests in this binary share the counters: they only grow.
    assert!(rejected_total(&stack, "too_old").await >= old_before + 1.0);
    assert!(rejected_total(&stack, "too_new").await >= new_before + 2.0);
}
