//! Where the tables live: one server, or a ClickHouse cluster (`CLICKHOUSE_CLUSTER`) of
//! shards and replicas.
//!
//! On a cluster each table that holds rows is a `Replicated*MergeTree` named `<table>_local`
//! on every node, and `<table>` is a `Distributed` table over them, so every read names the
//! same tables on either layout. What differs is what changes the tables' rows: an `ALTER`
//! names the local table `ON CLUSTER` (ClickHouse's DDL queue runs it on every node, one
//! replica per shard for a mutation, which replication hands to the others), and the
//! system tables that say how it went are read from one replica of every shard
//! (`cluster(...)`).

use crate::{Storage, StorageError};
use clickhouse::{Row, query::Query};
use futures::future::join_all;
use serde::Deserialize;
use std::fmt;

/// How long an `ON CLUSTER` statement waits for every node (`distributed_ddl_task_timeout`).
/// A node that is down then runs it from the DDL queue when it is back.
const DDL_WAIT_SECONDS: u32 = 10;

/// ClickHouse's TIMEOUT_EXCEEDED, which an `ON CLUSTER` statement answers when some node has
/// not run it within the wait (it runs it later).
const TIMEOUT_EXCEEDED: u32 = 159;

/// One server, or the cluster of that name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Layout {
    #[default]
    Single,
    Cluster(String),
}

impl Layout {
    pub fn from_config(cluster: Option<&str>) -> Self {
        cluster.map_or(Self::Single, |name| Self::Cluster(name.to_owned()))
    }

    pub fn cluster(&self) -> Option<&str> {
        match self {
            Self::Single => None,
            Self::Cluster(name) => Some(name),
        }
    }

    /// The table that holds `table`'s rows on the server a statement reaches: the table
    /// itself, or on a cluster its local twin.
    pub fn local(&self, table: &str) -> String {
        match self {
            Self::Single => table.to_owned(),
            Self::Cluster(_) => format!("{table}_local"),
        }
    }

    /// How an `ALTER` names `table`: on a cluster, its local twin on every node.
    pub(crate) fn altered(&self, table: &str) -> String {
        match self {
            Self::Single => table.to_owned(),
            Self::Cluster(name) => format!("{table}_local ON CLUSTER {name}"),
        }
    }

    /// A system table (`parts`, `mutations`) of this server, or of one replica of every shard.
    pub(crate) fn system(&self, table: &str) -> String {
        match self {
            Self::Single => format!("system.{table}"),
            Self::Cluster(name) => format!("cluster('{name}', system, {table})"),
        }
    }
}

/// A replica of a cluster that did not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaDown {
    pub shard: u32,
    /// `host:port` (the native protocol's), as the cluster's definition names it.
    pub address: String,
    pub error: String,
}

impl fmt::Display for ReplicaDown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "clickhouse replica {} of shard {} does not answer",
            self.address, self.shard
        )
    }
}

#[derive(Debug, Row, Deserialize)]
struct ClusterReplica {
    shard_num: u32,
    host_name: String,
    port: u16,
}

impl Storage {
    /// Whether the tables can be read and written: on a cluster, every replica is asked;
    /// the answer is the replicas that are down, or an error when a whole shard is, which
    /// leaves part of the events out of reach.
    pub async fn health(&self) -> Result<Vec<ReplicaDown>, StorageError> {
        self.ping().await?;
        let Layout::Cluster(cluster) = &self.layout else {
            return Ok(Vec::new());
        };
        let replicas: Vec<ClusterReplica> = self
            .client
            .query("SELECT shard_num, host_name, port FROM system.clusters WHERE cluster = ?")
            .bind(cluster)
            .fetch_all()
            .await?;
        if replicas.is_empty() {
            return Err(StorageError::Unexpected(format!(
                "the server defines no cluster {cluster:?} (CLICKHOUSE_CLUSTER)"
            )));
        }
        let addresses: Vec<String> = replicas
            .iter()
            .map(|replica| format!("{}:{}", replica.host_name, replica.port))
            .collect();
        let answers = join_all(addresses.iter().map(|address| {
            self.client
                .query("SELECT 1 FROM remote(?, system, one, ?, ?)")
                .bind(address)
                .bind(&self.credentials.0)
                .bind(&self.credentials.1)
                .with_setting("connect_timeout", "1")
                .execute()
        }))
        .await;
        let down: Vec<ReplicaDown> = replicas
            .iter()
            .zip(addresses)
            .zip(answers)
            .filter_map(|((replica, address), answer)| {
                answer.err().map(|error| ReplicaDown {
                    shard: replica.shard_num,
                    address,
                    error: error.to_string(),
                })
            })
            .collect();
        let shard_down = replicas
            .iter()
            .map(|replica| replica.shard_num)
            .find(|shard| {
                replicas
                    .iter()
                    .filter(|replica| replica.shard_num == *shard)
                    .count()
                    == down
                        .iter()
                        .filter(|replica| replica.shard == *shard)
                        .count()
            });
        if let Some(shard) = shard_down {
            return Err(StorageError::ShardDown { shard });
        }
        Ok(down)
    }

    /// Runs a statement that changes tables. On a cluster it is `ON CLUSTER`: `Ok(false)`
    /// when some node had not run it after [`DDL_WAIT_SECONDS`] (it will, from the queue).
    pub(crate) async fn alter(&self, statement: Query) -> Result<bool, StorageError> {
        if self.layout == Layout::Single {
            statement.execute().await?;
            return Ok(true);
        }
        let outcome = statement
            .with_setting("distributed_ddl_task_timeout", DDL_WAIT_SECONDS.to_string())
            .execute()
            .await
            .map_err(StorageError::from);
        match outcome {
            Ok(()) => Ok(true),
            Err(StorageError::Rejected {
                code: Some(TIMEOUT_EXCEEDED),
                message,
            }) => {
                tracing::warn!(error = %message, "a cluster node has not run the statement yet; it will when it is back");
                Ok(false)
            }
            Err(error) => Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_alters_the_local_tables_everywhere_and_reads_system_tables_of_every_shard() {
        let cluster = Layout::from_config(Some("logs_cluster"));
        assert_eq!(
            cluster.altered("logs"),
            "logs_local ON CLUSTER logs_cluster"
        );
        assert_eq!(cluster.local("logs"), "logs_local");
        assert_eq!(
            cluster.system("mutations"),
            "cluster('logs_cluster', system, mutations)"
        );
        let single = Layout::from_config(None);
        assert_eq!(single.altered("logs"), "logs");
        assert_eq!(single.local("logs"), "logs");
        assert_eq!(single.system("parts"), "system.parts");
    }
}
