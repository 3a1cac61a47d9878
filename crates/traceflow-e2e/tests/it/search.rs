//! `GET /logs` with `q`, `trace_id`, `metadata.<key>` and `order`, and `GET /logs/count`:
//! what a user sees, over rows written straight into the stack's table.

use crate::stored::{at, encode, event, get, storage, with_metadata};
use traceflow_event::{Level, LogEvent};
use traceflow_testkit::{TestStack, messages};

fn traced(mut event: LogEvent, trace_id: &str) -> LogEvent {
    event.trace_id = trace_id.to_owned().into();
    event
}

/// Messages worth searching, a second apart, oldest first.
async fn seeded() -> TestStack {
    let stack = TestStack::spawn().await;
    let second = |n: u32| at(&format!("2026-05-05T10:00:{n:02}Z"));
    let events = [
        traced(
            event("auth", Level::Error, second(0), "DB connection failed"),
            "trace-a",
        ),
        traced(
            with_metadata(
                event(
                    "auth",
                    Level::Warn,
                    second(1),
                    "connection slow, then failed",
                ),
                &[("user", "42"), ("host", "db-1")],
            ),
            "trace-a",
        ),
        traced(
            with_metadata(
                event("api", Level::Info, second(2), "Request handled in 12ms"),
                &[("user", "42"), ("host", "web-1")],
            ),
            "trace-b",
        ),
        with_metadata(
            event(
                "api",
                Level::Error,
                second(3),
                "Ünïcödé FAILURE: 100% of retries_used",
            ),
            &[("user", "7"), ("note", "")],
        ),
        with_metadata(
            event("api", Level::Info, second(4), "100 percent of retriesXused"),
            &[("quote'key", "it's \"x\"")],
        ),
        traced(
            event("billing", Level::Error, second(5), "card declined"),
            "trace-a",
        ),
    ];
    storage(&stack).await.insert(&events).await.unwrap();
    stack
}

async fn found(stack: &TestStack, query: &str) -> Vec<String> {
    let (status, body) = get(stack, &format!("/logs?{query}")).await;
    assert_eq!(status, 200, "{query}: {body}");
    messages(&body).into_iter().map(str::to_owned).collect()
}

#[tokio::test]
async fn q_needs_every_word_ignoring_case_and_a_quoted_phrase_as_written() {
    let stack = seeded().await;
    for (q, expected) in [
        (
            "failed",
            vec!["connection slow, then failed", "DB connection failed"],
        ),
        (
            "FAILED",
            vec!["connection slow, then failed", "DB connection failed"],
        ),
        (
            "connection failed",
            vec!["connection slow, then failed", "DB connection failed"],
        ),
        ("\"connection failed\"", vec!["DB connection failed"]),
        ("\"failed connection\"", vec![]),
        ("db \"connection failed\"", vec!["DB connection failed"]),
        ("connection declined", vec![]),
        // Substrings count, as in grep: "fail" is in "failed" and "FAILURE".
        (
            "fail",
            vec![
                "Ünïcödé FAILURE: 100% of retries_used",
                "connection slow, then failed",
                "DB connection failed",
            ],
        ),
        ("ünïcödé", vec!["Ünïcödé FAILURE: 100% of retries_used"]),
        // LIKE's wildcards are literal characters here.
        ("100%", vec!["Ünïcödé FAILURE: 100% of retries_used"]),
        (
            "retries_used",
            vec!["Ünïcödé FAILURE: 100% of retries_used"],
        ),
        ("%", vec!["Ünïcödé FAILURE: 100% of retries_used"]),
        ("' OR 1=1 --", vec![]),
    ] {
        assert_eq!(
            found(&stack, &format!("q={}", encode(q))).await,
            expected,
            "q={q}"
        );
    }
    // Combined with the service, level and time filters.
    assert_eq!(
        found(&stack, "q=connection&level=WARN").await,
        vec!["connection slow, then failed"]
    );
    assert_eq!(
        found(
            &stack,
            "q=failed&from=2026-05-05T10:00:01Z&to=2026-05-05T10:00:05Z"
        )
        .await,
        vec!["connection slow, then failed"]
    );
}

#[tokio::test]
async fn trace_id_finds_exactly_its_events_through_the_trace_index() {
    let stack = seeded().await;
    assert_eq!(
        found(&stack, "trace_id=trace-a").await,
        vec![
            "card declined",
            "connection slow, then failed",
            "DB connection failed"
        ]
    );
    assert_eq!(
        found(&stack, "trace_id=trace-a&service=auth&level=ERROR").await,
        vec!["DB connection failed"]
    );
    assert_eq!(
        found(&stack, "trace_id=trace-a&order=asc&limit=2").await,
        vec!["DB connection failed", "connection slow, then failed"]
    );
    assert!(
        found(&stack, "trace_id=trace").await.is_empty(),
        "exact match only"
    );
    assert!(
        found(
            &stack,
            &format!("trace_id={}", encode("trace-a' OR '1'='1"))
        )
        .await
        .is_empty()
    );
    // Every stored event has its row in the index table the lookup reads.
    let indexed = stack
        .clickhouse("SELECT count() FROM logs_by_trace WHERE trace_id = 'trace-a'")
        .await;
    assert_eq!(indexed.trim(), "3");
}

