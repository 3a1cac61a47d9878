//! Prints, as JSON, every SQL statement the storage crate can send to ClickHouse, so that
//! `scripts/check_current_clickhouse.py` can run them on current ClickHouse (chDB):
//!
//! ```text
//! cargo run -q -p traceflow-storage --example emit_sql
//! {"database": "observability",
//!  "migrations": [{"name", "version", "requires", "statements": [...]}, ...],
//!  "insert": {"table": "logs", "columns": [...]},
//!  "queries": [{"name", "sql", "log_query"?: {...}}, ...]}
//! ```
//!
//! Every migration is listed whatever it requires: current ClickHouse has every feature.
//! Query SQL is the client's rendering with every value bound, and `?fields` replaced by the
//! row type's columns as the client does when fetching; it runs in the database the client is
//! bound to (`USE observability`). `log_query`, when present, holds the search's parameters so
//! the checker can compute which sample rows it must return.
//!
//! To check a new query builder, write a `fn() -> Vec<Shape>` and add it to [`PRODUCERS`].

use chrono::{DateTime, SecondsFormat, Utc};
use clickhouse::{Client, Row, query::Query};
use serde_json::{Value, json};
use traceflow_queue::Level;
use traceflow_storage::{LogQuery, LogRow, Migration, Requirement, StoredLogRow};

const DATABASE: &str = "observability";

/// One query shape: a name, the SQL, and optional details for the checker.
struct Shape {
    name: String,
    sql: String,
    details: Option<(&'static str, Value)>,
}

/// Every query builder, each giving the shapes it can emit. One line per builder.
const PRODUCERS: &[fn() -> Vec<Shape>] = &[log_queries];

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

/// `GET /logs`: every combination of the four filters being set or not, with hostile or
/// sub-second values, plus paging and a few realistic searches.
fn log_queries() -> Vec<Shape> {
    let client = Client::default();
    let mut queries: Vec<(String, LogQuery)> = Vec::new();
    for mask in 0..16u8 {
        let set = |bit: u8| mask & (1 << bit) != 0;
        let query = LogQuery {
            service: set(0).then(|| "x' OR 1=1 --".to_owned()),
            level: set(1).then_some(Level::Error),
            from: set(2).then(|| time("2026-05-05T10:00:00.250Z")),
            to: set(3).then(|| time("2026-05-05T10:00:00.750Z")),
            ..LogQuery::default()
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
        queries.push((format!("log_query/{name}"), query));
    }
    queries.extend([
        (
            "log_query/paging".to_owned(),
            LogQuery {
                limit: 2,
                offset: 1,
                ..LogQuery::default()
            },
        ),
        (
            "log_query/max_limit_far_offset".to_owned(),
            LogQuery {
                limit: traceflow_storage::MAX_LIMIT,
                offset: u64::from(u32::MAX) + 1,
                ..LogQuery::default()
            },
        ),
        (
            "log_query/service_quote_backslash".to_owned(),
            LogQuery {
                service: Some(r"a\'b`c".to_owned()),
                ..LogQuery::default()
            },
        ),
        (
            "log_query/auth_error_in_range".to_owned(),
            LogQuery {
                service: Some("auth".to_owned()),
                level: Some(Level::Error),
                from: Some(time("2026-05-05T09:59:59.999Z")),
                to: Some(time("2026-05-05T10:00:01Z")),
                ..LogQuery::default()
            },
        ),
    ]);
    queries
        .into_iter()
        .map(|(name, query)| Shape {
            name,
            sql: render::<StoredLogRow>(query.to_query(&client)),
            details: Some(("log_query", log_query_json(&query))),
        })
        .collect()
}

fn log_query_json(query: &LogQuery) -> Value {
    let time =
        |t: &Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true));
    json!({
        "service": query.service,
        "level": query.level.map(Level::as_str),
        "from": time(&query.from),
        "to": time(&query.to),
        "limit": query.limit,
        "offset": query.offset,
    })
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
            if let Some((key, value)) = shape.details {
                entry[key] = value;
            }
            entry
        })
        .collect();
    let output = json!({
        "database": DATABASE,
        "migrations": migrations,
        // What `Storage::insert` writes: `INSERT INTO logs(<columns>) FORMAT RowBinary`.
        "insert": { "table": "logs", "columns": <LogRow as Row>::COLUMN_NAMES },
        "queries": queries,
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&output).expect("JSON values serialize")
    );
}
