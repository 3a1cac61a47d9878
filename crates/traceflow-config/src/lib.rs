//! Configuration of each Traceflow binary: one typed struct per binary, parsed once from the
//! environment (and `.env`, when present), validated, and logged without secrets.
//!
//! A bad value stops the program at start with one line naming the variable.

mod parse;

use std::{fmt, net::IpAddr, path::PathBuf, time::Duration};

pub use parse::{ConfigError, Env};

/// API keys a service accepts; empty means the service is open.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ApiKeys(Vec<String>);

impl ApiKeys {
    pub fn new(keys: Vec<String>) -> Self {
        Self(keys)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn keys(&self) -> &[String] {
        &self.0
    }
}

/// Keys are secrets: only their number is ever shown.
impl fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKeys({} configured)", self.0.len())
    }
}

/// Where the Redis queue lives.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// Always a `redis://` (or `rediss://`) URL; `host:port` is accepted and converted.
    pub url: String,
    /// The Redis list that holds queued events.
    pub queue_key: String,
    /// `REDIS_CLUSTER_NODES`: some nodes of a Redis Cluster (the client finds the rest), as
    /// URLs; empty for the one server at `url`.
    pub cluster_nodes: Vec<String>,
    /// `REDIS_QUEUE_SHARDS`: how many lists the queue is split into, each under its own
    /// hash tag on a cluster (default 1 on one server, 12 on a cluster).
    pub queue_shards: usize,
    /// `REDIS_MIN_REPLICAS`: how many replicas must have an entry before its push is
    /// answered (`WAIT`); 0 answers once the primary has it.
    pub min_replicas: u32,
}

/// How to reach ClickHouse over its HTTP interface.
#[derive(Clone, PartialEq, Eq)]
pub struct ClickHouseConfig {
    pub url: String,
    pub database: String,
    pub user: String,
    pub password: String,
    /// Whether request and response bodies travel LZ4-compressed (`CLICKHOUSE_COMPRESSION`).
    pub compression: Compression,
    /// `CLICKHOUSE_CLUSTER`: the cluster (from the servers' `remote_servers`) whose shards and
    /// replicas hold the tables; unset for one server.
    pub cluster: Option<String>,
}

/// `CLICKHOUSE_COMPRESSION`: `lz4`, `none`, or `auto` (the default): LZ4 unless `CLICKHOUSE_URL`
/// names this machine. Compression saves network bandwidth (log rows shrink several times);
/// on one machine there is no network to save, and compressing costs CPU on both ends (see
/// docs/benchmarks.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Lz4,
    None,
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A redis:// URL may carry a password.
        let mut shown = url::Url::parse(&self.url).expect("validated at parse time");
        if shown.password().is_some() {
            let _ = shown.set_password(Some("***"));
        }
        f.debug_struct("RedisConfig")
            .field("url", &shown.as_str())
            .field("queue_key", &self.queue_key)
            .field("cluster_nodes", &self.cluster_nodes.len())
            .field("queue_shards", &self.queue_shards)
            .field("min_replicas", &self.min_replicas)
            .finish()
    }
}

impl fmt::Debug for ClickHouseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClickHouseConfig")
            .field("url", &self.url)
            .field("database", &self.database)
            .field("user", &self.user)
            .field(
                "password",
                &if self.password.is_empty() { "" } else { "***" },
            )
            .field("compression", &self.compression)
            .field("cluster", &self.cluster)
            .finish()
    }
}

