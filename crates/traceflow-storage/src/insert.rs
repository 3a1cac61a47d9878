//! Storing events: the `logs` row they become and the batch INSERT, deduplicated where the
//! server can.

use crate::{Layout, Requirement, Storage, StorageError, schema::LOGS};
use chrono::Timelike;
use clickhouse::Row;
use serde::Serialize;
use traceflow_event::Event;
use uuid::Uuid;

/// A row as inserted: every column of `logs`, borrowing the event's text rather than
/// copying it.
#[derive(Debug, Row, Serialize)]
pub struct LogRow<'a> {
    pub tenant: &'a str,
    pub timestamp: u32,
    pub millisecond: u16,
    #[serde(with = "clickhouse::serde::uuid")]
    pub event_id: Uuid,
    pub service: &'a str,
    pub level: &'a str,
    pub message: &'a str,
    pub trace_id: &'a str,
    /// The metadata as one JSON object, for readers of the table that want it whole.
    pub metadata: String,
    pub metadata_keys: Vec<&'a str>,
    pub metadata_values: Vec<&'a str>,
}

impl<'a> From<&'a Event<'_>> for LogRow<'a> {
    fn from(event: &'a Event<'_>) -> Self {
        let (metadata_keys, metadata_values) = event
            .metadata
            .iter()
            .map(|(key, value)| (key.as_ref(), value.as_ref()))
            .unzip();
        Self {
            tenant: &event.tenant,
            // Ingestion only accepts times the DateTime column can hold.
            timestamp: u32::try_from(event.timestamp.timestamp()).unwrap_or_default(),
            millisecond: (event.timestamp.nanosecond() / 1_000_000).min(999) as u16,
            event_id: event.id,
            service: &event.service,
            level: event.level.as_str(),
            message: &event.message,
            trace_id: &event.trace_id,
            metadata: serde_json::to_string(&event.metadata).expect("string maps serialize"),
            metadata_keys,
            metadata_values,
        }
    }
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

impl Storage {
    /// Stores the events with one INSERT. Returns once ClickHouse acknowledged it.
    ///
    /// Where the server supports it, the INSERT carries a deduplication token derived from
    /// the events' ids, so re-sending the same batch (after a crash between ClickHouse's
    /// acknowledgement and the queue's) stores it once.
    pub async fn insert(&self, events: &[Event<'_>]) -> Result<(), StorageError> {
        let mut insert = self.client().insert::<LogRow<'_>>(LOGS).await?;
        if Requirement::InsertDeduplicationToken.met_by(self.version)
            && let Some(token) = deduplication_token(events)
        {
            insert = insert.with_setting("insert_deduplication_token", token);
        }
        if self.layout != Layout::Single {
            // Answered once every shard has its rows (a replica of each), so the batch is
            // only acknowledged in Redis when it is stored. The rows go to shards by a hash
            // of their id: a re-sent batch splits the same way, so each shard's replicas
            // recognise their block and store it once.
            insert = insert.with_setting("insert_distributed_sync", "1");
        }
        for event in events {
            insert.write(&LogRow::from(event)).await?;
        }
        insert.end().await?;
        Ok(())
    }
}
