//! Events written straight into a stack's tables, reads of the query service's JSON
//! endpoints, and the comparison of what was read: what the search, cursor, stats, tail,
//! delete, retention, protocol (OTLP, Loki), facets, context, export and hostile-input tests
//! share.

use chrono::{DateTime, Utc};
use flate2::{Compression as GzLevel, write::GzEncoder};
use reqwest::Method;
use serde_json::{Map, Value};
use std::{collections::BTreeMap, io::Write, time::Duration};
use traceflow_config::{ClickHouseConfig, Compression};
use traceflow_event::{Level, LogEvent};
use traceflow_storage::Storage;
use traceflow_testkit::{StackOptions, TestStack};
use uuid::Uuid;

pub fn at(raw: &str) -> DateTime<Utc> {
    raw.parse().unwrap()
}

/// An event without trace id or metadata.
pub fn event(service: &str, level: Level, at: DateTime<Utc>, message: &str) -> LogEvent {
    LogEvent {
        tenant: traceflow_event::DEFAULT_TENANT.into(),
        id: Uuid::now_v7(),
        timestamp: at,
        service: service.to_owned().into(),
        level,
        message: message.to_owned().into(),
        trace_id: "".into(),
        metadata: BTreeMap::new(),
    }
}

/// `event` with these metadata entries instead of its own.
pub fn with_metadata(mut event: LogEvent, pairs: &[(&str, &str)]) -> LogEvent {
    event.metadata = pairs
        .iter()
        .map(|(key, value)| (key.to_string().into(), value.to_string().into()))
        .collect();
    event
}

/// One [`event`] per `(service, level, time, message)` row: a seeded table written as a table.
pub fn events(rows: &[(&str, Level, &str, &str)]) -> Vec<LogEvent> {
    rows.iter()
        .map(|&(service, level, time, message)| event(service, level, at(time), message))
        .collect()
}

/// A fresh stack with `events` written straight into its table.
pub async fn stack_with(events: &[LogEvent]) -> TestStack {
    let stack = TestStack::spawn().await;
    storage(&stack).await.insert(events).await.unwrap();
    stack
}

/// The stack's tables, through the storage crate, on the ClickHouse at `url` (the stack's
/// own unless a test put something in between). With LZ4, as a worker on another machine
/// would use it; the stack's own services, on this machine, send uncompressed.
pub async fn storage_at(stack: &TestStack, url: &str) -> Storage {
    Storage::connect(&ClickHouseConfig {
        url: url.to_owned(),
        database: stack.database.clone(),
        user: "default".into(),
        password: String::new(),
        compression: Compression::Lz4,
        cluster: None,
    })
    .await
    .unwrap()
}

pub async fn storage(stack: &TestStack) -> Storage {
    storage_at(stack, &stack.clickhouse_url).await
}

/// `<method> <path>` on the query service: the status and the JSON body.
pub async fn call(stack: &TestStack, method: Method, path: &str) -> (u16, Value) {
    let answer = stack
        .http
        .request(method, format!("{}{path}", stack.query_url))
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap())
}

/// `GET <path>` on the query service: the status and the JSON body.
pub async fn get(stack: &TestStack, path: &str) -> (u16, Value) {
    call(stack, Method::GET, path).await
}

/// `value` percent-encoded for a query string.
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Asserts that `actual` has every field `expected` names, with its value; fields
/// `expected` does not name are not looked at.
#[track_caller]
pub fn assert_fields(actual: &Value, expected: &Value) {
    let named: Map<String, Value> = expected
        .as_object()
        .expect("the expected fields are an object")
        .keys()
        .map(|key| (key.clone(), actual[key].clone()))
        .collect();
    assert_eq!(&Value::Object(named), expected, "in {actual:#}");
}

/// The stored logs of `service` once `count` have arrived; exactly `count` are expected.
pub async fn stored(stack: &TestStack, service: &str, count: usize) -> Vec<Value> {
    exactly(
        stack,
        &format!("service={}&limit=1000", encode(service)),
        count,
    )
    .await
}

/// The log of `logs` whose message is `message`.
#[track_caller]
pub fn by_message<'a>(logs: &'a [Value], message: &str) -> &'a Value {
    logs.iter()
        .find(|log| log["message"] == message)
        .unwrap_or_else(|| panic!("no log with message {message:?} in {logs:#?}"))
}

/// Within a few minutes of now: a time the client stamped when it logged.
pub fn is_recent(timestamp: &Value) -> bool {
    let time: DateTime<Utc> = timestamp.as_str().unwrap().parse().unwrap();
    (Utc::now() - time).num_seconds().abs() < 300
}

/// A trace id as ingestion makes them (32 lower-case hex digits).
pub fn is_trace_id(value: &str) -> bool {
    value.len() == 32 && value.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'))
}

/// `data` gzip-compressed, as a client sends a body with `Content-Encoding: gzip`.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), GzLevel::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// A `POST` to `url` with `content_type` and optional extra headers.
pub async fn post(
    stack: &TestStack,
    url: &str,
    content_type: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> reqwest::Response {
    let mut request = stack
        .http
        .post(url)
        .header("Content-Type", content_type)
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

/// The level of the log with each of `messages`, next to its message.
#[track_caller]
pub fn levels_of<'a>(logs: &'a [Value], messages: &[&'a str]) -> Vec<(&'a str, &'a str)> {
    messages
        .iter()
        .map(|message| {
            (
                *message,
                by_message(logs, message)["level"].as_str().unwrap(),
            )
        })
        .collect()
}

/// A stack without a worker whose Redis is down: nothing listens where it points.
pub async fn without_redis() -> TestStack {
    TestStack::spawn_with(StackOptions {
        worker: false,
        redis_url: Some(format!(
            "redis://127.0.0.1:{}",
            traceflow_testkit::free_port()
        )),
        ..StackOptions::default()
    })
    .await
}
/// The logs `GET /logs?<query>` reads once `count` have arrived (within 20 s); exactly
/// `count` are expected.
pub async fn exactly(stack: &TestStack, query: &str, count: usize) -> Vec<Value> {
    stack
        .wait_for_logs(query, count, Duration::from_secs(20))
        .await;
    // Give a stray extra one the chance to show up before counting.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let body: Value = stack.logs(query).await.json().await.unwrap();
    let logs = body["logs"].as_array().unwrap().clone();
    assert_eq!(logs.len(), count, "{query}: {body:#}");
    logs
}
