//! `GET /logs`: every parameter, clamping, ordering, paging and hostile values, over rows
//! written straight into this stack's table.

use crate::stored::{self, at, encode, stack_with};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;
use std::collections::BTreeMap;
use traceflow_event::{Level, LogEvent};
use traceflow_testkit::{TestStack, messages};

/// An event whose trace id and metadata carry its message, so that what a test puts in
/// the message reaches those columns too.
fn event(service: &str, level: Level, at: DateTime<Utc>, message: &str) -> LogEvent {
    LogEvent {
        trace_id: format!("trace-{message}").into(),
        metadata: BTreeMap::from([("k".into(), message.to_owned().into())]),
        ..stored::event(service, level, at, message)
    }
}

/// `GET /logs?<query>`: the status and the JSON body.
async fn get(stack: &TestStack, query: &str) -> (u16, Value) {
    stored::get(stack, &format!("/logs?{query}")).await
}

/// Five events on 2026-05-05, two services, three levels, millisecond-apart neighbours.
async fn seeded() -> TestStack {
    stack_with(&[
        event("auth", Level::Info, at("2026-05-05T10:00:00.000Z"), "a1"),
        event("auth", Level::Error, at("2026-05-05T10:00:00.001Z"), "a2"),
        event("auth", Level::Error, at("2026-05-05T10:00:00.999Z"), "a3"),
        event("billing", Level::Warn, at("2026-05-05T11:00:00Z"), "b1"),
        event(
            "billing",
            Level::Error,
            at("2026-05-05T23:59:59.500Z"),
            "b2",
        ),
    ])
    .await
}

#[tokio::test]
async fn filters_combine_and_results_are_newest_first() {
    let stack = seeded().await;
    let cases = [
        ("", vec!["b2", "b1", "a3", "a2", "a1"]),
        ("service=auth", vec!["a3", "a2", "a1"]),
        ("level=error", vec!["b2", "a3", "a2"]),
        ("service=auth&level=ERROR", vec!["a3", "a2"]),
        ("level=FATAL", vec![]),
        // Inclusive bounds at millisecond precision.
        (
            "from=2026-05-05T10:00:00.001Z&to=2026-05-05T10:00:00.999Z",
            vec!["a3", "a2"],
        ),
        (
            "from=2026-05-05T10:00:00.002Z&to=2026-05-05T10:00:00.998Z",
            vec![],
        ),
        // A bound given to the second covers that whole second.
        (
            "from=2026-05-05T00:00:00Z&to=2026-05-05T23:59:59Z",
            vec!["b2", "b1", "a3", "a2", "a1"],
        ),
        ("to=2026-05-05T10:00:00Z", vec!["a3", "a2", "a1"]),
        (
            "from=2026-05-05T12:00:00%2B02:00&to=2026-05-05T10:00:00.500Z",
            vec!["a2", "a1"],
        ),
        ("from=2026-05-06T00:00:00Z", vec![]),
    ];
    for (query, expected) in cases {
        let (status, body) = get(&stack, query).await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(messages(&body), expected, "{query}");
        assert_eq!(body["count"], expected.len(), "{query}");
    }
}

#[tokio::test]
async fn limit_and_offset_page_through_results_and_are_clamped() {
    let start = at("2026-05-05T00:00:00Z");
    let events: Vec<LogEvent> = (0..1100)
        .map(|i| {
            event(
                "pager",
                Level::Info,
                start + TimeDelta::seconds(i),
                &format!("{i:04}"),
            )
        })
        .collect();
    let stack = stack_with(&events).await;

    for (query, count, first) in [
        ("", 100, "1099"),
        ("limit=0", 100, "1099"),
        ("limit=-3", 100, "1099"),
        ("limit=5000", 1000, "1099"),
        ("limit=10&offset=0", 10, "1099"),
        ("limit=10&offset=10", 10, "1089"),
        ("limit=1000&offset=1000", 100, "0099"),
        ("offset=1100", 0, ""),
    ] {
        let (status, body) = get(&stack, query).await;
        assert_eq!(status, 200, "{query}");
        assert_eq!(body["count"], count, "{query}");
        assert_eq!(
            messages(&body).first().copied().unwrap_or(""),
            first,
            "{query}"
        );
    }
    // Consecutive pages neither skip nor repeat.
    let (_, first_page) = get(&stack, "limit=50&offset=0").await;
    let (_, second_page) = get(&stack, "limit=50&offset=50").await;
    let first = messages(&first_page);
    let second = messages(&second_page);
    assert_eq!(first.last(), Some(&"1050"));
    assert_eq!(second.first(), Some(&"1049"));
}

