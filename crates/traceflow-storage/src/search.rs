//! Reading events back: `GET /logs` searches and the SELECT they become (a filter, an
//! order, and a page given by an offset or by the position of the last event seen: keyset
//! paging), the number of events a filter matches, and where the stored data ends.

use crate::{
    Storage, StorageError,
    filter::{LogFilter, TraceLookup},
    position::{Order, Position},
    schema::LOGS,
    sql::Sql,
};
use chrono::{DateTime, Utc};
use clickhouse::{Client, Row, query::Query};
use serde::Deserialize;
use traceflow_event::{LogEvent, Metadata};
use uuid::Uuid;

/// Most rows one page may return.
pub const MAX_LIMIT: u32 = 1000;

/// Where a page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// Skip this many matching events.
    Offset(u64),
    /// Only events strictly after this position, in the search's order. Unlike an offset,
    /// this neither skips nor repeats events when others are stored meanwhile.
    After(Position),
}

/// A validated search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogQuery {
    pub filter: LogFilter,
    pub order: Order,
    pub page: Page,
    pub limit: u32,
}

impl Default for LogQuery {
    fn default() -> Self {
        Self {
            filter: LogFilter::default(),
            order: Order::Desc,
            page: Page::Offset(0),
            limit: 100,
        }
    }
}

impl LogQuery {
    /// The SELECT for this search. It asks for one row more than the limit: that row's
    /// presence says whether another page exists.
    pub fn to_query(&self, client: &Client) -> Query {
        let mut sql = Sql::new(&format!("SELECT ?fields FROM {LOGS} WHERE 1"));
        sql.append(self.filter.conditions(TraceLookup::Indexed));
        let (direction, beyond, not_beyond) = match self.order {
            Order::Desc => ("DESC", "<", "<="),
            Order::Asc => ("ASC", ">", ">="),
        };
        let offset = match self.page {
            Page::Offset(offset) => offset,
            Page::After(position) => {
                // The lone `timestamp` bound lets ClickHouse prune by the primary key.
                sql.push(
                    &format!(
                        " AND timestamp {not_beyond} ? AND (timestamp, millisecond, event_id) {beyond} (?, ?, toUUID(?))"
                    ),
                    [
                        position.seconds.into(),
                        position.seconds.into(),
                        position.millisecond.into(),
                        position.event_id.to_string().into(),
                    ],
                );
                0
            }
        };
        sql.push(
            &format!(
                " ORDER BY timestamp {direction}, millisecond {direction}, event_id {direction} LIMIT ? OFFSET ?"
            ),
            [(u64::from(self.limit) + 1).into(), offset.into()],
        );
        sql.into_query(client)
    }
}

/// A page of events and, when more match, the position the next page starts after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchPage {
    pub logs: Vec<LogEvent>,
    pub next: Option<Position>,
}

/// A row as read back: what is needed to rebuild the event.
#[derive(Debug, Row, Deserialize)]
pub struct StoredLogRow {
    pub tenant: String,
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
            tenant: row.tenant.into(),
            timestamp,
            service: row.service.into(),
            level,
            message: row.message.into(),
            trace_id: row.trace_id.into(),
            metadata,
        })
    }
}

/// `SELECT count()` of the events `filter` matches.
pub fn count_query(filter: &LogFilter, client: &Client) -> Query {
    let mut sql = Sql::new(&format!("SELECT count() FROM {LOGS} WHERE 1"));
    sql.append(filter.conditions(TraceLookup::Indexed));
    sql.into_query(client)
}

/// The newest `timestamp` (whole seconds) of any of `tenant`'s events in `from..=to`, or 0
/// if none: where the tenant's stored data currently ends, which a live tail follows.
pub fn newest_timestamp_query(tenant: &str, from: u32, to: u32, client: &Client) -> Query {
    client
        .query(&format!(
            "SELECT toUInt32(max(timestamp)) FROM {LOGS} WHERE tenant = ? AND timestamp >= ? AND timestamp <= ?"
        ))
        .bind(tenant)
        .bind(from)
        .bind(to)
}

