//! Where a queue lives (one Redis server or a Redis Cluster, and the queue's shards there)
//! and the connection to it.

use crate::{QueueError, QueueKeys};
use redis::{
    Cmd, Pipeline, RedisFuture, Value,
    aio::{ConnectionLike, ConnectionManager},
    cluster_async::ClusterConnection,
};
use std::{future::Future, time::Duration};
use traceflow_config::RedisConfig;

/// The Redis a queue lives on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisTarget {
    /// One server, by its `redis://` URL.
    Server(String),
    /// A Redis Cluster, by some of its nodes' URLs (the client finds the others).
    Cluster(Vec<String>),
}

/// A queue: the Redis it lives on, its shards there, and the durability its pushes wait for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueLocation {
    pub target: RedisTarget,
    /// Each shard's keys. One server holds one shard named as the queue (`Q`, `Q:depth`,
    /// ...); a cluster's shards are hash tags ([`QueueKeys::shards`]), so that all of a
    /// shard's keys are in one slot and every script and transaction runs on one node.
    pub shards: Vec<QueueKeys>,
    /// Replicas that must have a push's entries before it is answered (`WAIT`).
    pub min_replicas: u32,
}

impl QueueLocation {
    /// The queue `queue` as one shard on the server at `url`.
    pub fn server(url: &str, queue: &str) -> Self {
        Self {
            target: RedisTarget::Server(url.to_owned()),
            shards: vec![QueueKeys::new(queue)],
            min_replicas: 0,
        }
    }

    /// The queue `queue` split into `shards` hash-tagged shards on the cluster of `nodes`.
    pub fn cluster(nodes: &[String], queue: &str, shards: usize) -> Self {
        Self {
            target: RedisTarget::Cluster(nodes.to_vec()),
            shards: QueueKeys::shards(queue, shards),
            min_replicas: 0,
        }
    }

    pub fn from_config(config: &RedisConfig) -> Self {
        let mut location = if !config.cluster_nodes.is_empty() {
            Self::cluster(
                &config.cluster_nodes,
                &config.queue_key,
                config.queue_shards,
            )
        } else if config.queue_shards > 1 {
            Self {
                shards: QueueKeys::shards(&config.queue_key, config.queue_shards),
                ..Self::server(&config.url, &config.queue_key)
            }
        } else {
            Self::server(&config.url, &config.queue_key)
        };
        location.min_replicas = config.min_replicas;
        location
    }

    /// How the queue is named in logs: its one key, or its first shard's and their number.
    pub fn name(&self) -> String {
        match self.shards.as_slice() {
            [one] => one.queue().to_owned(),
            shards => format!("{} (+{} shards)", shards[0].queue(), shards.len() - 1),
        }
    }
}

/// The shards of a queue on a Redis Cluster whose node does not answer, while the others'
/// do: the queue still takes pushes (into the others) and serves their events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardsDown {
    /// Their indexes, in order.
    pub shards: Vec<usize>,
    /// How many shards the queue has.
    pub of: usize,
}

impl std::fmt::Display for ShardsDown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (of, shards) = (self.of, &self.shards);
        match shards.as_slice() {
            [one] => write!(f, "redis shard {one} of {of} does not answer"),
            [first @ .., last] => {
                let first: Vec<String> = first.iter().map(ToString::to_string).collect();
                write!(
                    f,
                    "redis shards {} and {last} of {of} do not answer",
                    first.join(", ")
                )
            }
            [] => write!(f, "every redis shard of {of} answers"),
        }
    }
}

/// A connection to a server or a cluster; cheap to clone (multiplexed), reconnecting by
/// itself, and failing fast while Redis is down instead of hanging, so callers can answer
/// 503 and retry later. A cluster's connection routes each command or single-slot pipeline
/// to the node owning its keys.
#[derive(Clone)]
pub(crate) enum Connection {
    Server(ConnectionManager),
    Cluster(ClusterConnection),
}

const CONNECTION_TIMEOUT: Duration = Duration::from_secs(2);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

