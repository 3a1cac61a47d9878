//! RETENTION_DAYS and the tenants' own `retention_days`: a table TTL where the server has
//! TTL (19.6+), one expression giving each tenant its limit; on older servers (18.16) whole
//! day partitions are dropped once every event in them is older than the longest limit, and
//! the events of tenants with a shorter one are deleted by a mutation when there are any.

use crate::{
    Layout, Requirement, Storage, StorageError,
    delete::pending_mutations_query,
    schema::{LOGS, LOGS_BY_TRACE},
    sql::{Param, Sql},
};
use chrono::{DateTime, Datelike, TimeDelta, Utc};
use clickhouse::{Client, query::Query};

/// The tables that hold events and are partitioned by day, and so expire together.
pub const EXPIRING_TABLES: [&str; 2] = [LOGS, LOGS_BY_TRACE];

/// How long events are kept: `days` (RETENTION_DAYS), or a tenant's own.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RetentionPolicy {
    pub days: u32,
    /// The tenants with a limit of their own, and it.
    pub tenants: Vec<(String, u32)>,
}

impl RetentionPolicy {
    /// RETENTION_DAYS for every tenant.
    pub fn uniform(days: u32) -> Self {
        Self {
            days,
            tenants: Vec::new(),
        }
    }

    /// The longest any event is kept.
    fn longest(&self) -> u32 {
        self.tenants
            .iter()
            .map(|(_, days)| *days)
            .fold(self.days, u32::max)
    }

    /// When each row expires: `timestamp + toIntervalDay(days)`, or a `multiIf` on the
    /// tenant when some have their own limit.
    fn expiry(&self) -> Sql {
        let mut sql = Sql::default();
        if self.tenants.is_empty() {
            sql.push("timestamp + toIntervalDay(?)", [self.days.into()]);
            return sql;
        }
        sql.push("multiIf(", []);
        for (tenant, days) in &self.tenants {
            sql.push(
                "tenant = ?, timestamp + toIntervalDay(?), ",
                [Param::from(tenant.as_str()), (*days).into()],
            );
        }
        sql.push("timestamp + toIntervalDay(?))", [self.days.into()]);
        sql
    }

    /// The tenants kept for less than [`Self::longest`], each as the condition on `tenant`
    /// that picks them out and their limit: each tenant with its own, and everyone else.
    fn shorter_than_longest(&self) -> Vec<(Sql, u32)> {
        let longest = self.longest();
        let mut shorter: Vec<(Sql, u32)> = self
            .tenants
            .iter()
            .filter(|(_, days)| *days < longest)
            .map(|(tenant, days)| {
                let mut sql = Sql::default();
                sql.push("tenant = ?", [tenant.as_str().into()]);
                (sql, *days)
            })
            .collect();
        if self.days < longest {
            let mut others = Sql::new("tenant NOT IN (");
            for (index, (tenant, _)) in self.tenants.iter().enumerate() {
                let separator = if index == 0 { "?" } else { ", ?" };
                others.push(separator, [tenant.as_str().into()]);
            }
            others.push(")", []);
            shorter.push((others, self.days));
        }
        shorter
    }
}

