//! `DELETE /logs`: removes exactly what the filter matches, answers how many matched, and
//! refuses filters that could delete too much.

use crate::stored::{call, encode, events, get, stack_with};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use traceflow_event::Level;
use traceflow_testkit::{TestStack, messages};

const DAY: &str = "from=2026-05-05T00:00:00Z&to=2026-05-05T23:59:59Z";

async fn delete(stack: &TestStack, query: &str) -> (u16, Value) {
    call(stack, Method::DELETE, &format!("/logs?{query}")).await
}

async fn remaining(stack: &TestStack) -> Vec<String> {
    let (_, body) = get(stack, "/logs?order=asc").await;
    messages(&body).into_iter().map(str::to_owned).collect()
}

async fn seeded() -> TestStack {
    let mut seed = events(&[
        ("api", Level::Debug, "2026-05-05T10:00:00Z", "debug noise 1"),
        ("api", Level::Debug, "2026-05-05T10:00:01Z", "debug noise 2"),
        (
            "api",
            Level::Error,
            "2026-05-05T10:00:02Z",
            "card 4111 declined",
        ),
        ("auth", Level::Debug, "2026-05-05T10:00:03Z", "debug auth"),
        (
            "api",
            Level::Debug,
            "2026-05-06T10:00:00Z",
            "debug next day",
        ),
    ]);
    seed[2].trace_id = "trace-card".into();
    seed[2].metadata = BTreeMap::from([("user".into(), "42".into())]);
    seed[3].trace_id = "trace-card".into();
    stack_with(&seed).await
}

#[tokio::test]
async fn delete_removes_exactly_the_matching_events_and_says_how_many() {
    let stack = seeded().await;
    let (status, body) = delete(&stack, &format!("{DAY}&service=api&level=DEBUG")).await;
    assert_eq!((status, body), (200, json!({"matched": 2})));
    // Gone at once: the answer waits for ClickHouse to finish.
    assert_eq!(
        remaining(&stack).await,
        ["card 4111 declined", "debug auth", "debug next day"]
    );
    // Nothing left to match.
    let (status, body) = delete(&stack, &format!("{DAY}&service=api&level=DEBUG")).await;
    assert_eq!((status, body), (200, json!({"matched": 0})));
}

#[tokio::test]
async fn text_metadata_and_trace_filters_delete_and_trace_lookups_follow() {
    let stack = seeded().await;
    let (status, body) = delete(
        &stack,
        &format!("{DAY}&q={}&metadata.user=42", encode("4111 DECLINED")),
    )
    .await;
    assert_eq!((status, body), (200, json!({"matched": 1})));
    assert_eq!(
        remaining(&stack).await,
        [
            "debug noise 1",
            "debug noise 2",
            "debug auth",
            "debug next day"
        ]
    );
    // The trace lookup no longer finds it; the trace's other event stays.
    let (_, trace) = get(&stack, "/logs?trace_id=trace-card").await;
    assert_eq!(messages(&trace), ["debug auth"]);

    let (status, body) = delete(&stack, &format!("{DAY}&trace_id=trace-card")).await;
    assert_eq!((status, body), (200, json!({"matched": 1})));
    let (_, trace) = get(&stack, "/logs?trace_id=trace-card").await;
    assert_eq!(messages(&trace), Vec::<&str>::new());
    assert_eq!(
        remaining(&stack).await,
        ["debug noise 1", "debug noise 2", "debug next day"]
    );
}

#[tokio::test]
async fn a_delete_without_a_range_and_another_filter_is_refused_and_deletes_nothing() {
    let stack = seeded().await;
    for (query, error) in [
        ("", "DELETE needs a time range: give both from and to"),
        (
            "service=api",
            "DELETE needs a time range: give both from and to",
        ),
        (
            "service=api&from=2026-05-05T00:00:00Z",
            "DELETE needs a time range: give both from and to",
        ),
        (
            DAY,
            "DELETE needs a condition besides the time range: service, level, q, trace_id or metadata.<key>",
        ),
        (
            "from=2026-05-05T00:00:00Z&to=2026-05-05T23:59:59Z&sevice=api",
            "unknown parameter \"sevice\"; expected service, level, from, to, q, trace_id or metadata.<key>",
        ),
        (
            "from=2026-05-05T00:00:00Z&to=2026-05-05T23:59:59Z&service=api&limit=1",
            "unknown parameter \"limit\"; expected service, level, from, to, q, trace_id or metadata.<key>",
        ),
        (
            "from=2026-05-06T00:00:00Z&to=2026-05-05T00:00:00Z&service=api",
            "from must not be after to",
        ),
        (
            "from=2026-05-05T00:00:00Z&to=2026-05-05T23:59:59Z&service=",
            "service must not be empty",
        ),
    ] {
        let (status, body) = delete(&stack, query).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"], error, "{query}");
    }
    assert_eq!(remaining(&stack).await.len(), 5);
}
