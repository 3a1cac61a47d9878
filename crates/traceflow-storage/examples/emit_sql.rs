//! Prints, as JSON, every SQL statement the storage crate can send to ClickHouse, so that
//! `scripts/check_current_clickhouse.py` can run them on current ClickHouse (chDB):
//!
//! ```text
//! cargo run -q -p traceflow-storage --example emit_sql
//! {"database": "observability",
//!  "migrations": [{"name", "version", "requires", "statements": [...]}, ...],
//!  "insert": {"table": "logs", "columns": [...]},
//!  "queries": [{"name", "sql", <details>?}, ...]}
//! ```
//!
//! Every migration is listed whatever it requires: current ClickHouse has every feature.
//! Query SQL is the client's rendering with every value bound, and `?fields` replaced by the
//! row type's columns as the client does when fetching; it runs in the database the client is
//! bound to (`USE observability`). A query's details tell the checker what it must return or
//! do, so that it can compare with the sample rows:
//!
//! - `log_query`: a search (filter, order, page) whose event ids are checked;
//! - `count`: a filter whose number of matches is checked;
//! - `newest`: the time range whose newest second is checked;
//! - `stats`: a histogram's filter, range, interval and grouping, rows checked;
//! - `explain`: the skip index or key condition ClickHouse must use for it;
//! - `mutation`: a statement that changes data: the table, what it removes, and the query
//!   that says when ClickHouse has finished it;
//! - `ttl`: a TTL change and what `system.tables` must show afterwards.
//!
//! Statements that change data come last, so that the searches see every sample row.
//! To check a new query builder, write a `fn() -> Vec<Shape>` and add it to [`PRODUCERS`].

use chrono::{DateTime, SecondsFormat, Utc};
use clickhouse::{Client, Row, query::Query};
use serde_json::{Value, json};
use traceflow_event::Level;
use traceflow_storage::{
    GroupBy, LogFilter, LogQuery, LogRow, MAX_LIMIT, Migration, Order, Page, Position, Requirement,
    StatsQuery, StoredLogRow, statements,
};

const DATABASE: &str = "observability";

/// One statement: a name, the SQL, and optional details for the checker.
struct Shape {
    name: String,
    sql: String,
    details: Vec<(&'static str, Value)>,
}

impl Shape {
    fn new(name: impl Into<String>, query: Query) -> Self {
        Self {
            name: name.into(),
            sql: query.sql_display().to_string(),
            details: Vec::new(),
        }
    }

