//! `GET /logs/stats` (histograms and counts per level or service) and `GET /services`.

use crate::stored::{event, events, get, stack_with};
use chrono::{TimeDelta, Utc};
use serde_json::{Value, json};
use traceflow_event::Level;
use traceflow_testkit::TestStack;

/// Minute 0: 2 ERROR + 1 INFO (api), minute 1: nothing, minute 2: 1 WARN (auth),
/// minute 3: 1 ERROR (auth) at its very last millisecond.
async fn seeded() -> TestStack {
    stack_with(&events(&[
        (
            "api",
            Level::Error,
            "2026-05-05T10:00:05Z",
            "timeout talking to db",
        ),
        (
            "api",
            Level::Error,
            "2026-05-05T10:00:59.999Z",
            "timeout again",
        ),
        ("api", Level::Info, "2026-05-05T10:00:30Z", "ok"),
        ("auth", Level::Warn, "2026-05-05T10:02:00Z", "slow login"),
        (
            "auth",
            Level::Error,
            "2026-05-05T10:03:59.999Z",
            "login timeout",
        ),
    ]))
    .await
}

const RANGE: &str = "from=2026-05-05T10:00:00Z&to=2026-05-05T10:03:59Z";

/// An answer over [`RANGE`]: the range as the service states it (to its last millisecond)
/// and `key`'s `value`.
fn over_range(key: &str, value: Value) -> Value {
    json!({"from": "2026-05-05T10:00:00.000Z", "to": "2026-05-05T10:03:59.999Z", key: value})
}

#[tokio::test]
async fn a_histogram_has_every_bucket_in_the_range_empty_ones_with_zero_counts() {
    let stack = seeded().await;
    let (status, body) = get(
        &stack,
        &format!("/logs/stats?{RANGE}&interval=1m&group_by=level"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        over_range(
            "buckets",
            json!([
                {"time": "2026-05-05T10:00:00.000Z", "count": 3, "counts": {"ERROR": 2, "INFO": 1, "WARN": 0}},
                {"time": "2026-05-05T10:01:00.000Z", "count": 0, "counts": {"ERROR": 0, "INFO": 0, "WARN": 0}},
                {"time": "2026-05-05T10:02:00.000Z", "count": 1, "counts": {"ERROR": 0, "INFO": 0, "WARN": 1}},
                {"time": "2026-05-05T10:03:00.000Z", "count": 1, "counts": {"ERROR": 1, "INFO": 0, "WARN": 0}},
            ])
        )
    );
}

#[tokio::test]
async fn group_by_and_interval_each_work_alone_and_with_the_filters() {
    let stack = seeded().await;
    let cases = [
        // Counts per service over the whole range: one bucket.
        (
            format!("{RANGE}&group_by=service"),
            json!([{"time": "2026-05-05T10:00:00.000Z", "count": 5, "counts": {"api": 3, "auth": 2}}]),
        ),
        // A histogram of totals: no per-group counts.
        (
            format!("{RANGE}&interval=2m"),
            json!([
                {"time": "2026-05-05T10:00:00.000Z", "count": 3},
                {"time": "2026-05-05T10:02:00.000Z", "count": 2},
            ]),
        ),
        // Buckets align to the interval (UTC), the range's ends cut the first and last.
        (
            "from=2026-05-05T10:00:30Z&to=2026-05-05T10:02:00Z&interval=1m".to_owned(),
            json!([
                {"time": "2026-05-05T10:00:00.000Z", "count": 2},
                {"time": "2026-05-05T10:01:00.000Z", "count": 0},
                {"time": "2026-05-05T10:02:00.000Z", "count": 1},
            ]),
        ),
        // The search filters narrow what is counted.
        (
            format!("{RANGE}&interval=1h&group_by=level&q=timeout&service=api"),
            json!([{"time": "2026-05-05T10:00:00.000Z", "count": 2, "counts": {"ERROR": 2}}]),
        ),
        (
            format!("{RANGE}&interval=1h&group_by=level&service=nobody"),
            json!([{"time": "2026-05-05T10:00:00.000Z", "count": 0, "counts": {}}]),
        ),
    ];
    for (query, buckets) in cases {
        let (status, body) = get(&stack, &format!("/logs/stats?{query}")).await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(body["buckets"], buckets, "{query}");
    }
}

#[tokio::test]
async fn without_a_range_stats_count_the_last_hour_and_services_the_last_day() {
    let now = Utc::now();
    let stack = stack_with(&[
        event(
            "recent",
            Level::Info,
            now - TimeDelta::minutes(10),
            "in the hour",
        ),
        event(
            "recent",
            Level::Error,
            now - TimeDelta::hours(3),
            "in the day",
        ),
        event("old", Level::Info, now - TimeDelta::days(2), "before"),
    ])
    .await;
    let (status, stats) = get(&stack, "/logs/stats?group_by=level").await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["buckets"][0]["counts"], json!({"INFO": 1}));
    let to: chrono::DateTime<Utc> = stats["to"].as_str().unwrap().parse().unwrap();
    let from: chrono::DateTime<Utc> = stats["from"].as_str().unwrap().parse().unwrap();
    assert_eq!(to - from, TimeDelta::hours(1));
    assert!(
        (Utc::now() - to).num_seconds().abs() < 60,
        "to is now: {to}"
    );

    let (status, services) = get(&stack, "/services").await;
    assert_eq!(status, 200, "{services}");
    assert_eq!(
        services["services"],
        json!([{"service": "recent", "count": 2, "counts": {"ERROR": 1, "INFO": 1}}])
    );
}

