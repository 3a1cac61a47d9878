//! Test support for Traceflow: real servers started on free ports in temporary directories,
//! so `cargo test` needs no running services and tests do not share state.

pub mod cluster;
pub mod processes;
pub mod redis_cluster;
pub mod servers;
pub mod stack;

pub use cluster::{CLUSTER, ClickHouseCluster, ClusterNode, ZooKeeperServer};
pub use processes::{Exited, Service, ServiceProcess};
pub use redis_cluster::RedisCluster;
pub use servers::{
    ClickHouseBackend, ClickHouseServer, RedisServer, free_port, require_binaries,
    shared_clickhouse_url, shared_redis_url,
};
pub use stack::{ProtocolAddresses, StackOptions, TestStack, messages};
