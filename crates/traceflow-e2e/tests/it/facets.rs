//! `GET /logs/facets`: the most common services, levels and metadata entries of the matching
//! events, with exact counts.

use crate::stored::{at, event, get, stack_with, with_metadata};
use chrono::{TimeDelta, Utc};
use serde_json::{Value, json};
use traceflow_event::{Level, LogEvent};
use traceflow_testkit::TestStack;

/// A seeded event: its service, level and metadata.
type Row<'a> = (&'a str, Level, &'a [(&'a str, &'a str)]);

/// Ten events between 10:00 and 10:00:09, one outside that range.
fn seeded_events() -> Vec<LogEvent> {
    let second = |n: i64| at("2026-05-05T10:00:00Z") + TimeDelta::seconds(n);
    let rows: [Row; 10] = [
        ("api", Level::Info, &[("host", "web-1"), ("user", "42")]),
        ("api", Level::Info, &[("host", "web-1"), ("user", "7")]),
        ("api", Level::Error, &[("host", "web-2"), ("user", "42")]),
        ("api", Level::Info, &[("host", "web-2")]),
        ("auth", Level::Error, &[("host", "db-1"), ("user", "42")]),
        ("auth", Level::Warn, &[("host", "db-1"), ("region", "eu")]),
        ("auth", Level::Info, &[]),
        ("billing", Level::Error, &[("host", "db-1"), ("note", "")]),
        ("cart", Level::Debug, &[("it's", "a \"quote\"")]),
        ("cart", Level::Debug, &[]),
    ];
    let mut events: Vec<LogEvent> = rows
        .iter()
        .enumerate()
        .map(|(n, (service, level, metadata))| {
            with_metadata(
                event(service, *level, second(n as i64), &format!("event {n}")),
                metadata,
            )
        })
        .collect();
    events.push(with_metadata(
        event("api", Level::Fatal, second(3600), "later"),
        &[("host", "web-9")],
    ));
    events
}

const RANGE: &str = "from=2026-05-05T10:00:00Z&to=2026-05-05T10:00:59Z";

fn values(pairs: &[(&str, u64)]) -> Value {
    pairs
        .iter()
        .map(|(value, count)| json!({"value": value, "count": count}))
        .collect()
}

#[tokio::test]
async fn facets_count_services_levels_and_metadata_of_the_matching_events() {
    let stack = stack_with(&seeded_events()).await;
    let (status, body) = get(&stack, &format!("/logs/facets?{RANGE}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({
            "from": "2026-05-05T10:00:00.000Z",
            "to": "2026-05-05T10:00:59.999Z",
            "total": 10,
            // Counts descending, then by value.
            "service": values(&[("api", 4), ("auth", 3), ("cart", 2), ("billing", 1)]),
            "level": values(&[("INFO", 4), ("ERROR", 3), ("DEBUG", 2), ("WARN", 1)]),
            "metadata": [
                {"key": "host", "count": 7, "values": values(&[("db-1", 3), ("web-1", 2), ("web-2", 2)])},
                {"key": "user", "count": 4, "values": values(&[("42", 3), ("7", 1)])},
                {"key": "it's", "count": 1, "values": values(&[("a \"quote\"", 1)])},
                {"key": "note", "count": 1, "values": values(&[("", 1)])},
                {"key": "region", "count": 1, "values": values(&[("eu", 1)])},
            ],
        })
    );
}

