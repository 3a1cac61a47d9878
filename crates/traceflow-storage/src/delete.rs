//! `DELETE /logs`: an ALTER ... DELETE mutation (ClickHouse 18.16 has nothing lighter), and
//! the statements that count what it matches and watch it finish.
//!
//! The trace index (`logs_by_trace`) is left as it is: it says where a trace's events may
//! be, not which they are, so an entry without events only costs a lookup one granule read
//! until retention removes it.

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

/// The table a deletion changes.
pub const DELETED_FROM: &str = "logs";

/// `SELECT count()` of the events `filter` matches.
pub fn count_query(filter: &LogFilter, client: &Client) -> Query {
    let mut sql = Sql::new("SELECT count() FROM logs WHERE 1");
    sql.append(filter.conditions(TraceLookup::Indexed));
    sql.into_query(client)
}

/// The mutation that deletes what `filter` matches.
pub fn delete_statement(filter: &LogFilter, client: &Client) -> Query {
    let mut sql = Sql::new("ALTER TABLE logs DELETE WHERE 1");
    sql.append(filter.conditions(TraceLookup::Scan));
    sql.into_query(client)
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
    use traceflow_event::Level;

    #[test]
    fn the_mutation_compares_the_trace_id_directly() {
        let filter = LogFilter {
            level: Some(Level::Debug),
            trace_id: Some("t".into()),
            ..LogFilter::default()
        };
        assert_eq!(
            delete_statement(&filter, &Client::default())
                .sql_display()
                .to_string(),
            "ALTER TABLE logs DELETE WHERE 1 AND level = 'DEBUG' AND trace_id = 't'"
        );
    }
}