#[tokio::test]
async fn services_lists_each_service_with_its_counts_by_level() {
    let stack = seeded().await;
    let (status, body) = get(&stack, &format!("/services?{RANGE}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        over_range(
            "services",
            json!([
                {"service": "api", "count": 3, "counts": {"ERROR": 2, "INFO": 1}},
                {"service": "auth", "count": 2, "counts": {"ERROR": 1, "WARN": 1}},
            ])
        )
    );
    let (_, body) = get(
        &stack,
        "/services?from=2026-05-05T10:01:00Z&to=2026-05-05T10:02:00Z",
    )
    .await;
    assert_eq!(
        body["services"],
        json!([{"service": "auth", "count": 1, "counts": {"WARN": 1}}])
    );
    let (_, body) = get(&stack, &format!("/services?{RANGE}&level=ERROR")).await;
    assert_eq!(
        body["services"],
        json!([
            {"service": "api", "count": 2, "counts": {"ERROR": 2}},
            {"service": "auth", "count": 1, "counts": {"ERROR": 1}},
        ])
    );
}

#[tokio::test]
async fn bad_stats_parameters_are_400s_naming_them() {
    let stack = seeded().await;
    let day = "from=2026-05-05T00:00:00Z&to=2026-05-05T23:59:59Z";
    for (path, error) in [
        (
            format!("/logs/stats?{day}&interval=1m"),
            "interval gives 1440 buckets from 2026-05-05T00:00:00+00:00 to 2026-05-05T23:59:59.999+00:00; at most 1000 are allowed: widen the interval or narrow from and to".to_owned(),
        ),
        (
            "/logs/stats?interval=5".to_owned(),
            "interval must be a duration such as 10s, 1m, 1h or 1d, got \"5\"".to_owned(),
        ),
        (
            "/logs/stats?interval=0s".to_owned(),
            "interval must be at least 1s, got \"0s\"".to_owned(),
        ),
        (
            "/logs/stats?group_by=host".to_owned(),
            "group_by must be level or service, got \"host\"".to_owned(),
        ),
        (
            "/logs/stats?group_by=level&group_by=service".to_owned(),
            "parameter group_by given more than once".to_owned(),
        ),
        (
            "/logs/stats?from=2999-01-01T00:00:00Z".to_owned(),
            "from must not be after to".to_owned(),
        ),
        (
            "/logs/stats?limit=5".to_owned(),
            "unknown parameter \"limit\"; expected service, level, from, to, q, trace_id, metadata.<key>, not.service, not.level, not.trace_id, not.q, not.metadata.<key>, interval or group_by".to_owned(),
        ),
        (
            "/services?interval=1m".to_owned(),
            "unknown parameter \"interval\"; expected service, level, from, to, q, trace_id, metadata.<key>, not.service, not.level, not.trace_id, not.q or not.metadata.<key>".to_owned(),
        ),
    ] {
        let (status, body) = get(&stack, &path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["error"], error, "{path}");
    }
}
