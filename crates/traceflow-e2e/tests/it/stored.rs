//! Events written straight into a stack's tables, reads of the query service's JSON
//! endpoints, and the comparison of what was read: what the search, cursor, stats, tail,
//! delete, retention, OTLP, facets, context, export and hostile-input tests share.

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use traceflow_config::{ClickHouseConfig, Compression};
use traceflow_event::{Level, LogEvent};
use traceflow_storage::Storage;
use traceflow_testkit::TestStack;
use uuid::Uuid;

pub fn at(raw: &str) -> DateTime<Utc> {
    raw.parse().unwrap()
}

/// An event without trace id or metadata.
pub fn event(service: &str, level: Level, at: DateTime<Utc>, message: &str) -> LogEvent {
    LogEvent {
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