#[tokio::test]
async fn a_trace_lookup_reads_only_the_granules_holding_the_trace() {
    let stack = TestStack::spawn().await;
    let start = at("2026-05-05T00:00:00Z");
    // Many granules (8192 rows each), the trace's events in one of them.
    let events: Vec<LogEvent> = (0..60_000)
        .map(|i| {
            let event = event(
                "bulk",
                Level::Info,
                start + chrono::TimeDelta::milliseconds(i * 100),
                &format!("event {i}"),
            );
            if (30_000..30_005).contains(&i) {
                traced(event, "needle")
            } else {
                traced(event, &format!("hay-{i}"))
            }
        })
        .collect();
    storage(&stack).await.insert(&events).await.unwrap();
    assert_eq!(found(&stack, "trace_id=needle").await.len(), 5);
    // The condition the search adds for a trace id (pinned by the storage crate's unit
    // tests): ClickHouse refuses to read more than a couple of granules for it, which it
    // could not do by scanning 60,000 rows.
    let lookup = "SELECT count() FROM logs WHERE trace_id = 'needle' \
        AND (timestamp, millisecond) IN \
        (SELECT timestamp, millisecond FROM logs_by_trace WHERE trace_id = 'needle') \
        SETTINGS max_rows_to_read = 20000";
    assert_eq!(stack.clickhouse(lookup).await.trim(), "5");
}

#[tokio::test]
async fn metadata_conditions_match_whole_entries_and_all_must_hold() {
    let stack = seeded().await;
    for (query, expected) in [
        (
            "metadata.user=42",
            vec!["Request handled in 12ms", "connection slow, then failed"],
        ),
        (
            "metadata.user=42&metadata.host=web-1",
            vec!["Request handled in 12ms"],
        ),
        ("metadata.user=42&metadata.host=nowhere", vec![]),
        ("metadata.user=4", vec![]),
        // A key with an empty value is not the same as a key that is absent.
        (
            "metadata.note=",
            vec!["Ünïcödé FAILURE: 100% of retries_used"],
        ),
        ("metadata.host=", vec![]),
        ("metadata.missing=x", vec![]),
        // Key and value of different entries do not combine.
        ("metadata.user=db-1", vec![]),
        (
            "metadata.user=42&service=auth",
            vec!["connection slow, then failed"],
        ),
    ] {
        assert_eq!(found(&stack, query).await, expected, "{query}");
    }
    let quoted = format!("metadata.{}={}", encode("quote'key"), encode("it's \"x\""));
    assert_eq!(
        found(&stack, &quoted).await,
        vec!["100 percent of retriesXused"]
    );
}

#[tokio::test]
async fn order_asc_is_oldest_first_and_desc_newest_first() {
    let stack = seeded().await;
    let oldest_first = found(&stack, "order=asc&service=auth").await;
    assert_eq!(
        oldest_first,
        vec!["DB connection failed", "connection slow, then failed"]
    );
    let newest_first = found(&stack, "order=DESC&service=auth").await;
    assert_eq!(
        newest_first,
        vec!["connection slow, then failed", "DB connection failed"]
    );
    assert_eq!(
        found(&stack, "service=auth").await,
        newest_first,
        "desc by default"
    );
    assert_eq!(
        found(&stack, "order=asc&limit=1&offset=1").await,
        vec!["connection slow, then failed"]
    );
}

