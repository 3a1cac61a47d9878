//! RETENTION_DAYS: a table TTL where the server has TTL (19.6+); on older servers (18.16)
//! whole day partitions are dropped once every event in them is older than the limit.

use crate::{
    Requirement, Storage, StorageError,
    schema::{LOGS, LOGS_BY_TRACE},
};
use chrono::{DateTime, Datelike, TimeDelta, Utc};
use clickhouse::{Client, query::Query};

/// The tables that hold events and are partitioned by day, and so expire together.
pub const EXPIRING_TABLES: [&str; 2] = [LOGS, LOGS_BY_TRACE];

/// What enforcing the retention did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retention {
    /// The server expires rows itself; `changed` lists the tables whose TTL was (re)set.
    Ttl { changed: Vec<&'static str> },
    /// The day partitions (`YYYYMMDD`) dropped from each table.
    DroppedPartitions(Vec<(&'static str, u32)>),
}

/// The TTL clause as `system.tables.engine_full` shows it once set.
pub fn ttl_clause(days: u32) -> String {
    format!("TTL timestamp + toIntervalDay({days})")
}

/// The table's engine definition, which shows its TTL.
pub fn engine_query(database: &str, table: &str, client: &Client) -> Query {
    client
        .query("SELECT engine_full FROM system.tables WHERE database = ? AND name = ?")
        .bind(database)
        .bind(table)
}

/// Sets the table's TTL. On current servers this also removes what has already expired
/// (`materialize_ttl_after_modify`), which rewrites parts: it is only sent when the TTL
/// differs from the one in place.
pub fn set_ttl_statement(table: &str, days: u32, client: &Client) -> Query {
    client
        .query(&format!(
            "ALTER TABLE {table} MODIFY TTL timestamp + toIntervalDay(?)"
        ))
        .bind(days)
}

/// The table's day partitions that hold data.
pub fn partitions_query(database: &str, table: &str, client: &Client) -> Query {
    client
        .query("SELECT DISTINCT partition FROM system.parts WHERE database = ? AND table = ? AND active")
        .bind(database)
        .bind(table)
}

pub fn drop_partition_statement(table: &str, partition: u32, client: &Client) -> Query {
    client
        .query(&format!("ALTER TABLE {table} DROP PARTITION ?"))
        .bind(partition)
}

/// The newest day partition (`YYYYMMDD`) that may be dropped at `now`: every event in it
/// is older than `days` days. Partitions after it may still hold newer events and stay
/// until the next check, so data is kept up to a day beyond the limit.
pub fn last_expired_partition(now: DateTime<Utc>, days: u32) -> u32 {
    let limit = (now - TimeDelta::days(i64::from(days))).date_naive();
    let day = limit.pred_opt().unwrap_or(limit);
    day.year().unsigned_abs() * 10_000 + day.month() * 100 + day.day()
}

impl Storage {
    /// Applies RETENTION_DAYS: sets the TTL where the server has TTL, otherwise drops the day
    /// partitions that are wholly older than `days`. Safe to repeat.
    pub async fn enforce_retention(&self, days: u32) -> Result<Retention, StorageError> {
        if Requirement::Ttl.met_by(self.version) {
            let mut changed = Vec::new();
            for table in EXPIRING_TABLES {
                let engine: String = engine_query(&self.database, table, &self.client)
                    .fetch_one()
                    .await?;
                if !engine.contains(&ttl_clause(days)) {
                    set_ttl_statement(table, days, &self.client())
                        .execute()
                        .await?;
                    changed.push(table);
                }
            }
            return Ok(Retention::Ttl { changed });
        }
        let last_expired = last_expired_partition(Utc::now(), days);
        let mut dropped = Vec::new();
        for table in EXPIRING_TABLES {
            let partitions: Vec<String> = partitions_query(&self.database, table, &self.client)
                .fetch_all()
                .await?;
            for partition in partitions.iter().filter_map(|raw| raw.parse::<u32>().ok()) {
                if partition <= last_expired {
                    drop_partition_statement(table, partition, &self.client())
                        .execute()
                        .await?;
                    dropped.push((table, partition));
                }
            }
        }
        Ok(Retention::DroppedPartitions(dropped))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_expires_once_its_last_second_is_older_than_the_limit() {
        let now: DateTime<Utc> = "2026-11-24T10:00:00Z".parse().unwrap();
        // The limit is 2026-10-25T10:00: the 24th is wholly older, the 25th is not.
        assert_eq!(last_expired_partition(now, 30), 20261024);
        assert_eq!(last_expired_partition(now, 1), 20261122);
    }

    #[test]
    fn statements_bind_their_values() {
        let client = Client::default();
        assert_eq!(
            set_ttl_statement("logs", 30, &client)
                .sql_display()
                .to_string(),
            "ALTER TABLE logs MODIFY TTL timestamp + toIntervalDay(30)"
        );
        assert_eq!(
            drop_partition_statement("logs_by_trace", 20261024, &client)
                .sql_display()
                .to_string(),
            "ALTER TABLE logs_by_trace DROP PARTITION 20261024"
        );
        assert_eq!(ttl_clause(7), "TTL timestamp + toIntervalDay(7)");
    }
}