    fn with(mut self, key: &'static str, value: Value) -> Self {
        self.details.push((key, value));
        self
    }
}

/// Every statement builder, each giving the shapes it can emit, those that change data
/// last. One line per builder.
const PRODUCERS: &[fn() -> Vec<Shape>] = &[
    log_queries,
    counts,
    newest_timestamps,
    histograms,
    deletions,
    retention_statements,
];

/// The SQL the client sends for `query` when fetching rows of type `R` (minus the FORMAT
/// clause it appends).
fn render<R: Row>(query: Query) -> String {
    let columns = R::COLUMN_NAMES
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ");
    query.sql_display().to_string().replace("?fields", &columns)
}

fn time(rfc3339: &str) -> DateTime<Utc> {
    rfc3339.parse().expect("valid RFC 3339 time")
}

fn millis(time: &Option<DateTime<Utc>>) -> Option<String> {
    time.map(|time| time.to_rfc3339_opts(SecondsFormat::Millis, true))
}

fn filter_json(filter: &LogFilter) -> Value {
    json!({
        "service": filter.service,
        "level": filter.level.map(Level::as_str),
        "from": millis(&filter.from),
        "to": millis(&filter.to),
        "text": filter.text,
        "trace_id": filter.trace_id,
        "metadata": filter.metadata,
    })
}

/// The sample the checker inserts with this event id, by its position.
fn sample_position(at: &str, event_id: &str) -> Position {
    Position {
        event_id: event_id.parse().expect("a UUID"),
        ..Position::start_of(time(at))
    }
}

/// A trace id two of the checker's samples share.
const SHARED_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// `GET /logs`: every combination of the four seed filters being set or not, with hostile
/// or sub-second values, then text, trace, metadata, order and cursor searches.
fn log_queries() -> Vec<Shape> {
    let mut queries: Vec<(String, LogQuery)> = Vec::new();
    for mask in 0..16u8 {
        let set = |bit: u8| mask & (1 << bit) != 0;
        let filter = LogFilter {
            service: set(0).then(|| "x' OR 1=1 --".to_owned()),
            level: set(1).then_some(Level::Error),
            from: set(2).then(|| time("2026-05-05T10:00:00.250Z")),
            to: set(3).then(|| time("2026-05-05T10:00:00.750Z")),
            ..LogFilter::default()
        };
        let filters: Vec<&str> = [(0, "service"), (1, "level"), (2, "from"), (3, "to")]
            .into_iter()
            .filter(|&(bit, _)| set(bit))
            .map(|(_, name)| name)
            .collect();
        let name = if filters.is_empty() {
            "none".to_owned()
        } else {
            filters.join("+")
        };
        queries.push((
            format!("log_query/{name}"),
            LogQuery {
                filter,
                ..LogQuery::default()
            },
        ));
    }
    let filtered = |filter: LogFilter| LogQuery {
        filter,
        ..LogQuery::default()
    };
    let text = |terms: &[&str]| {
        filtered(LogFilter {
            text: terms.iter().map(|term| term.to_string()).collect(),
            ..LogFilter::default()
        })
    };
    let metadata = |pairs: &[(&str, &str)]| {
        filtered(LogFilter {
            metadata: pairs
                .iter()
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .collect(),
            ..LogFilter::default()
        })
    };
    let middle = sample_position(
        "2026-05-05T10:00:00.500Z",
        "0196a0b0-0000-7000-8000-000000000005",
    );
    queries.extend([
        (
            "log_query/paging".to_owned(),
            LogQuery {
                limit: 2,
                page: Page::Offset(1),
                ..LogQuery::default()
            },
        ),
        (
            "log_query/max_limit_far_offset".to_owned(),
            LogQuery {
                limit: MAX_LIMIT,
                page: Page::Offset(u64::from(u32::MAX) + 1),
                ..LogQuery::default()
            },
        ),
        (
            "log_query/service_quote_backslash".to_owned(),
            filtered(LogFilter {
                service: Some(r"a\'b`c".to_owned()),
                ..LogFilter::default()
            }),
        ),
        (
            "log_query/auth_error_in_range".to_owned(),
            filtered(LogFilter {
                service: Some("auth".to_owned()),
                level: Some(Level::Error),
                from: Some(time("2026-05-05T09:59:59.999Z")),
                to: Some(time("2026-05-05T10:00:01Z")),
                ..LogFilter::default()
            }),
        ),
        ("log_query/q_word_any_case".to_owned(), text(&["LOGIN"])),
        (
            "log_query/q_all_words".to_owned(),
            text(&["bound", "upper"]),
        ),
        ("log_query/q_phrase".to_owned(), text(&["upper bound"])),
        (
            "log_query/q_phrase_in_order_only".to_owned(),
            text(&["bound upper"]),
        ),
        (
            "log_query/q_unicode_any_case".to_owned(),
            text(&["ÜNÏCÖDÉ"]),
        ),
        ("log_query/q_percent_is_literal".to_owned(), text(&["100%"])),
        (
            "log_query/q_underscore_is_literal".to_owned(),
            text(&["full_now"]),
        ),
        (
            "log_query/q_quote_and_backslash".to_owned(),
            text(&["'quotes' \"double\" \\"]),
        ),
        (
            "log_query/trace_id".to_owned(),
            filtered(LogFilter {
                trace_id: Some(SHARED_TRACE.to_owned()),
                ..LogFilter::default()
            }),
        ),
        (
            "log_query/trace_id_and_more".to_owned(),
            filtered(LogFilter {
                trace_id: Some(SHARED_TRACE.to_owned()),
                level: Some(Level::Error),
                text: vec!["login".to_owned()],
                ..LogFilter::default()
            }),
        ),
        (
            "log_query/trace_id_unknown".to_owned(),
            filtered(LogFilter {
                trace_id: Some("t1' OR 1=1 --".to_owned()),
                ..LogFilter::default()
            }),
        ),
        ("log_query/metadata".to_owned(), metadata(&[("user", "42")])),
        (
            "log_query/metadata_two".to_owned(),
            metadata(&[("user", "42"), ("ip", "10.0.0.1")]),
        ),
        (
            "log_query/metadata_key_value_crossed".to_owned(),
            metadata(&[("user", "10.0.0.1")]),
        ),
        (
            "log_query/metadata_quotes_unicode".to_owned(),
            metadata(&[("quote'key", "a\"b"), ("κλειδί", "värde")]),
        ),
        (
            "log_query/metadata_empty_value".to_owned(),
            metadata(&[("a", "")]),
        ),
        (
            "log_query/oldest_first".to_owned(),
            LogQuery {
                order: Order::Asc,
                limit: 3,
                ..LogQuery::default()
            },
        ),
        (
            "log_query/cursor_desc".to_owned(),
            LogQuery {
                page: Page::After(middle),
                limit: 3,
                ..LogQuery::default()
            },
        ),
        (
            "log_query/cursor_asc".to_owned(),
            LogQuery {
                order: Order::Asc,
                page: Page::After(middle),
                limit: 3,
                ..LogQuery::default()
            },
        ),
        (
            "log_query/cursor_asc_filtered".to_owned(),
            LogQuery {
                filter: LogFilter {
                    service: Some("auth".to_owned()),
                    ..LogFilter::default()
                },
                order: Order::Asc,
                page: Page::After(middle),
                limit: 100,
            },
        ),
    ]);
    let client = Client::default();
    let mut shapes: Vec<Shape> = queries
        .iter()
        .map(|(name, query)| Shape {
            name: name.clone(),
            sql: render::<StoredLogRow>(query.to_query(&client)),
            details: vec![("log_query", log_query_json(query))],
        })
        .collect();
    // What makes text and trace searches fast on current ClickHouse.
    let explain = |name: &str, query: &LogQuery, must_show: &[&str]| Shape {
        name: format!("explain/{name}"),
        sql: format!(
            "EXPLAIN indexes = 1 {}",
            render::<StoredLogRow>(query.to_query(&client))
        ),
        details: vec![("explain", json!(must_show))],
    };
    shapes.push(explain(
        "q_uses_message_ngrams",
        &text(&["Login Failed"]),
        &["Name: message_ngrams"],
    ));
    shapes.push(explain(
        "trace_id_uses_the_primary_key",
        &filtered(LogFilter {
            trace_id: Some(SHARED_TRACE.to_owned()),
            ..LogFilter::default()
        }),
        &["Condition: ((timestamp, millisecond) in"],
    ));
    shapes
}

fn log_query_json(query: &LogQuery) -> Value {
    let (offset, after) = match query.page {
        Page::Offset(offset) => (offset, None),
        Page::After(position) => (0, Some(position)),
    };
    json!({
        "filter": filter_json(&query.filter),
        "order": query.order.as_str(),
        "offset": offset,
        "after": after.map(|position| json!({
            "at": millis(&Some(position.time())),
            "event_id": position.event_id.to_string(),
        })),
        "limit": query.limit,
    })
}

/// Filters for counts, histograms and deletions.
fn sample_filters() -> Vec<(&'static str, LogFilter)> {
    vec![
        ("none", LogFilter::default()),
        (
            "auth_error",
            LogFilter {
                service: Some("auth".to_owned()),
                level: Some(Level::Error),
                ..LogFilter::default()
            },
        ),
        (
            "range_text",
            LogFilter {
                from: Some(time("2026-05-05T10:00:00.250Z")),
                to: Some(time("2026-05-05T10:00:01Z")),
                text: vec!["bound".to_owned()],
                ..LogFilter::default()
            },
        ),
        (
            "trace_metadata",
            LogFilter {
                trace_id: Some(SHARED_TRACE.to_owned()),
                metadata: vec![("user".to_owned(), "42".to_owned())],
                ..LogFilter::default()
            },
        ),
    ]
}

/// `GET /logs/count`.
fn counts() -> Vec<Shape> {
    let client = Client::default();
    sample_filters()
        .into_iter()
        .map(|(name, filter)| {
            Shape::new(
                format!("count/{name}"),
                statements::count_query(&filter, &client),
            )
            .with("count", filter_json(&filter))
        })
        .collect()
}

/// Where a live tail's stored data ends.
fn newest_timestamps() -> Vec<Shape> {
    let client = Client::default();
    [
        ("all", "1970-01-01T00:00:00Z", "2106-02-07T06:28:15Z"),
        ("first_day", "2026-05-05T00:00:00Z", "2026-05-05T23:59:59Z"),
        ("none", "2030-01-01T00:00:00Z", "2030-01-02T00:00:00Z"),
    ]
    .into_iter()
    .map(|(name, from, to)| {
        let seconds = |at: &str| Position::start_of(time(at)).seconds;
        Shape::new(
            format!("newest/{name}"),
            statements::newest_timestamp_query(seconds(from), seconds(to), &client),
        )
        .with("newest", json!({"from": from, "to": to}))
    })
    .collect()
}

/// `GET /logs/stats` and `GET /services`: each grouping, with and without buckets.
fn histograms() -> Vec<Shape> {
    let client = Client::default();
    let groupings = [
        ("total", GroupBy::default()),
        (
            "level",
            GroupBy {
                level: true,
                ..GroupBy::default()
            },
        ),
        (
            "service",
            GroupBy {
                service: true,
                ..GroupBy::default()
            },
        ),
        (
            "services",
            GroupBy {
                service: true,
                level: true,
            },
        ),
    ];
    let mut shapes = Vec::new();
    for (filter_name, filter) in sample_filters() {
        for (group_name, group_by) in groupings {
            for interval in [None, Some(1), Some(3600)] {
                let query = StatsQuery {
                    filter: filter.clone(),
                    from: time("2026-05-05T09:59:59.999Z"),
                    to: time("2026-05-06T00:00:00Z"),
                    interval,
                    group_by,
                };
                let interval_name = interval.map_or("whole".to_owned(), |s| format!("{s}s"));
                shapes.push(
                    Shape::new(
                        format!("stats/{filter_name}/{group_name}/{interval_name}"),
                        query.to_query(&client),
                    )
                    .with(
                        "stats",
                        json!({
                            "filter": filter_json(&filter),
                            "from": millis(&Some(query.from)),
                            "to": millis(&Some(query.to)),
                            "interval": interval,
                            "service": group_by.service,
                            "level": group_by.level,
                        }),
                    ),
                );
            }
        }
    }
    shapes
}

/// `DELETE /logs`: the count, the mutation and the wait, for a filter that matches one of
/// a trace's two events (the trace index keeps both entries).
fn deletions() -> Vec<Shape> {
    let client = Client::default();
    let filter = LogFilter {
        from: Some(time("2026-05-05T00:00:00Z")),
        to: Some(time("2026-05-05T23:59:59.999Z")),
        level: Some(Level::Error),
        text: vec!["LOGIN".to_owned()],
        ..LogFilter::default()
    };
    let table = statements::DELETED_FROM;
    let mut shapes = vec![
        Shape::new(
            "delete/nothing_pending",
            statements::pending_mutations_query(DATABASE, table, &client),
        ),
        Shape::new("delete/count", statements::count_query(&filter, &client))
            .with("count", filter_json(&filter)),
    ];
    shapes.push(
        Shape::new("delete/mutation", statements::delete_statement(&filter, &client)).with(
            "mutation",
            json!({
                "table": table,
                "removes": filter_json(&filter),
                "pending_sql": statements::pending_mutations_query(DATABASE, table, &client).sql_display().to_string(),
            }),
        ),
    );
    shapes.push(
        Shape::new(
            "delete/count_after",
            statements::count_query(&filter, &client),
        )
        .with("count", filter_json(&filter)),
    );
    shapes
}

/// RETENTION_DAYS: dropping an expired day partition (18.16's way, run here to check the
/// statements), then the TTL (current servers' way), which expires every older sample.
fn retention_statements() -> Vec<Shape> {
    let client = Client::default();
    let mut shapes = Vec::new();
    for table in statements::EXPIRING_TABLES {
        shapes.push(Shape::new(
            format!("retention/partitions/{table}"),
            statements::partitions_query(DATABASE, table, &client),
        ));
        shapes.push(
            Shape::new(
                format!("retention/drop_partition/{table}"),
                statements::drop_partition_statement(table, 20260506, &client),
            )
            .with(
                "mutation",
                json!({
                    "table": table,
                    "removes": filter_json(&LogFilter {
                        from: Some(time("2026-05-06T00:00:00Z")),
                        to: Some(time("2026-05-06T23:59:59.999Z")),
                        ..LogFilter::default()
                    }),
                }),
            ),
        );
    }
    let days = 30;
    for table in statements::EXPIRING_TABLES {
        shapes.push(
            Shape::new(
                format!("retention/ttl/{table}"),
                statements::set_ttl_statement(table, days, &client),
            )
            .with(
                "ttl",
                json!({
                    "table": table,
                    "days": days,
                    "clause": statements::ttl_clause(days),
                    "engine_sql": statements::engine_query(DATABASE, table, &client).sql_display().to_string(),
                    "pending_sql": statements::pending_mutations_query(DATABASE, table, &client).sql_display().to_string(),
                }),
            ),
        );
    }
    shapes
}

fn requirement_name(requirement: Requirement) -> &'static str {
    match requirement {
        Requirement::Ttl => "ttl",
        Requirement::SkipIndexes => "skip_indexes",
        Requirement::InsertDeduplicationToken => "insert_deduplication_token",
    }
}

fn main() {
    let migrations: Vec<Value> = Migration::all()
        .iter()
        .map(|migration| {
            json!({
                "name": migration.name,
                "version": migration.version,
                "requires": migration.requires.iter().copied().map(requirement_name).collect::<Vec<_>>(),
                "statements": migration.statements(DATABASE),
            })
        })
        .collect();
    let queries: Vec<Value> = PRODUCERS
        .iter()
        .flat_map(|produce| produce())
        .map(|shape| {
            let mut entry = json!({ "name": shape.name, "sql": shape.sql });
            for (key, value) in shape.details {
                entry[key] = value;
            }
            entry
        })
        .collect();
    let output = json!({
        "database": DATABASE,
        "migrations": migrations,
        // What `Storage::insert` writes: `INSERT INTO logs(<columns>) FORMAT RowBinary`.
        "insert": { "table": "logs", "columns": <LogRow<'_> as Row>::COLUMN_NAMES },
        "queries": queries,
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&output).expect("JSON values serialize")
    );
}
