//! ClickHouse storage for log events: server version detection, migrations, batch inserts,
//! searches, counts and histograms, deletions and retention, over the HTTP interface with
//! the official `clickhouse` client.
//!
//! Supported servers range from 18.16 (Debian 12) to current releases. The differences that
//! matter here are captured by [`ServerVersion`]'s capability checks.
//!
//! Each feature is one module holding its statements and its `impl Storage` block: `insert`,
//! `search` (pages, counts, where the stored data ends), `stats`, `facets`, `context` (an
//! event and its neighbours), `export`, `delete`, `retention` and `migrations`. They share
//! `filter` (the conditions every read and deletion takes), `position` (the sort key),
//! `walk` (reading along the sort key a bounded page at a time), `sql` (statement text with
//! its bound values) and `schema` (the table names).

mod cluster;
mod context;
mod delete;
mod export;
mod facets;
mod filter;
mod insert;
mod migrations;
mod position;
mod retention;
mod schema;
mod search;
mod sql;
mod stats;
mod version;
mod walk;

pub use cluster::{Layout, ReplicaDown};
pub use context::{Context, ContextQuery, MAX_CONTEXT};
pub use delete::Deletion;
pub use export::{EXPORT_PAGE, Export};
pub use facets::{FacetValue, Facets, FacetsQuery, MAX_FACET_VALUES, MetadataFacet};
pub use filter::{Exclusions, LogFilter};
pub use insert::LogRow;
pub use migrations::{Migration, Program, Requirement, Step};
pub use position::{Order, Position};
pub use retention::{Retention, RetentionPolicy};
pub use search::{LogQuery, MAX_LIMIT, Page, SearchPage, StoredLogRow};
pub use stats::{
    Bucket, GroupBy, MAX_BUCKETS, ServiceCounts, StatsQuery, StatsRow, bucket_count, service_counts,
};
pub use version::ServerVersion;

use clickhouse::Client;
use hyper_util::{client::legacy::connect::HttpConnector, rt::TokioExecutor};
use std::time::Duration;
use traceflow_config::{ClickHouseConfig, Compression};

/// What went wrong talking to ClickHouse, sorted by what a caller can do about it.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// Not reachable or timed out: retry later, answer 503.
    #[error("clickhouse is unavailable: {0}")]
    Unavailable(#[source] clickhouse::error::Error),
    /// The server refused the statement; `code` is ClickHouse's error code when it gave one.
    #[error("clickhouse rejected the statement: {message}")]
    Rejected { code: Option<u32>, message: String },
    /// ClickHouse answered, but could not reach a shard of its cluster or its keeper
    /// (ZooKeeper): retry later, answer 503.
    #[error("clickhouse cannot reach part of its cluster: {message}")]
    ClusterUnavailable { code: u32, message: String },
    /// Every replica of a shard is down: part of the events cannot be read or written.
    #[error("clickhouse shard {shard} has no replica answering")]
    ShardDown { shard: u32 },
    /// A stored row could not be decoded, or another client-side failure.
    #[error("unexpected answer from clickhouse: {0}")]
    Unexpected(String),
}

impl From<clickhouse::error::Error> for StorageError {
    fn from(error: clickhouse::error::Error) -> Self {
        use clickhouse::error::Error;
        match error {
            Error::Network(_) | Error::TimedOut => StorageError::Unavailable(error),
            Error::BadResponse(message) => match error_code(&message) {
                Some(code) if CLUSTER_UNAVAILABLE.contains(&code) => {
                    StorageError::ClusterUnavailable { code, message }
                }
                code => StorageError::Rejected { code, message },
            },
            other => StorageError::Unexpected(other.to_string()),
        }
    }
}

/// The codes of a server that could not reach another one: SOCKET_TIMEOUT, NETWORK_ERROR,
/// NO_ZOOKEEPER, TABLE_IS_READ_ONLY (a replica without its keeper), ALL_CONNECTION_TRIES_FAILED,
/// UNKNOWN_STATUS_OF_INSERT, KEEPER_EXCEPTION.
const CLUSTER_UNAVAILABLE: [u32; 7] = [209, 210, 225, 242, 279, 319, 999];

impl StorageError {
    /// Whether the cause is an outage (of ClickHouse, or of part of its cluster), which
    /// passes, rather than a statement or data it will never take.
    pub fn is_outage(&self) -> bool {
        matches!(
            self,
            StorageError::Unavailable(_)
                | StorageError::ClusterUnavailable { .. }
                | StorageError::ShardDown { .. }
        )
    }