/// The ingestion service (`cargo run -p ingestion`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestionConfig {
    pub host: IpAddr,
    pub port: u16,
    /// A second port serving only the OTLP/HTTP receiver (`POST /v1/logs`, also on `port`).
    pub otlp_port: u16,
    /// The other protocols' own ports, each `None` when set to `off`: OTLP over gRPC, the
    /// Elasticsearch bulk API, Loki's push API, syslog over TCP and over UDP.
    pub protocol_ports: ProtocolPorts,
    pub redis: RedisConfig,
    /// The worker's gRPC endpoint, signalled after each accepted request.
    pub worker_addr: String,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Queue depth beyond which new events are refused with 503 (backpressure).
    pub max_queue_depth: u64,
    /// Most events one request (a JSON array or NDJSON) may carry.
    pub max_batch_events: usize,
    /// Keys every ingest route requires (`INGEST_API_KEYS`), each for tenant `default`;
    /// empty: open unless `keys_file` is set.
    pub api_keys: ApiKeys,
    /// The keys file (`KEYS_FILE`), checked to load; the keys, scopes and tenants then come
    /// from it, re-read on SIGHUP.
    pub keys_file: Option<PathBuf>,
    /// Events older than this many days are refused: they would not be kept.
    pub retention_days: u32,
    /// Events further ahead of this server's clock than this are refused.
    pub max_future_skew: Duration,
    /// The Elasticsearch version the bulk API reports (`ES_VERSION`), `MAJOR.MINOR.PATCH`.
    pub es_version: String,
    /// The time zone of RFC 3164 syslog timestamps, which carry neither a zone nor a year
    /// (`SYSLOG_TIMEZONE`, an IANA name).
    pub syslog_timezone: chrono_tz::Tz,
    /// The tenant whose events the syslog listeners receive (`SYSLOG_TENANT`): syslog sends
    /// no key, so the listener, not the sender, decides.
    pub syslog_tenant: traceflow_access::Tenant,
    /// Whether a Loki line that is a JSON object is read into the event's fields
    /// (`LOKI_PARSE_JSON_LINES`, default on) rather than stored as it is.
    pub loki_parse_json_lines: bool,
}

/// The ingest protocols that listen on ports of their own (`off` turns one off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtocolPorts {
    /// `OTLP_GRPC_PORT`, default 4317.
    pub otlp_grpc: Option<u16>,
    /// `ES_PORT`, default 9200 (also under `/es` on the main port).
    pub elasticsearch: Option<u16>,
    /// `LOKI_PORT`, default 3100 (also on the main port).
    pub loki: Option<u16>,
    /// `SYSLOG_TCP_PORT`, default 5514.
    pub syslog_tcp: Option<u16>,
    /// `SYSLOG_UDP_PORT`, default 5514.
    pub syslog_udp: Option<u16>,
}

impl ProtocolPorts {
    fn from(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            otlp_grpc: env.optional_port("OTLP_GRPC_PORT", 4317)?,
            elasticsearch: env.optional_port("ES_PORT", 9200)?,
            loki: env.optional_port("LOKI_PORT", 3100)?,
            syslog_tcp: env.optional_port("SYSLOG_TCP_PORT", 5514)?,
            syslog_udp: env.optional_port("SYSLOG_UDP_PORT", 5514)?,
        })
    }
}

/// The worker (`cargo run -p worker`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerConfig {
    pub host: IpAddr,
    pub grpc_port: u16,
    /// Serves `/metrics` and `/health`.
    pub http_port: u16,
    pub redis: RedisConfig,
    pub clickhouse: ClickHouseConfig,
    /// Events worth an INSERT at once: a shallower queue waits up to `flush_interval`.
    pub batch_size: usize,
    /// Most events one INSERT takes when the queue is deep.
    pub max_batch_size: usize,
    /// Batches stored at once, each by its own consumer loop: one is parsed and sent while
    /// another is being written by ClickHouse.
    pub concurrency: usize,
    /// Longest an event waits for a batch to fill.
    pub flush_interval: Duration,
    /// Least time between the starts of one consumer's INSERTs, unless the queue holds a
    /// full batch: the INSERT rate stays bounded whatever the arrival rate.
    pub insert_interval: Duration,
    /// How often the queue is checked when no signal arrives.
    pub poll_interval: Duration,
    /// A worker silent for this long is presumed dead; its held batch goes back to the queue.
    pub heartbeat_ttl: Duration,
    /// Events older than this many days are removed (TTL, or day partitions dropped).
    pub retention_days: u32,
    /// Tenants kept for their own number of days instead (`retention_days` in `KEYS_FILE`,
    /// read at start), sorted by tenant.
    pub tenant_retention_days: Vec<(traceflow_access::Tenant, u32)>,
}

/// The query service (`cargo run -p query`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryConfig {
    pub host: IpAddr,
    pub port: u16,
    pub clickhouse: ClickHouseConfig,
    /// Keys the query endpoints require (`QUERY_API_KEYS`), each for tenant `default`, with
    /// the query and admin scopes; empty: open unless `keys_file` is set.
    pub api_keys: ApiKeys,
    /// The keys file (`KEYS_FILE`), as for ingestion.
    pub keys_file: Option<PathBuf>,
    /// How long a live tail may be silent before it carries a heartbeat comment.
    pub tail_heartbeat: Duration,
}

