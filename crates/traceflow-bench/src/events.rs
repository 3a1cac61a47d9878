//! The events the scenarios send, and their encodings: the `POST /ingest` body, an
//! Elasticsearch bulk body and a Loki push, the queue's wire format, and ClickHouse's
//! JSONEachRow for the direct-insert anchor. One generator for all of them, so that the
//! pipeline, each protocol and the anchors carry the same data.
//!
//! Events are deterministic in their index (a hash picks every field) and realistic in shape
//! and size: 20 services, levels skewed towards INFO as production streams are, messages of
//! 40 to 120 bytes, two or three metadata keys, a 32-character trace id.

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use traceflow_event::{Level, LogEvent, Metadata};
use traceflow_storage::LogRow;
use uuid::Uuid;

pub const SERVICES: [&str; 20] = [
    "auth-service",
    "payment-service",
    "checkout",
    "cart",
    "catalog",
    "search",
    "recommendation",
    "user-profile",
    "notification",
    "email",
    "inventory",
    "shipping",
    "billing",
    "api-gateway",
    "frontend",
    "admin",
    "reporting",
    "scheduler",
    "media",
    "analytics",
];

/// Percent of events at each level. The server-side fill of the query table
/// (`scenarios::query`) uses the same split.
pub const LEVEL_PERCENT: [(Level, u64); 6] = [
    (Level::Trace, 2),
    (Level::Debug, 20),
    (Level::Info, 60),
    (Level::Warn, 10),
    (Level::Error, 7),
    (Level::Fatal, 1),
];

pub const MESSAGES: [&str; 8] = [
    "request handled",
    "cache miss for key session",
    "DB connection failed, retrying with backoff",
    "upstream call to inventory timed out",
    "user logged in from a new device",
    "payment declined by issuer",
    "scheduled job finished",
    "rate limit exceeded for client",
];

/// splitmix64: a cheap, well-mixed hash, so fields vary independently of each other.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn level(percent: u64) -> Level {
    let mut below = 0;
    for (level, share) in LEVEL_PERCENT {
        below += share;
        if percent < below {
            return level;
        }
    }
    Level::Info
}

/// Event number `n`, stamped `timestamp`, with a fresh id (as ingestion would give it).
pub fn event(n: u64, timestamp: DateTime<Utc>) -> LogEvent {
    let h = mix(n);
    let mut metadata = Metadata::from([
        ("host".into(), format!("node-{}", h % 32).into()),
        ("user_id".into(), ((h >> 8) % 100_000).to_string().into()),
    ]);
    if h.is_multiple_of(3) {
        metadata.insert(
            "region".into(),
            ["eu-west", "us-east", "ap-south"][(h % 9 / 3) as usize].into(),
        );
    }
    LogEvent {
        tenant: traceflow_event::DEFAULT_TENANT.into(),
        id: Uuid::now_v7(),
        timestamp,
        service: SERVICES[(h >> 16) as usize % SERVICES.len()].into(),
        level: level((h >> 24) % 100),
        message: format!(
            "{} request_id={n} took {}ms",
            MESSAGES[(h >> 32) as usize % MESSAGES.len()],
            (h >> 40) % 2000
        )
        .into(),
        trace_id: format!("{:016x}{:016x}", mix(h), mix(h ^ 1)).into(),
        metadata,
    }
}

/// A `POST /ingest` event as a client sends it: every field but the id, which ingestion
/// assigns.
#[derive(Serialize)]
struct IngestEvent<'a> {
    service: &'a str,
    level: &'a str,
    message: &'a str,
    timestamp: String,
    trace_id: &'a str,
    metadata: &'a Metadata<'static>,
}

impl<'a> From<&'a LogEvent> for IngestEvent<'a> {
    fn from(event: &'a LogEvent) -> Self {
        Self {
            service: &event.service,
            level: event.level.as_str(),
            message: &event.message,
            timestamp: event.timestamp.to_rfc3339_opts(SecondsFormat::Millis, true),
            trace_id: &event.trace_id,
            metadata: &event.metadata,
        }
    }
}

/// The body of a single-event `POST /ingest`.
pub fn ingest_body(event: &LogEvent) -> Bytes {
    serde_json::to_vec(&IngestEvent::from(event))
        .expect("events serialize")
        .into()
}

/// The body of a batch `POST /ingest`: a JSON array of events.
pub fn ingest_array(events: &[LogEvent]) -> Bytes {
    let all: Vec<IngestEvent> = events.iter().map(IngestEvent::from).collect();
    serde_json::to_vec(&all).expect("events serialize").into()
}