#[tokio::test]
async fn bad_parameters_are_400s_naming_them() {
    let stack = seeded().await;
    for (query, expected) in [
        ("limit=ten", "limit must be a whole number, got \"ten\""),
        ("offset=-1", "offset must not be negative, got -1"),
        (
            "level=LOUD",
            "level must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL (any case), got \"LOUD\"",
        ),
        (
            "from=yesterday",
            "from must be an RFC 3339 time such as 2026-05-05T10:00:00Z, got \"yesterday\"",
        ),
        (
            "to=2026-13-01T00:00:00Z",
            "to must be an RFC 3339 time such as 2026-05-05T10:00:00Z, got \"2026-13-01T00:00:00Z\"",
        ),
        (
            "from=2026-05-06T00:00:00Z&to=2026-05-05T00:00:00Z",
            "from must not be after to",
        ),
        (
            "sevice=auth",
            "unknown parameter \"sevice\"; expected service, level, from, to, q, trace_id, metadata.<key>, not.service, not.level, not.trace_id, not.q, not.metadata.<key>, limit, offset, order or cursor",
        ),
    ] {
        let (status, body) = get(&stack, query).await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(body["error"], expected, "{query}");
    }
}

#[tokio::test]
async fn sql_in_parameters_matches_nothing_and_breaks_nothing() {
    let stack = seeded().await;
    for query in [
        "service=x'%20OR%201=1%20--",
        "service=auth'%20--",
        "service=%5C'%3B%20DROP%20TABLE%20logs%3B%20--",
        "service=%3F",
    ] {
        let (status, body) = get(&stack, query).await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(body["count"], 0, "{query}");
    }
    let (_, everything) = get(&stack, "").await;
    assert_eq!(everything["count"], 5, "the table is unharmed");
}

#[tokio::test]
async fn stored_values_with_sql_and_quotes_come_back_verbatim() {
    let hostile = "x'); DROP TABLE logs; -- \"quoted\" \\ back\\slash ?";
    let stack = stack_with(&[event(
        hostile,
        Level::Fatal,
        at("2026-05-05T10:00:00Z"),
        hostile,
    )])
    .await;
    let (status, body) = get(&stack, &format!("service={}", encode(hostile))).await;
    assert_eq!(status, 200);
    assert_eq!(body["count"], 1);
    assert_eq!(body["logs"][0]["message"], hostile);
    assert_eq!(body["logs"][0]["metadata"]["k"], hostile);
}

#[tokio::test]
async fn a_statement_clickhouse_refuses_is_a_500_without_its_text_but_with_the_trace_id() {
    let stack = TestStack::spawn().await;
    // A table gone from under the service: ClickHouse refuses every search.
    stack.clickhouse("DROP TABLE logs").await;
    let answer = stack
        .http
        .get(format!("{}/logs?service=auth", stack.query_url))
        .header("X-Trace-ID", "trace-of-a-failure")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 500);
    assert_eq!(answer.headers()["x-trace-id"], "trace-of-a-failure");
    assert_eq!(answer.headers()["content-type"], "application/json");
    let body: Value = answer.json().await.unwrap();
    assert_eq!(
        body["error"],
        "internal error: the request could not be answered; the service's log has the detail \
         under trace id trace-of-a-failure"
    );
}
