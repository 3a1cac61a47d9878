//! `GET /logs/export`: every matching event as a download, NDJSON or CSV, streamed, with no
//! cap on how many; an export that fails midway ends visibly.

use crate::{
    proxy::ClickHouseProxy,
    stored::{at, event, get, stack_with, with_metadata},
};
use chrono::TimeDelta;
use serde_json::{Value, json};
use std::collections::HashSet;
use traceflow_event::{Event, Level, LogEvent};
use traceflow_storage::{EXPORT_PAGE, Position};
use traceflow_testkit::TestStack;

/// What a client downloading an export gets.
struct Download {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
    /// Whether the body ended as a complete HTTP body (the chunked encoding's last chunk).
    complete: bool,
}

async fn download(stack: &TestStack, query: &str) -> Download {
    let mut answer = stack
        .http
        .get(format!("{}/logs/export?{query}", stack.query_url))
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    let headers = answer.headers().clone();
    let mut body = Vec::new();
    let complete = loop {
        match answer.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => break true,
            Err(_) => break false,
        }
    };
    Download {
        status,
        headers,
        body: String::from_utf8(body).unwrap(),
        complete,
    }
}

fn lines(body: &str) -> Vec<Value> {
    body.lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[tokio::test]
async fn an_export_is_every_matching_event_as_the_search_answers_them() {
    let second = |n: i64| at("2026-05-05T10:00:00Z") + TimeDelta::seconds(n);
    let mut quoted = with_metadata(
        event("api", Level::Error, second(2), "said \"no\", then\nleft"),
        &[("user", "4,2")],
    );
    quoted.trace_id = "t-1".into();
    let stack = stack_with(&[
        event("api", Level::Info, second(0), "first"),
        event("auth", Level::Info, second(1), "other service"),
        quoted,
        event("api", Level::Debug, second(3), "health check"),
        event("api", Level::Info, second(3600), "outside the range"),
    ])
    .await;
    let range = "from=2026-05-05T10:00:00Z&to=2026-05-05T10:59:59Z";
    let filter = format!("{range}&service=api&not.q=health");

    let ndjson = download(&stack, &filter).await;
    assert_eq!(ndjson.status, 200, "{}", ndjson.body);
    assert!(ndjson.complete);
    assert_eq!(ndjson.headers["content-type"], "application/x-ndjson");
    assert_eq!(
        ndjson.headers["content-disposition"],
        "attachment; filename=\"traceflow-20260505T100000Z-20260505T105959Z.ndjson\""
    );
    // The same events, the same objects, the same order as GET /logs.
    let (status, search) = get(&stack, &format!("/logs?{filter}")).await;
    assert_eq!(status, 200);
    assert_eq!(Value::from(lines(&ndjson.body)), search["logs"]);
    assert_eq!(search["count"], 2);

    let csv = download(&stack, &format!("{filter}&format=csv&order=asc")).await;
    assert_eq!(csv.status, 200);
    assert!(csv.complete);
    assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        csv.headers["content-disposition"],
        "attachment; filename=\"traceflow-20260505T100000Z-20260505T105959Z.csv\""
    );
    let ids: Vec<&str> = search["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        csv.body,
        format!(
            "timestamp,service,level,message,trace_id,metadata,id\r\n\
             2026-05-05T10:00:00.000Z,api,INFO,first,,{{}},{}\r\n\
             2026-05-05T10:00:02.000Z,api,ERROR,\"said \"\"no\"\", then\nleft\",t-1,\"{{\"\"user\"\":\"\"4,2\"\"}}\",{}\r\n",
            ids[1], ids[0]
        )
    );

    // Nothing matching is an empty file (CSV: its header).
    let none = download(&stack, "service=nobody&format=csv").await;
    assert_eq!(
        (none.status, none.body.as_str(), none.complete),
        (
            200,
            "timestamp,service,level,message,trace_id,metadata,id\r\n",
            true
        )
    );
    for (query, error) in [
        ("format=xlsx", "format must be ndjson or csv, got \"xlsx\""),
        (
            "limit=5",
            "unknown parameter \"limit\"; expected service, level, from, to, q, trace_id, metadata.<key>, not.service, not.level, not.trace_id, not.q, not.metadata.<key>, order or format",
        ),
    ] {
        let refused = download(&stack, query).await;
        assert_eq!(refused.status, 400, "{query}");
        assert_eq!(
            serde_json::from_str::<Value>(&refused.body).unwrap(),
            json!({ "error": error })
        );
    }
}