impl RedisConfig {
    /// The addresses the services connect to, each with the variable that names it: the
    /// cluster's nodes, or the one server.
    pub fn addresses(&self) -> Vec<(&'static str, &str)> {
        if self.cluster_nodes.is_empty() {
            vec![("REDIS_ADDR", self.url.as_str())]
        } else {
            let nodes = self.cluster_nodes.iter();
            nodes
                .map(|node| ("REDIS_CLUSTER_NODES", node.as_str()))
                .collect()
        }
    }

    fn from(env: &Env) -> Result<Self, ConfigError> {
        let cluster_nodes = env.redis_urls("REDIS_CLUSTER_NODES")?;
        let default_shards = if cluster_nodes.is_empty() { 1 } else { 12 };
        Ok(Self {
            url: env.redis_url("REDIS_ADDR", "localhost:6379")?,
            queue_key: env.non_empty("REDIS_QUEUE_KEY", "logs_queue")?,
            queue_shards: env.number("REDIS_QUEUE_SHARDS", default_shards, 1..=1024)?,
            min_replicas: env.number("REDIS_MIN_REPLICAS", 0, 0..=16)?,
            cluster_nodes,
        })
    }
}

/// Whether the (already validated) URL's host is this machine.
fn is_loopback(url: &str) -> bool {
    let Ok(url) = url::Url::parse(url) else {
        return false;
    };
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

impl ClickHouseConfig {
    fn from(env: &Env) -> Result<Self, ConfigError> {
        let url = env.http_url("CLICKHOUSE_URL", "http://localhost:8123")?;
        let compression = match env.one_of("CLICKHOUSE_COMPRESSION", &["auto", "lz4", "none"])? {
            "lz4" => Compression::Lz4,
            "none" => Compression::None,
            _ if is_loopback(&url) => Compression::None,
            _ => Compression::Lz4,
        };
        Ok(Self {
            url,
            database: env.identifier("CLICKHOUSE_DB", "observability")?,
            user: env.non_empty("CLICKHOUSE_USER", "default")?,
            password: env.string("CLICKHOUSE_PASSWORD", ""),
            compression,
            cluster: env.optional_identifier("CLICKHOUSE_CLUSTER")?,
        })
    }
}

/// `RETENTION_DAYS`: read by ingestion (which refuses older events) and the worker (which
/// removes them).
fn retention_days(env: &Env) -> Result<u32, ConfigError> {
    env.number("RETENTION_DAYS", 30, 1..=36_500)
}

/// `ES_VERSION`: what `GET /` of the Elasticsearch bulk API reports. Clients choose their
/// requests by its major (the Python client of that major, mapping types before 7), so it is
/// three numbers from 7.0.0 on.
fn es_version(env: &Env) -> Result<String, ConfigError> {
    let version = env.string("ES_VERSION", "8.19.0");
    let numbers: Vec<Option<u32>> = version.split('.').map(|part| part.parse().ok()).collect();
    match numbers[..] {
        [Some(major), Some(_), Some(_)] if major >= 7 => Ok(version),
        _ => Err(ConfigError {
            variable: "ES_VERSION",
            problem: format!(
                "expected an Elasticsearch version MAJOR.MINOR.PATCH from 7.0.0 on, got {version:?}"
            ),
        }),
    }
}

impl IngestionConfig {
    /// Reads `.env` if present, then the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from(&Env::process())
    }

    pub fn from(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            host: env.ip("BIND_HOST", "0.0.0.0")?,
            port: env.port("INGESTION_PORT", 8080)?,
            otlp_port: env.port("OTLP_PORT", 4318)?,
            protocol_ports: ProtocolPorts::from(env)?,
            redis: RedisConfig::from(env)?,
            worker_addr: env.http_url("WORKER_ADDR", "http://localhost:50051")?,
            max_body_bytes: env.number("MAX_BODY_BYTES", 1024 * 1024, 1..=256 * 1024 * 1024)?,
            max_queue_depth: env.number("MAX_QUEUE_DEPTH", 1_000_000, 1..=u64::MAX)?,
            max_batch_events: env.number("MAX_BATCH_EVENTS", 10_000, 1..=1_000_000)?,
            api_keys: env.api_keys("INGEST_API_KEYS")?,
            keys_file: env.keys_file("INGEST_API_KEYS")?,
            retention_days: retention_days(env)?,
            max_future_skew: env.duration("MAX_FUTURE_SKEW", Duration::from_secs(600))?,
            es_version: es_version(env)?,
            syslog_timezone: env.timezone("SYSLOG_TIMEZONE", chrono_tz::UTC)?,
            syslog_tenant: env.tenant("SYSLOG_TENANT")?,
            loki_parse_json_lines: env.one_of("LOKI_PARSE_JSON_LINES", &["true", "false"])?
                == "true",
        })
    }
}