impl Storage {
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

    /// How many events `filter` matches.
    pub async fn count(&self, filter: &LogFilter) -> Result<u64, StorageError> {
        Ok(count_query(filter, &self.client()).fetch_one().await?)
    }

    /// The newest `timestamp` of any of `tenant`'s events (whatever its service or level)
    /// stored between `from` and `to`, to the second.
    pub async fn newest_timestamp(
        &self,
        tenant: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StorageError> {
        let seconds = |time: DateTime<Utc>| Position::start_of(time).seconds;
        let newest: u32 =
            newest_timestamp_query(tenant, seconds(from), seconds(to), &self.client())
                .fetch_one()
                .await?;
        Ok((newest > 0)
            .then(|| DateTime::from_timestamp(i64::from(newest), 0))
            .flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insert::LogRow;
    use std::collections::BTreeMap;
    use traceflow_event::Level;

    fn sql(query: &LogQuery) -> String {
        query.to_query(&Client::default()).sql_display().to_string()
    }

    #[test]
    fn no_filter_is_newest_first_with_one_row_more_than_the_page() {
        assert_eq!(
            sql(&LogQuery::default()),
            "SELECT ?fields FROM logs WHERE 1 AND tenant = 'default' ORDER BY timestamp DESC, millisecond DESC, event_id DESC LIMIT 101 OFFSET 0"
        );
    }

    #[test]
    fn a_position_pages_by_the_sort_key_in_either_order() {
        let position = Position {
            seconds: 1_777_975_200,
            millisecond: 250,
            event_id: "0196a0b0-0000-7000-8000-000000000004".parse().unwrap(),
        };
        let desc = LogQuery {
            page: Page::After(position),
            limit: 10,
            ..LogQuery::default()
        };
        assert_eq!(
            sql(&desc),
            "SELECT ?fields FROM logs WHERE 1 AND tenant = 'default' AND timestamp <= 1777975200 AND (timestamp, millisecond, event_id) < (1777975200, 250, toUUID('0196a0b0-0000-7000-8000-000000000004')) ORDER BY timestamp DESC, millisecond DESC, event_id DESC LIMIT 11 OFFSET 0"
        );
        let asc = LogQuery {
            order: Order::Asc,
            ..desc
        };
        assert!(sql(&asc).contains(
            "AND timestamp >= 1777975200 AND (timestamp, millisecond, event_id) > (1777975200, 250, toUUID('0196a0b0-0000-7000-8000-000000000004')) ORDER BY timestamp ASC, millisecond ASC, event_id ASC"
        ));
    }

    #[test]
    fn a_count_applies_the_filter_with_the_trace_index() {
        let filter = LogFilter {
            tenant: "acme".into(),
            service: Some("auth".into()),
            trace_id: Some("t".into()),
            ..LogFilter::default()
        };
        assert_eq!(
            count_query(&filter, &Client::default())
                .sql_display()
                .to_string(),
            "SELECT count() FROM logs WHERE 1 AND tenant = 'acme' AND service = 'auth' AND trace_id = 't' AND (timestamp, millisecond) IN (SELECT timestamp, millisecond FROM logs_by_trace WHERE tenant = 'acme' AND trace_id = 't')"
        );
    }

    #[test]
    fn the_newest_timestamp_is_asked_for_within_the_range() {
        assert_eq!(
            newest_timestamp_query("acme", 10, 20, &Client::default())
                .sql_display()
                .to_string(),
            "SELECT toUInt32(max(timestamp)) FROM logs WHERE tenant = 'acme' AND timestamp >= 10 AND timestamp <= 20"
        );
    }

    #[test]
    fn an_event_survives_the_row_mapping() {
        let event = LogEvent {
            id: Uuid::now_v7(),
            tenant: "acme".into(),
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
            tenant: row.tenant.to_owned(),
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
