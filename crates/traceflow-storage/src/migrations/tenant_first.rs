//! Migration 005's program: moves `logs` into `logs_tenant_first` (created by the file's
//! first statement, `tenant` first in its sort key) and gives it the name `logs`.
//!
//! Each step looks at what is there before acting, so a run interrupted anywhere finishes
//! when run again:
//!
//! - `logs` without `tenant`: its day partitions are copied one at a time (a partition the
//!   new table already holds whole, by row count, is skipped; a partly copied one is dropped
//!   and copied again), then one RENAME moves `logs` aside and the new table into its place;
//! - no `logs` (a RENAME cut between its two moves): the new table takes the name;
//! - `logs` with `tenant`: the move is done; what is left of the old table and an empty new
//!   one made by the rerun's first statement are dropped.
//!
//! Last, a `logs_by_trace` without `tenant` is dropped for the file's next statements to
//! create and fill again.

use crate::{
    Layout, Storage, StorageError,
    retention::{drop_partition_statement, partitions_query},
    schema::{LOGS, LOGS_BY_TRACE},
};

/// The rebuilt table until it takes `logs`'s name.
const NEW: &str = "logs_tenant_first";
/// The table as it was, between the RENAME and its DROP.
const OLD: &str = "logs_before_tenant";
/// The columns both tables have, in the old table's order.
const COLUMNS: &str = "timestamp, millisecond, event_id, service, level, message, trace_id, \
                       metadata, metadata_keys, metadata_values";

pub(super) async fn run(storage: &Storage) -> Result<(), StorageError> {
    let database = storage.database();
    if !storage.table_exists(LOGS).await? {
        rename(storage, &[(NEW, LOGS)]).await?;
    } else if !storage.has_tenant_column(LOGS).await? {
        copy_partitions(storage).await?;
        rename(storage, &[(LOGS, OLD), (NEW, LOGS)]).await?;
    }
    for leftover in [NEW, OLD] {
        storage
            .client()
            .query(&format!("DROP TABLE IF EXISTS {database}.{leftover}"))
            .execute()
            .await?;
    }
    if storage.table_exists(LOGS_BY_TRACE).await?
        && !storage.has_tenant_column(LOGS_BY_TRACE).await?
    {
        storage
            .client()
            .query(&format!("DROP TABLE {database}.{LOGS_BY_TRACE}"))
            .execute()
            .await?;
    }
    Ok(())
}

/// Copies every day partition of `logs` that `NEW` does not hold whole, as tenant
/// `default`'s events.
async fn copy_partitions(storage: &Storage) -> Result<(), StorageError> {
    let client = storage.client();
    let partitions: Vec<String> =
        partitions_query(storage.database(), LOGS, &Layout::Single, &client)
            .fetch_all()
            .await?;
    let mut partitions: Vec<u32> = partitions
        .iter()
        .filter_map(|raw| raw.parse().ok())
        .collect();
    partitions.sort_unstable();
    for partition in partitions {
        let rows = |table: &str| {
            client
                .query(&format!(
                    "SELECT count() FROM {table} WHERE toYYYYMMDD(timestamp) = ?"
                ))
                .bind(partition)
                .fetch_one::<u64>()
        };
        let (old, new) = (rows(LOGS).await?, rows(NEW).await?);
        if old == new {
            continue;
        }
        if new > 0 {
            drop_partition_statement(NEW, partition, &client)
                .execute()
                .await?;
        }
        client
            .query(&format!(
                "INSERT INTO {NEW} (tenant, {COLUMNS}) \
                 SELECT 'default', {COLUMNS} FROM {LOGS} WHERE toYYYYMMDD(timestamp) = ?"
            ))
            .bind(partition)
            .execute()
            .await?;
        tracing::info!(partition, rows = old, "migration 005: day partition copied");
    }
    Ok(())
}

async fn rename(storage: &Storage, moves: &[(&str, &str)]) -> Result<(), StorageError> {
    let database = storage.database();
    let moves: Vec<String> = moves
        .iter()
        .map(|(from, to)| format!("{database}.{from} TO {database}.{to}"))
        .collect();
    storage
        .client()
        .query(&format!("RENAME TABLE {}", moves.join(", ")))
        .execute()
        .await?;
    Ok(())
}

impl Storage {
    async fn table_exists(&self, table: &str) -> Result<bool, StorageError> {
        let count: u64 = self
            .client()
            .query("SELECT count() FROM system.tables WHERE database = ? AND name = ?")
            .bind(self.database())
            .bind(table)
            .fetch_one()
            .await?;
        Ok(count > 0)
    }

    async fn has_tenant_column(&self, table: &str) -> Result<bool, StorageError> {
        let count: u64 = self
            .client()
            .query(
                "SELECT count() FROM system.columns \
                 WHERE database = ? AND table = ? AND name = 'tenant'",
            )
            .bind(self.database())
            .bind(table)
            .fetch_one()
            .await?;
        Ok(count > 0)
    }
}