impl Connection {
    /// Does not wait for Redis: the first command connects, so a service starts (and
    /// reports 503) while Redis is still down.
    pub(crate) fn open(target: &RedisTarget) -> Result<Self, QueueError> {
        match target {
            RedisTarget::Server(url) => {
                let client = redis::Client::open(url.as_str())?;
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(CONNECTION_TIMEOUT))
                    .set_response_timeout(Some(RESPONSE_TIMEOUT))
                    .set_number_of_retries(1)
                    .set_min_delay(Duration::from_millis(50))
                    .set_max_delay(Duration::from_secs(1));
                Ok(Self::Server(ConnectionManager::new_lazy_with_config(
                    client, config,
                )?))
            }
            RedisTarget::Cluster(nodes) => {
                // Few, short retries: a push refused by a node that is down goes to
                // another shard rather than waiting here.
                let client =
                    redis::cluster::ClusterClient::builder(nodes.iter().map(String::as_str))
                        .retries(2)
                        .min_retry_wait(50)
                        .max_retry_wait(500)
                        .build()?;
                let config = redis::cluster::ClusterConfig::new()
                    .set_connection_timeout(CONNECTION_TIMEOUT)
                    .set_response_timeout(RESPONSE_TIMEOUT);
                Ok(Self::Cluster(
                    client.get_pending_async_connection_with_config(config),
                ))
            }
        }
    }

    /// Whether Redis answers for the queue's `shards`: on a cluster, the shards whose node
    /// does not answer while others do; an error when none answers.
    pub(crate) async fn health(
        &self,
        shards: &[QueueKeys],
    ) -> Result<Option<ShardsDown>, QueueError> {
        if let Self::Server(_) = self {
            redis::cmd("PING")
                .query_async::<()>(&mut self.clone())
                .await?;
            return Ok(None);
        }
        let looks = shards.iter().map(|keys| {
            let mut connection = self.clone();
            async move {
                redis::cmd("EXISTS")
                    .arg(keys.depth())
                    .query_async::<bool>(&mut connection)
                    .await
            }
        });
        let answers = on_every_shard(looks).await?;
        let down: Vec<usize> = (0..answers.len())
            .filter(|shard| answers[*shard].is_none())
            .collect();
        let any = !down.is_empty();
        Ok(any.then_some(ShardsDown {
            shards: down,
            of: shards.len(),
        }))
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Server(connection) => connection.req_packed_command(cmd),
            Self::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Server(connection) => connection.req_packed_commands(pipeline, offset, count),
            Self::Cluster(connection) => connection.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Server(connection) => connection.get_db(),
            Self::Cluster(connection) => connection.get_db(),
        }
    }
}

/// Awaits every shard's `look` at once. A cluster node that is down fails only its shards'
/// looks, which are `None`, so that the others' work goes on; an error when all failed.
pub(crate) async fn on_every_shard<T>(
    looks: impl IntoIterator<Item = impl Future<Output = redis::RedisResult<T>>>,
) -> Result<Vec<Option<T>>, QueueError> {
    let results = futures::future::join_all(looks).await;
    if let Some(Err(_)) = results.first()
        && results.iter().all(Result::is_err)
    {
        let error = results.into_iter().find_map(Result::err);
        return Err(error.expect("all failed").into());
    }
    Ok(results.into_iter().map(Result::ok).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_shard_keeps_its_keys_in_one_slot() {
        let location = QueueLocation::cluster(&["redis://n:7000".to_owned()], "logs", 3);
        let shard = &location.shards[1];
        let tag = shard.queue();
        assert!(tag.starts_with("{logs:1") && tag.ends_with('}'), "{tag}");
        for key in [
            shard.queue().to_owned(),
            shard.depth().to_owned(),
            shard.tenant_depth().to_owned(),
            shard.dead().to_owned(),
            shard.holders().to_owned(),
            shard.processing("w-1"),
            shard.heartbeat("w-1"),
        ] {
            assert!(key.starts_with(tag), "{key}");
        }
        let first = location.shards[0].queue();
        assert_eq!(location.name(), format!("{first} (+2 shards)"));
    }

    #[test]
    fn shards_down_are_named_in_one_sentence() {
        let down = |shards: &[usize]| {
            ShardsDown {
                shards: shards.to_vec(),
                of: 12,
            }
            .to_string()
        };
        assert_eq!(down(&[3]), "redis shard 3 of 12 does not answer");
        assert_eq!(
            down(&[0, 3, 6, 9]),
            "redis shards 0, 3, 6 and 9 of 12 do not answer"
        );
    }

    #[test]
    fn one_server_keeps_todays_keys() {
        let location = QueueLocation::server("redis://localhost", "logs_queue");
        assert_eq!(location.shards, [QueueKeys::new("logs_queue")]);
        assert_eq!(location.name(), "logs_queue");
    }
}
