//! Migration 005 on a database the previous release left with rows in it: the rows become
//! tenant `default`'s in tables sorted by tenant first, whether the migration runs at once,
//! after a copy cut short, or after a RENAME cut between its two moves; nothing is lost or
//! stored twice, and the query service and a new worker work on the result.

use crate::stored::{get, storage};
use serde_json::json;
use std::time::Duration;
use traceflow_storage::{Layout, Migration, Step, Storage};
use traceflow_testkit::{StackOptions, TestStack};

/// Rows as the previous release's worker wrote them (no tenant), over three days.
const ROWS: u64 = 3000;

/// A stack without a worker, its database as migrations 001-004 left it, holding [`ROWS`]
/// rows, one of them in trace `old-trace`.
async fn database_before_tenants() -> (TestStack, Storage) {
    let stack = TestStack::spawn_with(StackOptions {
        worker: false,
        ..StackOptions::default()
    })
    .await;
    let storage = storage(&stack).await;
    storage.migrate_to(4).await.unwrap();
    stack
        .clickhouse(&format!(
            "INSERT INTO logs (timestamp, millisecond, event_id, service, level, message, \
             trace_id, metadata, metadata_keys, metadata_values) \
             SELECT toDateTime(toUInt32(now()) - 3600 - number * 86), toUInt16(number % 1000), \
             generateUUIDv4(), 'legacy', 'INFO', concat('old ', toString(number)), \
             if(number = 7, 'old-trace', ''), '{{}}', [], [] FROM numbers({ROWS})"
        ))
        .await;
    (stack, storage)
}

/// Runs migration 005's statements before its program, as an interrupted run would have
/// (with the setting 18.16 needs for `LowCardinality`, as the storage crate sends it).
async fn start_of_005(stack: &TestStack, storage: &Storage) {
    let tenant_first = Migration::all(&Layout::Single)
        .into_iter()
        .find(|migration| migration.version == 5)
        .unwrap();
    let mut settings = vec![("database", stack.database.as_str())];
    if storage.version().needs_low_cardinality_setting() {
        settings.push(("allow_experimental_low_cardinality_type", "1"));
    }
    for step in tenant_first.steps(&stack.database, &Layout::Single) {
        let Step::Sql(statement) = step else { return };
        let answer = stack
            .http
            .post(&stack.clickhouse_url)
            .query(&settings)
            .body(statement)
            .send()
            .await
            .unwrap();
        assert!(
            answer.status().is_success(),
            "{}",
            answer.text().await.unwrap()
        );
    }
}

/// Copies the rows of `logs` that `rest` (a WHERE and LIMIT, or nothing) picks into 005's new
/// table, as an interrupted run would have.
async fn copy_into_new_table(stack: &TestStack, rest: &str) {
    stack
        .clickhouse(&format!(
            "INSERT INTO logs_tenant_first (tenant, timestamp, millisecond, event_id, service, \
             level, message, trace_id, metadata, metadata_keys, metadata_values) \
             SELECT 'default', timestamp, millisecond, event_id, service, level, message, \
             trace_id, metadata, metadata_keys, metadata_values FROM logs {rest}"
        ))
        .await;
}

/// `SHOW CREATE TABLE`'s text.
async fn definition(stack: &TestStack, table: &str) -> String {
    stack
        .clickhouse(&format!("SHOW CREATE TABLE {table} FORMAT TSVRaw"))
        .await
}

/// Checks what every path through the migration must end with.
async fn check_migrated(stack: &TestStack, storage: &Storage) {
    let counts = stack
        .clickhouse(
            "SELECT count(), uniqExact(event_id), groupUniqArray(tenant) FROM logs FORMAT TSV",
        )
        .await;
    assert_eq!(counts.trim(), format!("{ROWS}\t{ROWS}\t['default']"));
    assert!(
        definition(stack, "logs")
            .await
            .contains("ORDER BY (tenant, timestamp, millisecond, event_id)")
    );
    assert!(
        definition(stack, "logs_by_trace")
            .await
            .contains("ORDER BY (tenant, trace_id, timestamp, millisecond)")
    );
    let tables = stack
        .clickhouse("SELECT name FROM system.tables WHERE database = currentDatabase() AND name LIKE 'logs%' ORDER BY name FORMAT TSV")
        .await;
    assert_eq!(
        tables.lines().collect::<Vec<_>>(),
        ["logs", "logs_by_trace", "logs_by_trace_mv"]
    );
    assert_eq!(
        storage.migrate().await.unwrap(),
        Vec::<u32>::new(),
        "all recorded"
    );

    // The query service reads them as the default tenant's, the trace lookup included.
    assert_eq!(
        get(stack, "/logs/count").await,
        (200, json!({"count": ROWS}))
    );
    let trace = stack
        .wait_for_logs("trace_id=old-trace", 1, Duration::from_secs(5))
        .await;
    assert_eq!(trace["logs"][0]["message"], "old 7");
}

#[tokio::test]
async fn a_table_with_rows_moves_to_the_default_tenant_and_new_events_follow() {
    let (mut stack, storage) = database_before_tenants().await;
    let applied = storage.migrate().await.unwrap();
    assert_eq!(applied[0], 5, "{applied:?}");
    check_migrated(&stack, &storage).await;

    stack.start_worker().await;
    let accepted = stack
        .ingest(&json!({"service": "after", "level": "INFO", "message": "new"}))
        .await;
    assert_eq!(accepted.status(), 202);
    stack
        .wait_for_logs("service=after", 1, Duration::from_secs(10))
        .await;
    assert_eq!(stack.stored_rows().await, ROWS + 1);
}

#[tokio::test]
async fn a_copy_cut_short_is_finished_without_storing_a_row_twice() {
    let (stack, storage) = database_before_tenants().await;
    start_of_005(&stack, &storage).await;
    // Part of the first day copied when the worker stopped.
    copy_into_new_table(
        &stack,
        "WHERE toYYYYMMDD(timestamp) = (SELECT min(toYYYYMMDD(timestamp)) FROM logs) LIMIT 100",
    )
    .await;
    storage.migrate().await.unwrap();
    check_migrated(&stack, &storage).await;
}

#[tokio::test]
async fn a_rename_cut_between_its_moves_is_finished() {
    let (stack, storage) = database_before_tenants().await;
    start_of_005(&stack, &storage).await;
    copy_into_new_table(&stack, "").await;
    stack
        .clickhouse("RENAME TABLE logs TO logs_before_tenant")
        .await;
    storage.migrate().await.unwrap();
    check_migrated(&stack, &storage).await;
}