#[tokio::test]
async fn facets_follow_the_filters_and_exclusions_and_the_limit() {
    let stack = stack_with(&seeded_events()).await;
    let facets = |query: String| {
        let stack = &stack;
        async move {
            let (status, body) = get(stack, &format!("/logs/facets?{RANGE}&{query}")).await;
            assert_eq!(status, 200, "{query}: {body}");
            body
        }
    };

    let errors = facets("level=error".into()).await;
    assert_eq!(errors["total"], 3);
    assert_eq!(
        errors["service"],
        values(&[("api", 1), ("auth", 1), ("billing", 1)])
    );
    assert_eq!(errors["metadata"][0]["key"], "host");
    assert_eq!(
        errors["metadata"][0]["values"],
        values(&[("db-1", 2), ("web-2", 1)])
    );

    // A metadata condition sees the whole event, not just the entry being counted.
    let user_42 = facets("metadata.user=42".into()).await;
    assert_eq!(user_42["total"], 3);
    assert_eq!(
        user_42["metadata"][0],
        json!({"key": "host", "count": 3, "values": values(&[("db-1", 1), ("web-1", 1), ("web-2", 1)])})
    );

    let excluded =
        facets("not.service=api&not.metadata.host=db-1&not.q=%22event%209%22".into()).await;
    assert_eq!(excluded["total"], 2, "{excluded}");
    assert_eq!(excluded["service"], values(&[("auth", 1), ("cart", 1)]));

    let top = facets("limit=2".into()).await;
    assert_eq!(top["total"], 10);
    assert_eq!(top["service"], values(&[("api", 4), ("auth", 3)]));
    assert_eq!(top["level"], values(&[("INFO", 4), ("ERROR", 3)]));
    assert_eq!(
        top["metadata"],
        json!([
            {"key": "host", "count": 7, "values": values(&[("db-1", 3), ("web-1", 2)])},
            {"key": "user", "count": 4, "values": values(&[("42", 3), ("7", 1)])},
        ])
    );

    let nothing = facets("service=nobody".into()).await;
    assert_eq!(
        (
            &nothing["total"],
            &nothing["service"],
            &nothing["level"],
            &nothing["metadata"]
        ),
        (&json!(0), &json!([]), &json!([]), &json!([]))
    );

    let (status, body) = get(&stack, "/logs/facets?limit=lots").await;
    assert_eq!(
        (status, body),
        (
            400,
            json!({"error": "limit must be a whole number, got \"lots\""})
        )
    );
}

#[tokio::test]
async fn facets_cover_the_last_hour_by_default() {
    let now = Utc::now();
    let stack = stack_with(&[
        event("recent", Level::Info, now - TimeDelta::minutes(5), "fresh"),
        event("old", Level::Info, now - TimeDelta::hours(2), "stale"),
    ])
    .await;
    let (status, body) = get(&stack, "/logs/facets").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["total"], 1);
    assert_eq!(body["service"], values(&[("recent", 1)]));
    let from: chrono::DateTime<Utc> = body["from"].as_str().unwrap().parse().unwrap();
    let to: chrono::DateTime<Utc> = body["to"].as_str().unwrap().parse().unwrap();
    assert_eq!(to - from, TimeDelta::hours(1));
}

#[tokio::test]
async fn beyond_a_million_events_the_metadata_counts_are_estimated_from_a_sample() {
    let stack = TestStack::spawn().await;
    // 1.2 million events over an hour, written by ClickHouse itself: a quarter `cart`, one
    // in eight WARN, `kind` a three times in four, a unique `request` each.
    let start = at("2026-05-05T10:00:00Z").timestamp();
    stack
        .clickhouse(&format!(
            "INSERT INTO logs (timestamp, millisecond, event_id, service, level, message, \
             trace_id, metadata, metadata_keys, metadata_values) \
             SELECT toDateTime({start} + intDiv(number, 400)), toUInt16(number % 1000), \
             generateUUIDv4(), if(number % 4 = 0, 'cart', 'api'), \
             if(number % 8 = 0, 'WARN', 'INFO'), 'bulk', '', '', ['kind', 'request'], \
             [if(number % 4 = 3, 'b', 'a'), toString(number)] FROM numbers(1200000)"
        ))
        .await;
    let (status, body) = get(
        &stack,
        "/logs/facets?from=2026-05-05T10:00:00Z&to=2026-05-05T10:59:59Z&limit=2",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // Exact where it is cheap.
    assert_eq!(body["total"], 1_200_000);
    assert_eq!(
        body["service"],
        values(&[("api", 900_000), ("cart", 300_000)])
    );
    assert_eq!(
        body["level"],
        values(&[("INFO", 1_050_000), ("WARN", 150_000)])
    );
    // Estimated from one event in two, and said so.
    assert_eq!(body["metadata_sample"], 2);
    let near = |value: &Value, expected: f64| {
        let got = value.as_u64().unwrap() as f64;
        assert!(
            (got - expected).abs() < expected * 0.02,
            "{got} is not within 2% of {expected}: {body}"
        );
    };
    let kind = &body["metadata"][0];
    assert_eq!(kind["key"], "kind");
    near(&kind["count"], 1_200_000.0);
    assert_eq!(kind["values"][0]["value"], "a");
    near(&kind["values"][0]["count"], 900_000.0);
    near(&kind["values"][1]["count"], 300_000.0);
    // Every value of `request` is unique: two of them, each counted as the sample's rate.
    let request = &body["metadata"][1];
    assert_eq!(request["key"], "request");
    assert_eq!(request["values"].as_array().unwrap().len(), 2);
    assert_eq!(request["values"][0]["count"], 2);
}
