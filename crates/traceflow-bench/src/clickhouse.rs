//! Direct access to ClickHouse over its HTTP interface: the harness's own counting and
//! table set-up, and the anchors (direct INSERT, direct SELECT) that the services are
//! compared with. Plain HTTP requests without compression, as a client without the
//! service in between would send them.

use anyhow::{Context, bail};
use bytes::Bytes;
use std::time::Duration;
use traceflow_storage::ServerVersion;

#[derive(Clone)]
pub struct ClickHouse {
    http: reqwest::Client,
    url: String,
    version: String,
    /// ClickHouse 18.16 needs `allow_experimental_low_cardinality_type=1` to create or fill
    /// LowCardinality columns; current releases reject the setting as unknown.
    low_cardinality_setting: bool,
}

impl ClickHouse {
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let mut client = Self {
            http: reqwest::Client::builder()
                // Generous: filling and optimising the 10-million-row table takes a while.
                .timeout(Duration::from_secs(600))
                .build()?,
            url: url.to_owned(),
            version: String::new(),
            low_cardinality_setting: false,
        };
        client.version = client.query("SELECT version()").await?.trim().to_owned();
        let version: ServerVersion = client
            .version
            .parse()
            .map_err(|_| anyhow::anyhow!("unrecognised ClickHouse version {:?}", client.version))?;
        client.low_cardinality_setting = version.needs_low_cardinality_setting();
        Ok(client)
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    fn post(&self) -> reqwest::RequestBuilder {
        let request = self.http.post(&self.url);
        if self.low_cardinality_setting {
            request.query(&[("allow_experimental_low_cardinality_type", "1")])
        } else {
            request
        }
    }

    /// Runs `sql` (sent as the request body) and returns the answer as text.
    pub async fn query(&self, sql: &str) -> anyhow::Result<String> {
        let answer = self.send(self.post().body(sql.to_owned())).await?;
        Ok(String::from_utf8_lossy(&answer).into_owned())
    }

    /// Runs `sql` in `database` and returns the raw answer body; used to time a SELECT
    /// exactly as sent by the query service, so the answer is read to the end but not
    /// decoded.
    pub async fn query_raw(&self, database: &str, sql: &str) -> anyhow::Result<Bytes> {
        self.send(
            self.post()
                .query(&[("database", database)])
                .body(sql.to_owned()),
        )
        .await
    }

    /// `INSERT INTO <table> FORMAT <format>` with `data` as the body; returns once
    /// ClickHouse acknowledged it (the rows are then visible to queries).
    pub async fn insert(&self, table: &str, format: &str, data: Bytes) -> anyhow::Result<()> {
        let sql = format!("INSERT INTO {table} FORMAT {format}");
        self.send(self.post().query(&[("query", sql.as_str())]).body(data))
            .await?;
        Ok(())
    }

    /// The rows of `table` (`<database>.<table>`, a MergeTree), from the part metadata rather
    /// than `count()`: the same number (an INSERT's part is active once it is acknowledged),
    /// without reading a column on every poll, so that polling during a run costs ClickHouse
    /// next to nothing.
    pub async fn count(&self, table: &str) -> anyhow::Result<u64> {
        let (database, name) = table
            .split_once('.')
            .with_context(|| format!("not <database>.<table>: {table}"))?;
        let text = self
            .query(&format!(
                "SELECT sum(rows) FROM system.parts \
                 WHERE database = '{database}' AND table = '{name}' AND active"
            ))
            .await?;
        text.trim()
            .parse()
            .with_context(|| format!("not a count: {text:?}"))
    }

    /// Waits until no merge runs (up to `timeout`; then goes on), so that a measured run
    /// does not pay for merging what an earlier run inserted. Returns how long it waited.
    pub async fn wait_for_merges(&self, timeout: Duration) -> anyhow::Result<Duration> {
        let start = std::time::Instant::now();
        while self
            .query("SELECT count() FROM system.merges")
            .await?
            .trim()
            != "0"
            && start.elapsed() < timeout
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(start.elapsed())
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Bytes> {
        let answer = request.send().await.context("ClickHouse does not answer")?;
        let status = answer.status();
        let body = answer.bytes().await?;
        if !status.is_success() {
            bail!(
                "ClickHouse answered {status}: {}",
                String::from_utf8_lossy(&body).trim()
            );
        }
        Ok(body)
    }
}
