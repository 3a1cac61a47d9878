//! `GET /logs` filters and the SELECT they become. Every value is bound through the
//! client's escaping, never spliced into the SQL text.

use chrono::{DateTime, Timelike, Utc};
use clickhouse::{Client, query::Query};
use traceflow_queue::Level;

/// Most rows one page may return.
pub const MAX_LIMIT: u32 = 1000;

/// A validated search: filters, then paging. Time bounds are inclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogQuery {
    pub service: Option<String>,
    pub level: Option<Level>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub limit: u32,
    pub offset: u64,
}

impl Default for LogQuery {
    fn default() -> Self {
        Self {
            service: None,
            level: None,
            from: None,
            to: None,
            limit: 100,
            offset: 0,
        }
    }
}

/// Whole seconds (what `timestamp` holds) and the millisecond within.
fn split(time: &DateTime<Utc>) -> (i64, u32) {
    (time.timestamp(), time.nanosecond() / 1_000_000)
}

impl LogQuery {
    /// The SELECT for this search, newest first, with every value bound.
    pub fn to_query(&self, client: &Client) -> Query {
        let mut sql = String::from("SELECT ?fields FROM logs WHERE 1");
        if self.service.is_some() {
            sql.push_str(" AND service = ?");
        }
        if self.level.is_some() {
            sql.push_str(" AND level = ?");
        }
        // The plain `timestamp` comparison lets ClickHouse prune parts by the primary key;
        // the second clause refines it to the millisecond.
        if self.from.is_some() {
            sql.push_str(" AND timestamp >= ? AND (timestamp > ? OR millisecond >= ?)");
        }
        if self.to.is_some() {
            sql.push_str(" AND timestamp <= ? AND (timestamp < ? OR millisecond <= ?)");
        }
        sql.push_str(" ORDER BY timestamp DESC, millisecond DESC, event_id DESC LIMIT ? OFFSET ?");

        let mut query = client.query(&sql);
        if let Some(service) = &self.service {
            query = query.bind(service);
        }
        if let Some(level) = self.level {
            query = query.bind(level.as_str());
        }
        for bound in [&self.from, &self.to].into_iter().flatten() {
            let (seconds, millisecond) = split(bound);
            query = query.bind(seconds).bind(seconds).bind(millisecond);
        }
        query.bind(self.limit).bind(self.offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql(query: &LogQuery) -> String {
        query.to_query(&Client::default()).sql_display().to_string()
    }

    #[test]
    fn no_filter_is_newest_first_with_paging() {
        assert_eq!(
            sql(&LogQuery::default()),
            "SELECT ?fields FROM logs WHERE 1 ORDER BY timestamp DESC, millisecond DESC, event_id DESC LIMIT 100 OFFSET 0"
        );
    }

    #[test]
    fn values_are_escaped_not_spliced() {
        let query = LogQuery {
            service: Some("x' OR 1=1 --".into()),
            level: Some(Level::Error),
            from: Some("2026-05-05T10:00:00.250Z".parse().unwrap()),
            ..LogQuery::default()
        };
        let sql = sql(&query);
        assert!(sql.contains(r"service = 'x\' OR 1=1 --'"), "{sql}");
        assert!(sql.contains("level = 'ERROR'"), "{sql}");
        assert!(
            sql.contains(
                "timestamp >= 1777975200 AND (timestamp > 1777975200 OR millisecond >= 250)"
            ),
            "{sql}"
        );
    }
}
