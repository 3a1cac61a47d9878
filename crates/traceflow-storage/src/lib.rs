//! ClickHouse storage for log events: server version detection, migrations, batch inserts,
//! searches, counts and histograms, deletions and retention, over the HTTP interface with
//! the official `clickhouse` client.
//!
//! Supported servers range from 18.16 (Debian 12) to current releases. The differences that
//! matter here are captured by [`ServerVersion`]'s capability checks.

pub mod delete;
mod filter;
mod migrations;
mod position;
mod query;
pub mod retention;
mod row;
mod sql;
pub mod stats;
mod version;

pub use delete::Deletion;
pub use filter::LogFilter;
pub use migrations::{Migration, Requirement};
pub use position::{Order, Position};
pub use query::{LogQuery, MAX_LIMIT, Page, newest_timestamp_query};
pub use retention::Retention;
pub use row::{LogRow, StoredLogRow};
pub use stats::{StatsQuery, StatsRow};
pub use version::ServerVersion;

use chrono::{DateTime, Utc};
use clickhouse::Client;
use hyper_util::{client::legacy::connect::HttpConnector, rt::TokioExecutor};
use std::time::Duration;
use tokio::time::Instant;
use traceflow_config::{ClickHouseConfig, Compression};
use traceflow_event::{Event, LogEvent};

/// How often a deletion checks whether ClickHouse has finished it.
const MUTATION_POLL: Duration = Duration::from_millis(100);

/// What went wrong talking to ClickHouse, sorted by what a caller can do about it.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// Not reachable or timed out: retry later, answer 503.
    #[error("clickhouse is unavailable: {0}")]
    Unavailable(#[source] clickhouse::error::Error),
    /// The server refused the statement; `code` is ClickHouse's error code when it gave one.
    #[error("clickhouse rejected the statement: {message}")]
    Rejected { code: Option<u32>, message: String },
    /// A stored row could not be decoded, or another client-side failure.
    #[error("unexpected answer from clickhouse: {0}")]
    Unexpected(String),
}

impl From<clickhouse::error::Error> for StorageError {
    fn from(error: clickhouse::error::Error) -> Self {
        use clickhouse::error::Error;
        match error {
            Error::Network(_) | Error::TimedOut => StorageError::Unavailable(error),
            Error::BadResponse(message) => StorageError::Rejected {
                code: error_code(&message),
                message,
            },
            other => StorageError::Unexpected(other.to_string()),
        }
    }
}

