//! The searches use the indexes built for them, on servers that can say so (`EXPLAIN
//! indexes = 1`, ClickHouse 20.6 and later): `q` the `message_ngrams` skip index
//! (migration 004), `trace_id` the primary key through `logs_by_trace` (migration 003), and
//! both the tenant at the front of the primary key (migration 005).
//! The SQL explained is exactly what the query service sends for the search.

use crate::stored::{at, event, storage};
use clickhouse::Row;
use traceflow_event::Level;
use traceflow_storage::{LogFilter, LogQuery, StoredLogRow};
use traceflow_testkit::TestStack;

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// The SELECT the query service sends for `filter`, with the columns it fetches.
fn search_sql(filter: LogFilter) -> String {
    let query = LogQuery {
        filter,
        ..LogQuery::default()
    };
    let columns = StoredLogRow::COLUMN_NAMES
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ");
    query
        .to_query(&clickhouse::Client::default())
        .sql_display()
        .to_string()
        .replace("?fields", &columns)
}

/// The version, when the server can explain which indexes a query uses.
async fn explains_indexes(stack: &TestStack) -> bool {
    let version = stack.clickhouse("SELECT version()").await;
    let mut parts = version
        .trim()
        .split('.')
        .map(|part| part.parse::<u32>().ok());
    let explains = matches!((parts.next(), parts.next()), (Some(Some(major)), Some(Some(minor))) if (major, minor) >= (20, 6));
    if !explains {
        eprintln!(
            "skipped: ClickHouse {} has no EXPLAIN (20.6+) and no skip indexes; its searches \
             are checked by their answers in the other tests",
            version.trim()
        );
    }
    explains
}

#[tokio::test]
async fn text_search_and_trace_lookup_use_their_indexes() {
    let stack = TestStack::spawn().await;
    if !explains_indexes(&stack).await {
        return;
    }
    // A part to read: ClickHouse explains index use per part.
    let mut stored = event(
        "auth",
        Level::Error,
        at("2026-05-05T10:00:00Z"),
        "login failed",
    );
    stored.trace_id = TRACE.into();
    storage(&stack).await.insert(&[stored]).await.unwrap();
    let plan = async |filter| {
        let sql = format!("EXPLAIN indexes = 1 {}", search_sql(filter));
        stack.clickhouse(&sql).await
    };

    let text = plan(LogFilter {
        text: vec!["Login Failed".to_owned()],
        ..LogFilter::default()
    })
    .await;
    assert!(text.contains("Name: message_ngrams"), "{text}");
    assert!(primary_key_condition(&text).contains("tenant in"), "{text}");

    let trace = plan(LogFilter {
        trace_id: Some(TRACE.to_owned()),
        ..LogFilter::default()
    })
    .await;
    let condition = primary_key_condition(&trace);
    assert!(
        condition.contains("((timestamp, millisecond) in") && condition.contains("tenant in"),
        "{trace}"
    );
}

/// The condition the plan reads `logs`' primary key with.
fn primary_key_condition(plan: &str) -> &str {
    let key = plan
        .find("PrimaryKey")
        .unwrap_or_else(|| panic!("no primary key use in {plan}"));
    plan[key..]
        .lines()
        .find_map(|line| {
            line.trim_start_matches([' ', '│'])
                .strip_prefix("Condition: ")
        })
        .unwrap_or_else(|| panic!("no primary key condition in {plan}"))
}
