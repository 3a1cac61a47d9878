//! `DELETE /logs`: an ALTER ... DELETE mutation (ClickHouse 18.16 has nothing lighter) of
//! what [`Storage::count`] counts, and the wait for ClickHouse to finish it.
//!
//! The trace index (`logs_by_trace`) is left as it is: it says where a trace's events may
//! be, not which they are, so an entry without events only costs a lookup one granule read
//! until retention removes it.

use crate::{
    Layout, Storage, StorageError,
    filter::{LogFilter, TraceLookup},
    schema::LOGS,
    sql::Sql,
};
use clickhouse::{Client, query::Query};
use std::time::Duration;
use tokio::time::Instant;

/// How often a deletion checks whether ClickHouse has finished it.
const MUTATION_POLL: Duration = Duration::from_millis(100);

/// What a deletion did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deletion {
    /// Events that matched when the request came.
    pub matched: u64,
    /// Whether ClickHouse had finished removing them when the wait ended.
    pub finished: bool,
}

/// The table a deletion changes.
pub const DELETED_FROM: &str = LOGS;

/// The mutation that deletes what `filter` matches (on a cluster, from every shard).
pub fn delete_statement(filter: &LogFilter, layout: &Layout, client: &Client) -> Query {
    let table = layout.altered(DELETED_FROM);
    let mut sql = Sql::new(&format!("ALTER TABLE {table} DELETE WHERE 1"));
    sql.append(filter.conditions(TraceLookup::Scan));
    sql.into_query(client)
}

/// How many mutations of `database.table` are still running (on a cluster, of its local
/// twin on any shard).
pub fn pending_mutations_query(
    database: &str,
    table: &str,
    layout: &Layout,
    client: &Client,
) -> Query {
    let mutations = layout.system("mutations");
    client
        .query(&format!(
            "SELECT count() FROM {mutations} WHERE database = ? AND table = ? AND NOT is_done"
        ))
        .bind(database)
        .bind(layout.local(table))
}

impl Storage {
    /// Deletes the events `filter` matches and waits up to `wait` for ClickHouse to finish.
    pub async fn delete(
        &self,
        filter: &LogFilter,
        wait: Duration,
    ) -> Result<Deletion, StorageError> {
        let matched = self.count(filter).await?;
        if matched == 0 {
            // Nothing to do, and a mutation would rewrite every part for nothing.
            return Ok(Deletion {
                matched,
                finished: true,
            });
        }
        let deadline = Instant::now() + wait;
        let everywhere = self
            .alter(delete_statement(filter, &self.layout, &self.client()))
            .await?;
        let finished = everywhere && self.mutations_done(DELETED_FROM, deadline).await?;
        tracing::info!(matched, finished, "events deleted");
        Ok(Deletion { matched, finished })
    }

    /// Waits until `table` has no running mutation, or `deadline`; says which came first.
    async fn mutations_done(&self, table: &str, deadline: Instant) -> Result<bool, StorageError> {
        loop {
            let pending: u64 =
                pending_mutations_query(&self.database, table, &self.layout, &self.client)
                    .fetch_one()
                    .await?;
            if pending == 0 {
                return Ok(true);
            }
            if Instant::now() + MUTATION_POLL > deadline {
                return Ok(false);
            }
            tokio::time::sleep(MUTATION_POLL).await;
        }
    }
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
        let client = Client::default();
        assert_eq!(
            delete_statement(&filter, &Layout::Single, &client)
                .sql_display()
                .to_string(),
            "ALTER TABLE logs DELETE WHERE 1 AND tenant = 'default' AND level = 'DEBUG' AND trace_id = 't'"
        );
        assert_eq!(
            delete_statement(&filter, &Layout::Cluster("c".into()), &client)
                .sql_display()
                .to_string(),
            "ALTER TABLE logs_local ON CLUSTER c DELETE WHERE 1 AND tenant = 'default' AND level = 'DEBUG' AND trace_id = 't'"
        );
        assert_eq!(
            pending_mutations_query("db", DELETED_FROM, &Layout::Cluster("c".into()), &client)
                .sql_display()
                .to_string(),
            "SELECT count() FROM cluster('c', system, mutations) WHERE database = 'db' AND table = 'logs_local' AND NOT is_done"
        );
    }
}