impl StorageError {
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

/// Identifies a batch by its events: the same events in the same order give the same token.
/// Event ids are UUIDv7s made at ingestion, so first, last and count pin a batch down.
fn deduplication_token(events: &[Event<'_>]) -> Option<String> {
    let (first, last) = (events.first()?, events.last()?);
    Some(format!(
        "{}-{}-{}",
        first.id.simple(),
        last.id.simple(),
        events.len()
    ))
}

/// A ClickHouse client on the crate's default HTTP settings, plus `TCP_NODELAY`. Without it an INSERT's last chunk waits behind Nagle's algorithm for the
/// server's delayed ACK, about 40 ms per INSERT whatever its size (measured: 57 ms for a
/// 5,000-row INSERT that ClickHouse logged as taking 8 ms).
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

/// A handle on the logs table; cheap to clone.
#[derive(Clone)]
pub struct Storage {
    client: Client,
    database: String,
    version: ServerVersion,
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
        tracing::info!(%version, url = %config.url, database = %config.database, "connected to clickhouse");
        Ok(Self {
            client,
            database: config.database.clone(),
            version,
        })
    }

    pub fn version(&self) -> ServerVersion {
        self.version
    }

    pub fn database(&self) -> &str {
        &self.database
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

    /// Applies the migrations not yet recorded; returns the versions it applied.
    pub async fn migrate(&self) -> Result<Vec<u32>, StorageError> {
        migrations::apply(&self.client, &self.database, self.version).await
    }

    /// Stores the events with one INSERT. Returns once ClickHouse acknowledged it.
    ///
    /// Where the server supports it, the INSERT carries a deduplication token derived from
    /// the events' ids, so re-sending the same batch (after a crash between ClickHouse's
    /// acknowledgement and the queue's) stores it once.
    pub async fn insert(&self, events: &[Event<'_>]) -> Result<(), StorageError> {
        let mut insert = self.client().insert::<LogRow<'_>>("logs").await?;
        if Requirement::InsertDeduplicationToken.met_by(self.version)
            && let Some(token) = deduplication_token(events)
        {
            insert = insert.with_setting("insert_deduplication_token", token);
        }
        for event in events {
            insert.write(&LogRow::from(event)).await?;
        }
        insert.end().await?;
        Ok(())
    }

    /// One page of the events matching `query`, in its order.
    pub async fn search(&self, query: &LogQuery) -> Result<SearchPage, StorageError> {
        let mut rows: Vec<StoredLogRow> = query.to_query(&self.client()).fetch_all().await?;
        let limit = query.limit as usize;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let logs = rows
            .into_iter()
            .map(|row| LogEvent::try_from(row).map_err(StorageError::Unexpected))
            .collect::<Result<Vec<_>, _>>()?;
        let next = logs.last().filter(|_| more).map(Position::of);
        Ok(SearchPage { logs, next })
    }

    /// The newest `timestamp` of any event (whatever its service or level) stored between
    /// `from` and `to`, to the second.
    pub async fn newest_timestamp(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StorageError> {
        let seconds = |time: DateTime<Utc>| Position::start_of(time).seconds;
        let newest: u32 = query::newest_timestamp_query(seconds(from), seconds(to), &self.client())
            .fetch_one()
            .await?;
        Ok((newest > 0)
            .then(|| DateTime::from_timestamp(i64::from(newest), 0))
            .flatten())
    }

    /// How many events `filter` matches.
    pub async fn count(&self, filter: &LogFilter) -> Result<u64, StorageError> {
        Ok(delete::count_query(filter, &self.client())
            .fetch_one()
            .await?)
    }

    /// Event counts per bucket and group; see [`StatsQuery::buckets`] and
    /// [`stats::services`] for the answers made of them.
    pub async fn stats(&self, query: &StatsQuery) -> Result<Vec<StatsRow>, StorageError> {
        Ok(query.to_query(&self.client()).fetch_all().await?)
    }

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
        delete::delete_statement(filter, &self.client())
            .execute()
            .await?;
        let finished = self.mutations_done(delete::DELETED_FROM, deadline).await?;
        tracing::info!(matched, finished, "events deleted");
        Ok(Deletion { matched, finished })
    }

    /// Waits until `table` has no running mutation, or `deadline`; says which came first.
    async fn mutations_done(&self, table: &str, deadline: Instant) -> Result<bool, StorageError> {
        loop {
            let pending: u64 = delete::pending_mutations_query(&self.database, table, &self.client)
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

    /// Applies RETENTION_DAYS: sets the TTL where the server has TTL, otherwise drops the day
    /// partitions that are wholly older than `days`. Safe to repeat.
    pub async fn enforce_retention(&self, days: u32) -> Result<Retention, StorageError> {
        if Requirement::Ttl.met_by(self.version) {
            let mut changed = Vec::new();
            for table in retention::EXPIRING_TABLES {
                let engine: String = retention::engine_query(&self.database, table, &self.client)
                    .fetch_one()
                    .await?;
                if !engine.contains(&retention::ttl_clause(days)) {
                    retention::set_ttl_statement(table, days, &self.client())
                        .execute()
                        .await?;
                    changed.push(table);
                }
            }
            return Ok(Retention::Ttl { changed });
        }
        let last_expired = retention::last_expired_partition(Utc::now(), days);
        let mut dropped = Vec::new();
        for table in retention::EXPIRING_TABLES {
            let partitions: Vec<String> =
                retention::partitions_query(&self.database, table, &self.client)
                    .fetch_all()
                    .await?;
            for partition in partitions.iter().filter_map(|raw| raw.parse::<u32>().ok()) {
                if partition <= last_expired {
                    retention::drop_partition_statement(table, partition, &self.client())
                        .execute()
                        .await?;
                    dropped.push((table, partition));
                }
            }
        }
        Ok(Retention::DroppedPartitions(dropped))
    }
}

/// A page of events and, when more match, the position the next page starts after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchPage {
    pub logs: Vec<LogEvent>,
    pub next: Option<Position>,
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