#[tokio::test]
async fn exclusions_leave_out_what_they_name_on_every_filtering_endpoint() {
    let stack = seeded().await;
    let all = || {
        vec![
            "card declined",
            "100 percent of retriesXused",
            "Ünïcödé FAILURE: 100% of retries_used",
            "Request handled in 12ms",
            "connection slow, then failed",
            "DB connection failed",
        ]
    };
    let without = |left_out: &[&str]| -> Vec<&'static str> {
        all()
            .into_iter()
            .filter(|message| !left_out.contains(message))
            .collect()
    };
    for (query, expected) in [
        (
            "not.service=api",
            without(&[
                "100 percent of retriesXused",
                "Ünïcödé FAILURE: 100% of retries_used",
                "Request handled in 12ms",
            ]),
        ),
        (
            "not.level=error",
            without(&[
                "card declined",
                "Ünïcödé FAILURE: 100% of retries_used",
                "DB connection failed",
            ]),
        ),
        // Events without a trace id are not in trace-a.
        (
            "not.trace_id=trace-a",
            without(&[
                "card declined",
                "connection slow, then failed",
                "DB connection failed",
            ]),
        ),
        // None of the words may occur, in any case, as substrings; a phrase as written.
        (
            "not.q=FAIL",
            without(&[
                "Ünïcödé FAILURE: 100% of retries_used",
                "connection slow, then failed",
                "DB connection failed",
            ]),
        ),
        (
            "not.q=card+db",
            without(&["card declined", "DB connection failed"]),
        ),
        (
            "not.q=%22connection%20failed%22",
            without(&["DB connection failed"]),
        ),
        (
            "not.q=100%25",
            without(&["Ünïcödé FAILURE: 100% of retries_used"]),
        ),
        // An event without the entry is kept; an empty value is a value.
        (
            "not.metadata.user=42",
            without(&["Request handled in 12ms", "connection slow, then failed"]),
        ),
        (
            "not.metadata.note=",
            without(&["Ünïcödé FAILURE: 100% of retries_used"]),
        ),
        (
            "not.metadata.user=42&not.metadata.host=nowhere&not.service=billing",
            without(&[
                "card declined",
                "Request handled in 12ms",
                "connection slow, then failed",
            ]),
        ),
        ("service=auth&not.q=slow", vec!["DB connection failed"]),
        ("service=auth&not.service=auth", vec![]),
        ("not.service=x'%20OR%201=1%20--", all()),
    ] {
        assert_eq!(found(&stack, query).await, expected, "{query}");
    }
    let range = "from=2026-05-05T10:00:00Z&to=2026-05-05T10:00:59Z";
    for (path, answer) in [
        (
            "/logs/count?not.level=error&not.metadata.user=7".to_owned(),
            serde_json::json!({"count": 3}),
        ),
        (
            format!("/services?{range}&not.service=api&not.level=warn"),
            serde_json::json!({
                "from": "2026-05-05T10:00:00.000Z",
                "to": "2026-05-05T10:00:59.999Z",
                "services": [
                    {"service": "auth", "count": 1, "counts": {"ERROR": 1}},
                    {"service": "billing", "count": 1, "counts": {"ERROR": 1}},
                ],
            }),
        ),
        (
            format!("/logs/stats?{range}&not.q=failed&group_by=level"),
            serde_json::json!({
                "from": "2026-05-05T10:00:00.000Z",
                "to": "2026-05-05T10:00:59.999Z",
                "buckets": [{"time": "2026-05-05T10:00:00.000Z", "count": 4, "counts": {"ERROR": 2, "INFO": 2}}],
            }),
        ),
    ] {
        let (status, body) = get(&stack, &path).await;
        assert_eq!((status, body), (200, answer), "{path}");
    }
}

#[tokio::test]
async fn count_answers_how_many_match_whatever_the_page() {
    let stack = seeded().await;
    for (query, count) in [
        ("", 6),
        ("service=api", 3),
        ("level=ERROR", 3),
        ("q=failed", 2),
        ("trace_id=trace-a", 3),
        ("metadata.user=42", 2),
        ("from=2026-05-05T10:00:02Z&to=2026-05-05T10:00:03Z", 2),
        ("service=api&level=INFO&q=percent", 1),
        ("service=nobody", 0),
    ] {
        let (status, body) = get(&stack, &format!("/logs/count?{query}")).await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(body, serde_json::json!({ "count": count }), "{query}");
    }
    // `count` in a /logs answer stays the number of rows returned.
    let (_, page) = get(&stack, "/logs?limit=2").await;
    assert_eq!(page["count"], 2);
}

#[tokio::test]
async fn bad_search_parameters_are_400s_naming_them() {
    let stack = seeded().await;
    for (path, error) in [
        ("/logs?q=%22unclosed", "q has an unmatched double quote"),
        ("/logs?q=%20%20", "q must contain a word or a quoted phrase"),
        ("/logs?trace_id=", "trace_id must not be empty"),
        (
            "/logs?order=newest",
            "order must be asc or desc, got \"newest\"",
        ),
        (
            "/logs?metadata.=1",
            "a metadata condition needs a key: metadata.<key>=<value>",
        ),
        (
            "/logs?metadata.user=1&metadata.user=2",
            "parameter metadata.user given more than once",
        ),
        ("/logs?q=a&q=b", "parameter q given more than once"),
        (
            "/logs/count?limit=5",
            "unknown parameter \"limit\"; expected service, level, from, to, q, trace_id, metadata.<key>, not.service, not.level, not.trace_id, not.q or not.metadata.<key>",
        ),
        (
            "/logs/count?q=x&metadata=1",
            "unknown parameter \"metadata\"; expected service, level, from, to, q, trace_id, metadata.<key>, not.service, not.level, not.trace_id, not.q or not.metadata.<key>",
        ),
        (
            "/logs/count?level=LOUD",
            "level must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL (any case), got \"LOUD\"",
        ),
        ("/logs?q=%FF", "q is not valid UTF-8 once percent-decoded"),
        ("/logs?not.q=%22", "not.q has an unmatched double quote"),
        ("/logs?not.service=%20", "not.service must not be empty"),
        (
            "/logs/count?not.level=LOUD",
            "not.level must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL (any case), got \"LOUD\"",
        ),
        (
            "/logs?not.service=a&not.service=b",
            "parameter not.service given more than once",
        ),
        (
            "/logs?not.metadata.=1",
            "a metadata exclusion needs a key: not.metadata.<key>=<value>",
        ),
    ] {
        let (status, body) = get(&stack, path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["error"], error, "{path}");
    }
}