impl WorkerConfig {
    /// Reads `.env` if present, then the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from(&Env::process())
    }

    pub fn from(env: &Env) -> Result<Self, ConfigError> {
        let config = Self {
            host: env.ip("BIND_HOST", "0.0.0.0")?,
            grpc_port: env.port("GRPC_PORT", 50051)?,
            http_port: env.port("WORKER_HTTP_PORT", 8082)?,
            redis: RedisConfig::from(env)?,
            clickhouse: ClickHouseConfig::from(env)?,
            batch_size: env.number("BATCH_SIZE", 20, 1..=100_000)?,
            max_batch_size: env.number("MAX_BATCH_SIZE", 20_000, 1..=100_000)?,
            concurrency: env.number("WORKER_CONCURRENCY", 2, 1..=64)?,
            flush_interval: env.duration("FLUSH_INTERVAL", Duration::from_millis(250))?,
            insert_interval: env.duration("INSERT_INTERVAL", Duration::from_millis(200))?,
            poll_interval: env.duration("POLL_INTERVAL", Duration::from_secs(5))?,
            heartbeat_ttl: env.duration("WORKER_HEARTBEAT_TTL", Duration::from_secs(15))?,
            retention_days: retention_days(env)?,
            tenant_retention_days: env.tenant_retention_days()?,
        };
        if config.max_batch_size < config.batch_size {
            return Err(ConfigError {
                variable: "MAX_BATCH_SIZE",
                problem: format!(
                    "must be at least BATCH_SIZE ({}), got {}",
                    config.batch_size, config.max_batch_size
                ),
            });
        }
        Ok(config)
    }
}

