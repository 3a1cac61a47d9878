//! `DELETE /logs`: ALTER ... DELETE mutations (ClickHouse 18.16 has nothing lighter), and
//! the statements that count what they match and watch them finish.

use crate::{
    filter::{LogFilter, TraceLookup},
    sql::Sql,
};
use clickhouse::{Client, query::Query};

/// What a deletion did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deletion {
    /// Events that matched when the request came.
    pub matched: u64,
    /// Whether ClickHouse had finished removing them when the wait ended.
    pub finished: bool,
}

/// `SELECT count()` of the events `filter` matches.
pub fn count_query(filter: &LogFilter, client: &Client) -> Query {
    let mut sql = Sql::new("SELECT count() FROM logs WHERE 1");
    sql.append(filter.conditions(TraceLookup::Indexed));
    sql.into_query(client)
}

/// The mutations that delete what `filter` matches, each with the table it changes, in the
/// order they must run: the trace index first, while the events it selects by still exist.
pub fn delete_statements(filter: &LogFilter, client: &Client) -> Vec<(&'static str, Query)> {
    let mut index = Sql::new(
        "ALTER TABLE logs_by_trace DELETE WHERE event_id IN (SELECT event_id FROM logs WHERE 1",
    );
    index.append(filter.conditions(TraceLookup::Scan));
    index.push(")", []);
    let mut logs = Sql::new("ALTER TABLE logs DELETE WHERE 1");
    logs.append(filter.conditions(TraceLookup::Scan));
    vec![
        ("logs_by_trace", index.into_query(client)),
        ("logs", logs.into_query(client)),
    ]
}

/// How many mutations of `database.table` are still running.
pub fn pending_mutations_query(database: &str, table: &str, client: &Client) -> Query {
    client
        .query(
            "SELECT count() FROM system.mutations WHERE database = ? AND table = ? AND NOT is_done",
        )
        .bind(database)
        .bind(table)
}

#[cfg(test)]
mod tests {
    use super::*;
    use traceflow_queue::Level;

    #[test]
    fn the_index_is_cleaned_by_the_events_the_filter_selects() {
        let filter = LogFilter {
            level: Some(Level::Debug),
            trace_id: Some("t".into()),
            ..LogFilter::default()
        };
        let statements: Vec<(&str, String)> = delete_statements(&filter, &Client::default())
            .into_iter()
            .map(|(table, query)| (table, query.sql_display().to_string()))
            .collect();
        assert_eq!(
            statements,
            vec![
                (
                    "logs_by_trace",
                    "ALTER TABLE logs_by_trace DELETE WHERE event_id IN (SELECT event_id FROM logs WHERE 1 AND level = 'DEBUG' AND trace_id = 't')".to_owned()
                ),
                (
                    "logs",
                    "ALTER TABLE logs DELETE WHERE 1 AND level = 'DEBUG' AND trace_id = 't'".to_owned()
                ),
            ]
        );
    }
}