/// `count` events of `bulk` within a few seconds before `end`, seven to a millisecond, with
/// an `other` event after every tenth, plus a `bulk` event on each of the ten days before.
fn bulk_events(end: chrono::DateTime<chrono::Utc>, count: i64) -> Vec<LogEvent> {
    let dense_start = end - TimeDelta::milliseconds(count / 7 + 1);
    let mut events: Vec<LogEvent> = (0..count)
        .map(|n| {
            event(
                "bulk",
                Level::Info,
                dense_start + TimeDelta::milliseconds(n / 7),
                &format!("bulk {n}"),
            )
        })
        .collect();
    events.extend((0..count / 10).map(|n| {
        event(
            "other",
            Level::Info,
            dense_start + TimeDelta::milliseconds(n * 10 / 7),
            "other",
        )
    }));
    events.extend((1..=10).map(|day| {
        event(
            "bulk",
            Level::Warn,
            dense_start - TimeDelta::days(day),
            &format!("bulk day -{day}"),
        )
    }));
    events
}

#[tokio::test]
async fn a_large_export_streams_every_event_once_in_order() {
    let end = at("2026-05-05T10:00:00Z");
    let events = bulk_events(end, 24_000);
    let stack = stack_with(&events).await;
    let mut expected: Vec<Position> = events
        .iter()
        .filter(|event| event.service == "bulk")
        .map(Position::of)
        .collect();
    expected.sort();
    assert!(expected.len() > 2 * EXPORT_PAGE as usize, "several pages");

    let filter = "service=bulk&from=2026-04-01T00:00:00Z&to=2026-05-05T10:00:00Z";
    for order in ["asc", "desc"] {
        let export = download(&stack, &format!("{filter}&order={order}")).await;
        assert_eq!(export.status, 200);
        assert!(export.complete);
        let positions: Vec<Position> = export
            .body
            .lines()
            .map(|line| serde_json::from_str::<Event>(line).unwrap().into_owned())
            .map(|event| Position::of(&event))
            .collect();
        let unique: HashSet<_> = positions.iter().collect();
        assert_eq!(unique.len(), positions.len(), "{order}: no event twice");
        let mut in_table_order = expected.clone();
        if order == "desc" {
            in_table_order.reverse();
        }
        assert!(
            positions == in_table_order,
            "{order}: {} events exported, {} expected, in the table's order",
            positions.len(),
            in_table_order.len()
        );
    }
    // Without a time range: from the first event stored to now, oldest first.
    let csv = download(&stack, "service=bulk&format=csv&order=asc").await;
    assert!(csv.complete);
    assert_eq!(csv.body.matches("\r\n").count(), expected.len() + 1);
    assert!(
        csv.body
            .lines()
            .nth(1)
            .unwrap()
            .contains(",bulk,WARN,bulk day -10,")
    );
}

#[tokio::test]
async fn an_export_that_fails_midway_ends_without_its_last_chunk_and_says_so() {
    let (proxy, stack, storage) = ClickHouseProxy::with_stack().await;
    let end = at("2026-05-05T10:00:00Z");
    storage.insert(&bulk_events(end, 24_000)).await.unwrap();
    let filter = "service=bulk&to=2026-05-05T10:00:00Z";

    // The first page goes through; every page after it (they start after a position) fails.
    proxy.fail_requests_containing(Some("(timestamp, millisecond, event_id) <"));
    let ndjson = download(&stack, filter).await;
    assert_eq!(ndjson.status, 200);
    assert!(!ndjson.complete, "the body must not end as a complete one");
    let lines = lines(&ndjson.body);
    assert_eq!(lines.len(), EXPORT_PAGE as usize + 1);
    assert_eq!(
        lines.last().unwrap(),
        &json!({"error": format!(
            "the export ended early, after {EXPORT_PAGE} events: internal error; the service's log has the detail under the answer's X-Trace-ID"
        )})
    );
    assert!(
        lines[..EXPORT_PAGE as usize]
            .iter()
            .all(|line| line["service"] == "bulk")
    );

    let csv = download(&stack, &format!("{filter}&format=csv")).await;
    assert_eq!(csv.status, 200);
    assert!(!csv.complete);
    assert_eq!(
        csv.body.lines().count(),
        EXPORT_PAGE as usize + 1,
        "the header and a page"
    );

    // A ClickHouse failing from the start is an error answer, not a 200.
    proxy.fail_requests_containing(Some(""));
    let refused = download(&stack, filter).await;
    assert_eq!(refused.status, 500, "{}", refused.body);
    assert!(refused.body.contains("internal error"), "{}", refused.body);

    proxy.fail_requests_containing(None);
    let whole = download(&stack, filter).await;
    assert!(whole.complete);
    assert_eq!(whole.body.lines().count(), 24_010);
}