/// An Elasticsearch `_bulk` body: a `create` action and an ECS-style document per event
/// (`@timestamp`, `service`, `level`, `message`, `trace_id`, the metadata as fields), as
/// Filebeat or Vector send them.
pub fn bulk(events: &[LogEvent]) -> Bytes {
    let mut out = Vec::with_capacity(events.len() * 320);
    for event in events {
        out.extend_from_slice(b"{\"create\":{}}\n");
        let mut document = serde_json::Map::new();
        let ingest = IngestEvent::from(event);
        document.insert("@timestamp".into(), ingest.timestamp.into());
        document.insert("service".into(), ingest.service.into());
        document.insert("level".into(), ingest.level.into());
        document.insert("message".into(), ingest.message.into());
        document.insert("trace_id".into(), ingest.trace_id.into());
        for (key, value) in &event.metadata {
            document.insert(key.to_string(), value.as_ref().into());
        }
        serde_json::to_writer(&mut out, &document).expect("documents serialize");
        out.push(b'\n');
    }
    out.into()
}

/// A Loki push (JSON, today's form): one stream per service and level, in the order their
/// first event comes; each entry carries its trace id and metadata as structured metadata,
/// as Alloy sends OTLP logs on.
pub fn loki_push(events: &[LogEvent]) -> Bytes {
    let mut streams: Vec<((&str, &str), Vec<serde_json::Value>)> = Vec::new();
    for event in events {
        let labels = (event.service.as_ref(), event.level.as_str());
        let mut structured: serde_json::Map<String, serde_json::Value> = event
            .metadata
            .iter()
            .map(|(key, value)| (key.to_string(), value.as_ref().into()))
            .collect();
        structured.insert("trace_id".into(), event.trace_id.as_ref().into());
        let nanoseconds = event
            .timestamp
            .timestamp_nanos_opt()
            .expect("bench timestamps are within the nanosecond range");
        let entry = serde_json::json!([nanoseconds.to_string(), event.message, structured]);
        match streams.iter_mut().find(|(l, _)| *l == labels) {
            Some((_, values)) => values.push(entry),
            None => streams.push((labels, vec![entry])),
        }
    }
    let streams: Vec<_> = streams
        .into_iter()
        .map(|((service, level), values)| {
            serde_json::json!({"stream": {"service": service, "level": level}, "values": values})
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "streams": streams }))
        .expect("pushes serialize")
        .into()
}

/// ClickHouse JSONEachRow lines for `logs`: the row the worker would insert for each event
/// (the storage crate's own mapping, so the anchor writes exactly the worker's columns).
pub fn json_each_row(events: &[LogEvent]) -> Bytes {
    let mut out = Vec::with_capacity(events.len() * 400);
    for event in events {
        serde_json::to_writer(&mut out, &LogRow::from(event)).expect("rows serialize");
        out.push(b'\n');
    }
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_valid_and_deterministic_apart_from_the_id() {
        let time = "2026-05-05T10:00:00.250Z".parse().unwrap();
        let (a, b) = (event(7, time), event(7, time));
        assert_eq!(
            (&a.service, &a.message, &a.metadata),
            (&b.service, &b.message, &b.metadata)
        );
        assert_ne!(a.id, b.id);
        let body: serde_json::Value = serde_json::from_slice(&ingest_body(&a)).unwrap();
        assert_eq!(body["timestamp"], "2026-05-05T10:00:00.250Z");
        assert_eq!(body["trace_id"].as_str().unwrap().len(), 32);
        assert!(body.get("id").is_none());
    }

    #[test]
    fn levels_follow_the_split() {
        let time = Utc::now();
        let infos = (0..10_000)
            .filter(|&n| event(n, time).level == Level::Info)
            .count();
        assert!((5_500..6_500).contains(&infos), "{infos}");
    }

    #[test]
    fn bulk_and_loki_bodies_carry_every_event() {
        let time = "2026-05-05T10:00:00.250Z".parse().unwrap();
        let events: Vec<_> = (0..50).map(|n| event(n, time)).collect();
        let bulk = bulk(&events);
        let lines: Vec<serde_json::Value> = bulk
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 100);
        assert_eq!(lines[0], serde_json::json!({"create": {}}));
        assert_eq!(lines[1]["@timestamp"], "2026-05-05T10:00:00.250Z");
        assert_eq!(lines[1]["message"], events[0].message.as_ref());
        assert_eq!(lines[1]["host"], events[0].metadata["host"].as_ref());

        let push: serde_json::Value = serde_json::from_slice(&loki_push(&events)).unwrap();
        let streams = push["streams"].as_array().unwrap();
        let entries: usize = streams
            .iter()
            .map(|s| s["values"].as_array().unwrap().len())
            .sum();
        assert_eq!(entries, 50);
        let first = &streams[0];
        assert_eq!(first["stream"]["service"], events[0].service.as_ref());
        assert_eq!(first["values"][0][0], "1777975200250000000");
        assert_eq!(
            first["values"][0][2]["trace_id"],
            events[0].trace_id.as_ref()
        );
    }

    #[test]
    fn json_each_row_has_one_line_per_event() {
        let time = Utc::now();
        let events: Vec<_> = (0..3).map(|n| event(n, time)).collect();
        let rows = json_each_row(&events);
        let lines: Vec<&[u8]> = rows
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(lines.len(), 3);
        let row: serde_json::Value = serde_json::from_slice(lines[0]).unwrap();
        assert_eq!(row["event_id"], events[0].id.to_string());
        assert!(row["metadata_keys"].is_array());
    }
}