/// What enforcing the retention did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retention {
    /// The server expires rows itself; `changed` lists the tables whose TTL was (re)set.
    Ttl { changed: Vec<&'static str> },
    /// The day partitions (`YYYYMMDD`) dropped from each table, and the expired events of
    /// tenants kept for less than the longest limit, being deleted (a mutation each).
    Dropped {
        partitions: Vec<(&'static str, u32)>,
        deleting: u64,
    },
}

/// The TTL clause as `system.tables.engine_full` shows it once set.
pub fn ttl_clause(policy: &RetentionPolicy, client: &Client) -> String {
    let mut sql = Sql::new("TTL ");
    sql.append(policy.expiry());
    sql.into_query(client).sql_display().to_string()
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
pub fn set_ttl_statement(table: &str, policy: &RetentionPolicy, client: &Client) -> Query {
    let mut sql = Sql::new(&format!("ALTER TABLE {table} MODIFY TTL "));
    sql.append(policy.expiry());
    sql.into_query(client)
}

/// How many of the tenants' (`tenants`, a condition on `tenant`) events are older than
/// `before` (whole seconds).
pub fn expired_count_query(tenants: &Sql, before: i64, client: &Client) -> Query {
    let mut sql = Sql::new(&format!("SELECT count() FROM {LOGS} WHERE "));
    sql.append(tenants.clone());
    sql.push(" AND timestamp < ?", [before.into()]);
    sql.into_query(client)
}

/// The mutation deleting what [`expired_count_query`] counts.
pub fn delete_expired_statement(
    tenants: &Sql,
    before: i64,
    layout: &Layout,
    client: &Client,
) -> Query {
    let table = layout.altered(LOGS);
    let mut sql = Sql::new(&format!("ALTER TABLE {table} DELETE WHERE "));
    sql.append(tenants.clone());
    sql.push(" AND timestamp < ?", [before.into()]);
    sql.into_query(client)
}

/// The table's day partitions that hold data (on a cluster, on any shard).
pub fn partitions_query(database: &str, table: &str, layout: &Layout, client: &Client) -> Query {
    let parts = layout.system("parts");
    client
        .query(&format!(
            "SELECT DISTINCT partition FROM {parts} WHERE database = ? AND table = ? AND active"
        ))
        .bind(database)
        .bind(layout.local(table))
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
    /// Applies the retention `policy`: sets the TTL where the server has TTL; otherwise drops
    /// the day partitions that are wholly older than the longest limit and deletes the
    /// expired events of tenants kept for less (unless a mutation of `logs` is still
    /// running, which the next application waits for). Safe to repeat.
    pub async fn enforce_retention(
        &self,
        policy: &RetentionPolicy,
    ) -> Result<Retention, StorageError> {
        if Requirement::Ttl.met_by(self.version) {
            let mut changed = Vec::new();
            for table in EXPIRING_TABLES {
                let local = self.layout.local(table);
                let engine: String = engine_query(&self.database, &local, &self.client)
                    .fetch_one()
                    .await?;
                if !engine.contains(&ttl_clause(policy, &self.client)) {
                    let altered = self.layout.altered(table);
                    self.alter(set_ttl_statement(&altered, policy, &self.client()))
                        .await?;
                    changed.push(table);
                }
            }
            return Ok(Retention::Ttl { changed });
        }
        let now = Utc::now();
        let partitions = self.drop_expired_partitions(now, policy.longest()).await?;
        let deleting = self.delete_expired_events(now, policy).await?;
        Ok(Retention::Dropped {
            partitions,
            deleting,
        })
    }

    async fn delete_expired_events(
        &self,
        now: DateTime<Utc>,
        policy: &RetentionPolicy,
    ) -> Result<u64, StorageError> {
        let shorter = policy.shorter_than_longest();
        if shorter.is_empty() {
            return Ok(0);
        }
        let pending: u64 =
            pending_mutations_query(&self.database, LOGS, &self.layout, &self.client)
                .fetch_one()
                .await?;
        if pending > 0 {
            return Ok(0);
        }
        let mut deleting = 0;
        for (tenants, days) in shorter {
            let before = (now - TimeDelta::days(i64::from(days))).timestamp();
            let expired: u64 = expired_count_query(&tenants, before, &self.client())
                .fetch_one()
                .await?;
            if expired > 0 {
                self.alter(delete_expired_statement(
                    &tenants,
                    before,
                    &self.layout,
                    &self.client(),
                ))
                .await?;
                deleting += expired;
            }
        }
        Ok(deleting)
    }

    /// Drops each table's day partitions wholly older than `days`.
    async fn drop_expired_partitions(
        &self,
        now: DateTime<Utc>,
        days: u32,
    ) -> Result<Vec<(&'static str, u32)>, StorageError> {
        let last_expired = last_expired_partition(now, days);
        let mut dropped = Vec::new();
        for table in EXPIRING_TABLES {
            let partitions: Vec<String> =
                partitions_query(&self.database, table, &self.layout, &self.client)
                    .fetch_all()
                    .await?;
            let altered = self.layout.altered(table);
            for partition in partitions.iter().filter_map(|raw| raw.parse::<u32>().ok()) {
                if partition <= last_expired {
                    self.alter(drop_partition_statement(
                        &altered,
                        partition,
                        &self.client(),
                    ))
                    .await?;
                    dropped.push((table, partition));
                }
            }
        }
        Ok(dropped)
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

    fn policy() -> RetentionPolicy {
        RetentionPolicy {
            days: 30,
            tenants: vec![("acme".into(), 7), ("archive".into(), 90)],
        }
    }

    #[test]
    fn the_ttl_gives_each_tenant_its_limit() {
        let client = Client::default();
        assert_eq!(
            set_ttl_statement("logs", &RetentionPolicy::uniform(30), &client)
                .sql_display()
                .to_string(),
            "ALTER TABLE logs MODIFY TTL timestamp + toIntervalDay(30)"
        );
        assert_eq!(
            ttl_clause(&policy(), &client),
            "TTL multiIf(tenant = 'acme', timestamp + toIntervalDay(7), tenant = 'archive', \
             timestamp + toIntervalDay(90), timestamp + toIntervalDay(30))"
        );
    }

    #[test]
    fn without_ttl_the_tenants_kept_for_less_than_the_longest_are_deleted_from() {
        let client = Client::default();
        let policy = policy();
        assert_eq!(policy.longest(), 90);
        let statements: Vec<String> = policy
            .shorter_than_longest()
            .iter()
            .map(|(tenants, days)| {
                delete_expired_statement(tenants, i64::from(*days), &Layout::Single, &client)
                    .sql_display()
                    .to_string()
            })
            .collect();
        assert_eq!(
            statements,
            [
                "ALTER TABLE logs DELETE WHERE tenant = 'acme' AND timestamp < 7",
                "ALTER TABLE logs DELETE WHERE tenant NOT IN ('acme', 'archive') AND timestamp < 30",
            ]
        );
        assert!(
            RetentionPolicy::uniform(30)
                .shorter_than_longest()
                .is_empty()
        );
    }

    #[test]
    fn statements_bind_their_values() {
        let client = Client::default();
        assert_eq!(
            drop_partition_statement("logs_by_trace", 20261024, &client)
                .sql_display()
                .to_string(),
            "ALTER TABLE logs_by_trace DROP PARTITION 20261024"
        );
        let cluster = Layout::Cluster("c".into());
        assert_eq!(
            drop_partition_statement(&cluster.altered("logs"), 20261024, &client)
                .sql_display()
                .to_string(),
            "ALTER TABLE logs_local ON CLUSTER c DROP PARTITION 20261024"
        );
        assert_eq!(
            partitions_query("db", "logs_by_trace", &cluster, &client)
                .sql_display()
                .to_string(),
            "SELECT DISTINCT partition FROM cluster('c', system, parts) WHERE database = 'db' AND table = 'logs_by_trace_local' AND active"
        );
        assert_eq!(
            ttl_clause(&RetentionPolicy::uniform(7), &client),
            "TTL timestamp + toIntervalDay(7)"
        );
    }
}
