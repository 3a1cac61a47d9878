//! The `logs` table's rows and their mapping to and from [`Event`].

use chrono::{DateTime, Timelike, Utc};
use clickhouse::Row;
use serde::{Deserialize, Serialize};
use traceflow_event::{Event, LogEvent, Metadata};
use uuid::Uuid;

/// A row as inserted: every column of `logs`, borrowing the event's text rather than
/// copying it.
#[derive(Debug, Row, Serialize)]
pub struct LogRow<'a> {
    pub timestamp: u32,
    pub millisecond: u16,
    #[serde(with = "clickhouse::serde::uuid")]
    pub event_id: Uuid,
    pub service: &'a str,
    pub level: &'a str,
    pub message: &'a str,
    pub trace_id: &'a str,
    /// The metadata as a JSON object, as the seed stored it.
    pub metadata: String,
    pub metadata_keys: Vec<&'a str>,
    pub metadata_values: Vec<&'a str>,
}

/// A row as read back: what is needed to rebuild the event.
#[derive(Debug, Row, Deserialize)]
pub struct StoredLogRow {
    pub timestamp: u32,
    pub millisecond: u16,
    #[serde(with = "clickhouse::serde::uuid")]
    pub event_id: Uuid,
    pub service: String,
    pub level: String,
    pub message: String,
    pub trace_id: String,
    pub metadata: String,
}

impl<'a> From<&'a Event<'_>> for LogRow<'a> {
    fn from(event: &'a Event<'_>) -> Self {
        let (metadata_keys, metadata_values) = event
            .metadata
            .iter()
            .map(|(key, value)| (key.as_ref(), value.as_ref()))
            .unzip();
        Self {
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

impl TryFrom<StoredLogRow> for LogEvent {
    type Error = String;

    fn try_from(row: StoredLogRow) -> Result<Self, Self::Error> {
        let timestamp = DateTime::<Utc>::from_timestamp(
            i64::from(row.timestamp),
            u32::from(row.millisecond) * 1_000_000,
        )
        .ok_or_else(|| format!("event {}: timestamp out of range", row.event_id))?;
        let level = row
            .level
            .parse()
            .map_err(|err| format!("event {}: level {err}", row.event_id))?;
        let metadata: Metadata<'static> = if row.metadata.is_empty() {
            Metadata::new()
        } else {
            serde_json::from_str(&row.metadata).map_err(|err| {
                format!(
                    "event {}: metadata is not a JSON object: {err}",
                    row.event_id
                )
            })?
        };
        Ok(LogEvent {
            id: row.event_id,
            timestamp,
            service: row.service.into(),
            level,
            message: row.message.into(),
            trace_id: row.trace_id.into(),
            metadata,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use traceflow_event::Level;

    #[test]
    fn an_event_survives_the_row_mapping() {
        let event = LogEvent {
            id: Uuid::now_v7(),
            timestamp: "2026-05-05T10:00:00.789Z".parse().unwrap(),
            service: "auth".into(),
            level: Level::Warn,
            message: "slow".into(),
            trace_id: "abc".into(),
            metadata: BTreeMap::from([("a".into(), "1".into()), ("b".into(), "x\"y".into())]),
        };
        let row = LogRow::from(&event);
        assert_eq!(row.millisecond, 789);
        assert_eq!(row.metadata_keys, vec!["a", "b"]);
        assert_eq!(row.metadata_values, vec!["1", "x\"y"]);
        let stored = StoredLogRow {
            timestamp: row.timestamp,
            millisecond: row.millisecond,
            event_id: row.event_id,
            service: row.service.to_owned(),
            level: row.level.to_owned(),
            message: row.message.to_owned(),
            trace_id: row.trace_id.to_owned(),
            metadata: row.metadata,
        };
        assert_eq!(LogEvent::try_from(stored).unwrap(), event);
    }
}