    /// The server refused the data itself (a value it cannot parse or store): retrying the
    /// same rows cannot succeed, unlike an outage or an overloaded server.
    pub fn is_data_error(&self) -> bool {
        // CANNOT_PARSE_TEXT, CANNOT_PARSE_QUOTED_STRING, CANNOT_PARSE_INPUT_ASSERTION_FAILED,
        // CANNOT_READ_ALL_DATA, CANNOT_PARSE_DATE, CANNOT_PARSE_DATETIME, TYPE_MISMATCH,
        // ARGUMENT_OUT_OF_BOUND, CANNOT_CONVERT_TYPE, CANNOT_PARSE_NUMBER, INCORRECT_DATA,
        // VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE, CANNOT_PARSE_UUID, and a row refused by the
        // table's own rules: FUNCTION_THROW_IF_VALUE_IS_NON_ZERO (a throwIf guard column),
        // VIOLATED_CONSTRAINT.
        const DATA_ERRORS: [u32; 15] = [
            6, 26, 27, 33, 38, 41, 53, 69, 70, 72, 117, 321, 376, 395, 469,
        ];
        matches!(self, StorageError::Rejected { code: Some(code), .. } if DATA_ERRORS.contains(code))
    }
}

/// Extracts `N` from ClickHouse's `Code: N, e.displayText() = ...` / `Code: N. DB::Exception`.
fn error_code(message: &str) -> Option<u32> {
    let rest = &message[message.find("Code: ")? + "Code: ".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// A ClickHouse client on the crate's default HTTP settings, plus `TCP_NODELAY`: without it
/// an INSERT's last chunk waits behind Nagle's algorithm for the server's delayed ACK, which
/// costs every INSERT the same delay whatever its size (see docs/benchmarks.md).
fn client_with_nodelay() -> Client {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_keepalive(Some(Duration::from_secs(60)));
    Client::with_http_client(
        hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            // Under ClickHouse's own 3 s keep-alive timeout, so an idle connection is never
            // reused just as the server closes it.
            .pool_idle_timeout(Duration::from_secs(2))
            .build(connector),
    )
}

/// A handle on the tables; cheap to clone. Each feature module adds its methods.
#[derive(Clone)]
pub struct Storage {
    client: Client,
    database: String,
    version: ServerVersion,
    layout: Layout,
    /// The user and password, which a cluster's health check hands to `remote()`.
    credentials: (String, String),
}

impl Storage {
    /// Asks the server for its version and sets the client up for it. Fails with
    /// [`StorageError::Unavailable`] when ClickHouse does not answer.
    pub async fn connect(config: &ClickHouseConfig) -> Result<Self, StorageError> {
        let base = client_with_nodelay()
            .with_url(&config.url)
            .with_user(&config.user)
            .with_password(&config.password)
            // 18.16 has no RowBinaryWithNamesAndTypes, which validation needs. It stays off on
            // every version so the path tested against 18.16 is the one that runs everywhere;
            // the integration tests check the row types against the real schema instead.
            .with_validation(false)
            .with_compression(match config.compression {
                Compression::Lz4 => clickhouse::Compression::Lz4,
                Compression::None => clickhouse::Compression::None,
            });
        let raw: String = base.query("SELECT version()").fetch_one().await?;
        let version: ServerVersion = raw.parse().map_err(|_| {
            StorageError::Unexpected(format!("unrecognised server version {raw:?}"))
        })?;
        let mut client = base;
        if version.needs_low_cardinality_setting() {
            // Current releases reject this setting as unknown, so only old servers get it.
            client = client.with_setting("allow_experimental_low_cardinality_type", "1");
        }
        let layout = Layout::from_config(config.cluster.as_deref());
        if layout != Layout::Single {
            // The trace lookup's subquery reads `logs_by_trace` inside a read of `logs`: each
            // shard answers it from its own twin, which indexes exactly that shard's events.
            client = client.with_setting("distributed_product_mode", "local");
        }
        tracing::info!(%version, url = %config.url, database = %config.database, cluster = layout.cluster(), "connected to clickhouse");
        Ok(Self {
            client,
            database: config.database.clone(),
            version,
            layout,
            credentials: (config.user.clone(), config.password.clone()),
        })
    }

    pub fn version(&self) -> ServerVersion {
        self.version
    }

    pub fn database(&self) -> &str {
        &self.database
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The client, bound to the configured database (which must exist: see [`Self::migrate`]).
    fn client(&self) -> Client {
        self.client.clone().with_database(&self.database)
    }

    /// Whether ClickHouse answers.
    pub async fn ping(&self) -> Result<(), StorageError> {
        self.client.query("SELECT 1").execute().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_read_from_both_message_styles() {
        assert_eq!(
            error_code("Code: 117, e.displayText() = DB::Exception: bad data"),
            Some(117)
        );
        assert_eq!(
            error_code("Code: 53. DB::Exception: Type mismatch. (TYPE_MISMATCH)"),
            Some(53)
        );
        assert_eq!(error_code("something else"), None);
    }
}