impl QueryConfig {
    /// Reads `.env` if present, then the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from(&Env::process())
    }

    pub fn from(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            host: env.ip("BIND_HOST", "0.0.0.0")?,
            port: env.port("QUERY_PORT", 8081)?,
            clickhouse: ClickHouseConfig::from(env)?,
            api_keys: env.api_keys("QUERY_API_KEYS")?,
            keys_file: env.keys_file("QUERY_API_KEYS")?,
            tail_heartbeat: env.duration("TAIL_HEARTBEAT", Duration::from_secs(15))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn defaults_match_the_spec() {
        let worker = WorkerConfig::from(&env(&[])).unwrap();
        assert_eq!(worker.redis.url, "redis://localhost:6379");
        assert_eq!(worker.redis.queue_key, "logs_queue");
        assert_eq!(worker.clickhouse.url, "http://localhost:8123");
        assert_eq!(worker.clickhouse.database, "observability");
        assert_eq!(worker.clickhouse.user, "default");
        assert_eq!(worker.grpc_port, 50051);
        assert_eq!(worker.batch_size, 20);
        assert_eq!(worker.max_batch_size, 20_000);
        assert_eq!(worker.concurrency, 2);
        assert_eq!(worker.flush_interval, Duration::from_millis(250));
        assert_eq!(worker.insert_interval, Duration::from_millis(200));
        assert_eq!(worker.poll_interval, Duration::from_secs(5));
        assert_eq!(worker.http_port, 8082);
        assert_eq!(worker.heartbeat_ttl, Duration::from_secs(15));
        assert_eq!(worker.retention_days, 30);
        let ingestion = IngestionConfig::from(&env(&[])).unwrap();
        assert_eq!(ingestion.port, 8080);
        assert_eq!(ingestion.otlp_port, 4318);
        assert_eq!(
            ingestion.protocol_ports,
            ProtocolPorts {
                otlp_grpc: Some(4317),
                elasticsearch: Some(9200),
                loki: Some(3100),
                syslog_tcp: Some(5514),
                syslog_udp: Some(5514),
            }
        );
        let off =
            IngestionConfig::from(&env(&[("ES_PORT", "off"), ("SYSLOG_UDP_PORT", "OFF")])).unwrap();
        assert_eq!(off.protocol_ports.elasticsearch, None);
        assert_eq!(off.protocol_ports.syslog_udp, None);
        assert_eq!(ingestion.worker_addr, "http://localhost:50051");
        assert_eq!(ingestion.max_body_bytes, 1024 * 1024);
        assert_eq!(ingestion.max_queue_depth, 1_000_000);
        assert_eq!(ingestion.max_batch_events, 10_000);
        assert_eq!(ingestion.retention_days, 30);
        assert_eq!(ingestion.max_future_skew, Duration::from_secs(600));
        assert_eq!(ingestion.es_version, "8.19.0");
        assert_eq!(ingestion.syslog_timezone, chrono_tz::UTC);
        assert!(ingestion.loki_parse_json_lines);
        let kept = IngestionConfig::from(&env(&[("LOKI_PARSE_JSON_LINES", "False")])).unwrap();
        assert!(!kept.loki_parse_json_lines);
        assert_eq!(
            IngestionConfig::from(&env(&[("LOKI_PARSE_JSON_LINES", "yes")]))
                .unwrap_err()
                .to_string(),
            "LOKI_PARSE_JSON_LINES: expected one of true, false, got \"yes\""
        );
        assert_eq!(QueryConfig::from(&env(&[])).unwrap().port, 8081);
        assert_eq!(
            QueryConfig::from(&env(&[])).unwrap().tail_heartbeat,
            Duration::from_secs(15)
        );
    }

    #[test]
    fn a_clickhouse_cluster_is_named_by_an_identifier() {
        let with = |pairs: &[(&str, &str)]| {
            WorkerConfig::from(&env(pairs))
                .map(|config| config.clickhouse.cluster)
                .map_err(|err| err.to_string())
        };
        assert_eq!(with(&[]), Ok(None));
        assert_eq!(with(&[("CLICKHOUSE_CLUSTER", " ")]), Ok(None));
        assert_eq!(
            with(&[("CLICKHOUSE_CLUSTER", "logs_cluster")]),
            Ok(Some("logs_cluster".to_owned()))
        );
        assert_eq!(
            with(&[("CLICKHOUSE_CLUSTER", "two shards")]),
            Err(
                "CLICKHOUSE_CLUSTER: expected letters, digits and underscores, got \"two shards\""
                    .to_owned()
            )
        );
    }

    #[test]
    fn compression_is_lz4_unless_clickhouse_is_on_this_machine() {
        let with = |pairs: &[(&str, &str)]| {
            QueryConfig::from(&env(pairs))
                .map(|config| config.clickhouse.compression)
                .map_err(|err| err.to_string())
        };
        assert_eq!(with(&[]), Ok(Compression::None));
        for local in [
            "http://127.0.0.1:8123",
            "http://[::1]:8123",
            "https://LocalHost",
        ] {
            assert_eq!(
                with(&[("CLICKHOUSE_URL", local)]),
                Ok(Compression::None),
                "{local}"
            );
        }
        for remote in ["http://clickhouse:8123", "https://10.0.0.5:8443"] {
            assert_eq!(
                with(&[("CLICKHOUSE_URL", remote)]),
                Ok(Compression::Lz4),
                "{remote}"
            );
        }
        assert_eq!(
            with(&[("CLICKHOUSE_COMPRESSION", "LZ4")]),
            Ok(Compression::Lz4)
        );
        assert_eq!(
            with(&[
                ("CLICKHOUSE_URL", "http://clickhouse:8123"),
                ("CLICKHOUSE_COMPRESSION", "none")
            ]),
            Ok(Compression::None)
        );
        assert_eq!(
            with(&[("CLICKHOUSE_COMPRESSION", "gzip")]),
            Err("CLICKHOUSE_COMPRESSION: expected one of auto, lz4, none, got \"gzip\"".to_owned())
        );
    }

    #[test]
    fn a_redis_cluster_is_its_nodes_and_splits_the_queue() {
        let redis = WorkerConfig::from(&env(&[(
            "REDIS_CLUSTER_NODES",
            "redis-1:7000, redis://redis-2:7001",
        )]))
        .unwrap()
        .redis;
        assert_eq!(
            redis.cluster_nodes,
            ["redis://redis-1:7000", "redis://redis-2:7001"]
        );
        assert_eq!(redis.queue_shards, 12);
        assert_eq!(redis.min_replicas, 0);
        let alone = WorkerConfig::from(&env(&[])).unwrap().redis;
        assert!(alone.cluster_nodes.is_empty());
        assert_eq!(alone.queue_shards, 1);
        let error = WorkerConfig::from(&env(&[("REDIS_CLUSTER_NODES", "http://redis-1")]))
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("REDIS_CLUSTER_NODES"), "{error}");
        let error = IngestionConfig::from(&env(&[("REDIS_MIN_REPLICAS", "many")]))
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("REDIS_MIN_REPLICAS"), "{error}");
    }

    #[test]
    fn redis_addr_accepts_host_port_and_urls() {
        let with = |v| {
            IngestionConfig::from(&env(&[("REDIS_ADDR", v)]))
                .unwrap()
                .redis
                .url
        };
        assert_eq!(with("redis:6380"), "redis://redis:6380");
        assert_eq!(with("redis://:pw@cache:6379/2"), "redis://:pw@cache:6379/2");
    }

    #[test]
    fn the_syslog_timezone_is_an_iana_name() {
        let with = |v| {
            IngestionConfig::from(&env(&[("SYSLOG_TIMEZONE", v)]))
                .map(|config| config.syslog_timezone)
                .map_err(|err| err.to_string())
        };
        assert_eq!(with("Europe/Berlin"), Ok(chrono_tz::Europe::Berlin));
        assert_eq!(with("UTC"), Ok(chrono_tz::UTC));
        assert_eq!(
            with("CEST"),
            Err(
                "SYSLOG_TIMEZONE: expected an IANA time zone name such as UTC or Europe/Berlin, \
                 got \"CEST\""
                    .to_owned()
            )
        );
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = IngestionConfig::from(&env(&[("INGESTION_PORT", "eighty")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "INGESTION_PORT: expected a port number (0-65535), got \"eighty\""
        );
        let err = QueryConfig::from(&env(&[("CLICKHOUSE_URL", "not a url")])).unwrap_err();
        assert!(err.to_string().starts_with("CLICKHOUSE_URL: "), "{err}");
        let err = WorkerConfig::from(&env(&[("POLL_INTERVAL", "soon")])).unwrap_err();
        assert!(err.to_string().starts_with("POLL_INTERVAL: "), "{err}");
        let err = WorkerConfig::from(&env(&[("BATCH_SIZE", "0")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "BATCH_SIZE: must be between 1 and 100000, got 0"
        );
        let err = WorkerConfig::from(&env(&[("BATCH_SIZE", "500"), ("MAX_BATCH_SIZE", "100")]))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "MAX_BATCH_SIZE: must be at least BATCH_SIZE (500), got 100"
        );
        let err = QueryConfig::from(&env(&[("TAIL_HEARTBEAT", "0s")])).unwrap_err();
        assert_eq!(err.to_string(), "TAIL_HEARTBEAT: must be greater than zero");
        let err = WorkerConfig::from(&env(&[("RETENTION_DAYS", "0")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "RETENTION_DAYS: must be between 1 and 36500, got 0"
        );
        for version in ["8.19", "6.8.23", "8.x.0", "v8.19.0"] {
            let err = IngestionConfig::from(&env(&[("ES_VERSION", version)])).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "ES_VERSION: expected an Elasticsearch version MAJOR.MINOR.PATCH from 7.0.0 on, got {version:?}"
                )
            );
        }
        let ok = IngestionConfig::from(&env(&[("ES_VERSION", "7.17.29")])).unwrap();
        assert_eq!(ok.es_version, "7.17.29");
        let err = WorkerConfig::from(&env(&[("CLICKHOUSE_DB", "x; DROP")])).unwrap_err();
        assert!(err.to_string().starts_with("CLICKHOUSE_DB: "), "{err}");
    }

    #[test]
    fn api_keys_are_a_list_and_never_shown() {
        let config =
            IngestionConfig::from(&env(&[("INGEST_API_KEYS", " alpha-1 ,beta-2")])).unwrap();
        assert_eq!(config.api_keys.keys(), ["alpha-1", "beta-2"]);
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("alpha-1") && shown.contains("ApiKeys(2 configured)"),
            "{shown}"
        );
        assert!(QueryConfig::from(&env(&[])).unwrap().api_keys.is_empty());
        let err = QueryConfig::from(&env(&[("QUERY_API_KEYS", "secret,,other")])).unwrap_err();
        assert_eq!(err.to_string(), "QUERY_API_KEYS: key 2 of 3 is empty");
        assert!(!err.to_string().contains("secret"));
    }

    #[test]
    fn a_keys_file_must_load_and_replaces_the_list() {
        let directory = std::env::temp_dir().join(format!("keys-{}", std::process::id()));
        std::fs::create_dir_all(&directory).unwrap();
        let good = directory.join("good.toml");
        std::fs::write(
            &good,
            "[[keys]]\nkey = \"k\"\ntenant = \"t\"\nscopes = [\"query\"]",
        )
        .unwrap();
        let bad = directory.join("bad.toml");
        std::fs::write(&bad, "[[keys]]\nkey = \"k\"\ntenant = \"t\"\nscopes = []").unwrap();
        let path = |file: &std::path::Path| file.to_str().unwrap().to_owned();

        let config = QueryConfig::from(&env(&[("KEYS_FILE", &path(&good))])).unwrap();
        assert_eq!(config.keys_file.as_deref(), Some(good.as_path()));
        assert_eq!(QueryConfig::from(&env(&[])).unwrap().keys_file, None);
        let err = QueryConfig::from(&env(&[("KEYS_FILE", &path(&bad))])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "KEYS_FILE: keys[0]: scopes is empty: give ingest, query and/or admin"
        );
        let both = [
            ("KEYS_FILE", path(&good)),
            ("INGEST_API_KEYS", "k".to_owned()),
        ];
        let both: Vec<(&str, &str)> = both.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let err = IngestionConfig::from(&env(&both)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "KEYS_FILE: set KEYS_FILE or INGEST_API_KEYS, not both"
        );
        let missing = directory.join("missing.toml");
        let err = IngestionConfig::from(&env(&[("KEYS_FILE", &path(&missing))])).unwrap_err();
        assert!(
            err.to_string().starts_with("KEYS_FILE: cannot read "),
            "{err}"
        );
        std::fs::remove_dir_all(&directory).unwrap();
    }

    #[test]
    fn the_worker_reads_the_tenants_retention_from_the_keys_file_and_syslog_its_tenant() {
        let directory = std::env::temp_dir().join(format!("tenants-{}", std::process::id()));
        std::fs::create_dir_all(&directory).unwrap();
        let file = directory.join("keys.toml");
        std::fs::write(
            &file,
            "[[keys]]\nkey = \"k\"\ntenant = \"t\"\nscopes = [\"query\"]\n\n\
             [tenants.b]\nretention_days = 90\n\n[tenants.a]\nretention_days = 7\n\n\
             [tenants.c]\nmax_events_per_second = 10\n",
        )
        .unwrap();
        let worker = WorkerConfig::from(&env(&[("KEYS_FILE", file.to_str().unwrap())])).unwrap();
        let retention: Vec<(&str, u32)> = worker
            .tenant_retention_days
            .iter()
            .map(|(tenant, days)| (tenant.as_str(), *days))
            .collect();
        assert_eq!(retention, [("a", 7), ("b", 90)]);
        assert!(
            WorkerConfig::from(&env(&[]))
                .unwrap()
                .tenant_retention_days
                .is_empty()
        );

        let syslog = |value| {
            IngestionConfig::from(&env(&[("SYSLOG_TENANT", value)]))
                .map(|config| config.syslog_tenant.to_string())
                .map_err(|err| err.to_string())
        };
        assert_eq!(syslog("edge"), Ok("edge".to_owned()));
        assert_eq!(
            syslog("two words"),
            Err(
                "SYSLOG_TENANT: a tenant is 1 to 64 ASCII letters, digits, '-', '_' or '.', \
                 got \"two words\""
                    .to_owned()
            )
        );
        std::fs::remove_dir_all(&directory).unwrap();
    }

    #[test]
    fn poll_interval_takes_units_or_plain_seconds() {
        let with = |v| {
            WorkerConfig::from(&env(&[("POLL_INTERVAL", v)]))
                .unwrap()
                .poll_interval
        };
        assert_eq!(with("250ms"), Duration::from_millis(250));
        assert_eq!(with("2"), Duration::from_secs(2));
    }

    #[test]
    fn debug_output_hides_the_password() {
        let config = QueryConfig::from(&env(&[("CLICKHOUSE_PASSWORD", "hunter2")])).unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("***"));
        let config =
            IngestionConfig::from(&env(&[("REDIS_ADDR", "redis://:hunter2@cache:6379")])).unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("redis://:***@cache:6379"), "{shown}");
    }
}
