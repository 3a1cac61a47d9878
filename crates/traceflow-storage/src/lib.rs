//! ClickHouse storage for log events: server version detection, migrations, batch inserts
//! and log queries, over the HTTP interface with the official `clickhouse` client.
//!
//! Supported servers range from 18.16 (Debian 12) to current releases. The differences that
//! matter here are captured by [`ServerVersion`]'s capability checks.

mod migrations;
mod query;
mod row;
mod version;

pub use migrations::{Migration, Requirement};
pub use query::{LogQuery, MAX_LIMIT};
pub use row::{LogRow, StoredLogRow};
pub use version::ServerVersion;

use clickhouse::Client;
use traceflow_config::ClickHouseConfig;
use traceflow_queue::LogEvent;

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
fn deduplication_token(events: &[LogEvent]) -> Option<String> {
    let (first, last) = (events.first()?, events.last()?);
    Some(format!(
        "{}-{}-{}",
        first.id.simple(),
        last.id.simple(),
        events.len()
    ))
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
        let base = Client::default()
            .with_url(&config.url)
            .with_user(&config.user)
            .with_password(&config.password)
            // 18.16 has no RowBinaryWithNamesAndTypes, which validation needs. It stays off on
            // every version so the path tested against 18.16 is the one that runs everywhere;
            // the integration tests check the row types against the real schema instead.
            .with_validation(false);
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
    pub async fn insert(&self, events: &[LogEvent]) -> Result<(), StorageError> {
        let mut insert = self.client().insert::<LogRow>("logs").await?;
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

    /// The events matching `query`, newest first.
    pub async fn search(&self, query: &LogQuery) -> Result<Vec<LogEvent>, StorageError> {
        let rows: Vec<StoredLogRow> = query.to_query(&self.client()).fetch_all().await?;
        rows.into_iter()
            .map(|row| LogEvent::try_from(row).map_err(StorageError::Unexpected))
            .collect()
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
