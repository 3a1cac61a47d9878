//! Which events a request is about: the conditions every endpoint shares (`GET /logs`, its
//! count, stats, facets, export, tail and `DELETE`), and the exclusions all but `DELETE`
//! take, as SQL with bound values.

use crate::{
    schema::LOGS_BY_TRACE,
    sql::{Param, Sql},
};
use chrono::{DateTime, Timelike, Utc};
use traceflow_event::{DEFAULT_TENANT, Level};

/// Conditions on events; all must hold. Time bounds are inclusive, to the millisecond.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LogFilter {
    /// Whose events: every statement built from a filter reads or deletes only these, and
    /// `tenant` leads the sort keys, so only that tenant's granules are read.
    pub tenant: String,
    pub service: Option<String>,
    pub level: Option<Level>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Each must occur in the message, ignoring case (a word or a phrase).
    pub text: Vec<String>,
    pub trace_id: Option<String>,
    /// Each `(key, value)` must be one of the event's metadata entries.
    pub metadata: Vec<(String, String)>,
    /// What the events must not be.
    pub exclude: Exclusions,
}

/// The default tenant's events, all of them.
impl Default for LogFilter {
    fn default() -> Self {
        Self {
            tenant: DEFAULT_TENANT.to_owned(),
            service: None,
            level: None,
            from: None,
            to: None,
            text: Vec::new(),
            trace_id: None,
            metadata: Vec::new(),
            exclude: Exclusions::default(),
        }
    }
}

/// Conditions an event must not meet: it is left out if it meets any of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Exclusions {
    pub service: Option<String>,
    pub level: Option<Level>,
    pub trace_id: Option<String>,
    /// None may occur in the message, ignoring case (words or phrases).
    pub text: Vec<String>,
    /// None may be one of the event's metadata entries.
    pub metadata: Vec<(String, String)>,
}

impl Exclusions {
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// How a trace id is looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TraceLookup {
    /// Through `logs_by_trace` (migration 003), which is ordered by trace id: the times
    /// found there let ClickHouse read only the granules that hold them, instead of
    /// scanning the whole `trace_id` column.
    Indexed,
    /// A plain comparison, for mutations: they rewrite every part whatever the condition,
    /// so the index would only add a subquery.
    Scan,
}

/// Whole seconds (what `timestamp` holds) and the millisecond within.
fn split(time: &DateTime<Utc>) -> (i64, u16) {
    (
        time.timestamp(),
        (time.nanosecond() / 1_000_000).min(999) as u16,
    )
}

/// `text` as a LIKE pattern that matches it literally.
fn like_literal(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

impl LogFilter {
    /// Whether anything but the time range narrows it down.
    pub fn has_condition_besides_time(&self) -> bool {
        self.service.is_some()
            || self.level.is_some()
            || !self.text.is_empty()
            || self.trace_id.is_some()
            || !self.metadata.is_empty()
            || !self.exclude.is_empty()
    }

    /// ` AND ...` for each condition, to follow `WHERE 1`; the tenant's always.
    pub(crate) fn conditions(&self, trace_lookup: TraceLookup) -> Sql {
        let mut sql = Sql::default();
        sql.push(" AND tenant = ?", [self.tenant.as_str().into()]);
        if let Some(service) = &self.service {
            sql.push(" AND service = ?", [service.as_str().into()]);
        }
        if let Some(level) = self.level {
            sql.push(" AND level = ?", [level.as_str().into()]);
        }
        // The plain `timestamp` comparison lets ClickHouse prune parts by the primary key;
        // the second clause refines it to the millisecond.
        if let Some(from) = &self.from {
            let (seconds, millisecond) = split(from);
            sql.push(
                " AND timestamp >= ? AND (timestamp > ? OR millisecond >= ?)",
                [seconds.into(), seconds.into(), millisecond.into()],
            );
        }
        if let Some(to) = &self.to {
            let (seconds, millisecond) = split(to);
            sql.push(
                " AND timestamp <= ? AND (timestamp < ? OR millisecond <= ?)",
                [seconds.into(), seconds.into(), millisecond.into()],
            );
        }
        // Both sides lower-cased by the server, so the pattern is exactly the expression the
        // `message_ngrams` skip index (migration 004) is built on, and ClickHouse can use it.
        for text in &self.text {
            sql.push(
                " AND lowerUTF8(message) LIKE concat('%', lowerUTF8(?), '%')",
                [like_literal(text).into()],
            );
        }
        if let Some(trace_id) = &self.trace_id {
            sql.push(" AND trace_id = ?", [trace_id.as_str().into()]);
            if trace_lookup == TraceLookup::Indexed {
                sql.push(
                    &format!(
                        " AND (timestamp, millisecond) IN \
                         (SELECT timestamp, millisecond FROM {LOGS_BY_TRACE} WHERE tenant = ? AND trace_id = ?)"
                    ),
                    [self.tenant.as_str().into(), trace_id.as_str().into()],
                );
            }
        }
        for (key, value) in &self.metadata {
            sql.push(
                &format!(" AND {HAS_ENTRY}"),
                [Param::from(key.as_str()), value.as_str().into()],
            );
        }
        sql.append(self.exclude.conditions());
        sql
    }
}

/// Whether the event has the metadata entry `(?, ?)`.
const HAS_ENTRY: &str = "arrayExists((k, v) -> k = ? AND v = ?, metadata_keys, metadata_values)";

impl Exclusions {
    /// ` AND ...` leaving out each excluded kind of event. None of them can narrow what is
    /// read (an index finds what is there, not what is not): they only drop rows read.
    fn conditions(&self) -> Sql {
        let mut sql = Sql::default();
        if let Some(service) = &self.service {
            sql.push(" AND service != ?", [service.as_str().into()]);
        }
        if let Some(level) = self.level {
            sql.push(" AND level != ?", [level.as_str().into()]);
        }
        if let Some(trace_id) = &self.trace_id {
            sql.push(" AND trace_id != ?", [trace_id.as_str().into()]);
        }
        for text in &self.text {
            sql.push(
                " AND lowerUTF8(message) NOT LIKE concat('%', lowerUTF8(?), '%')",
                [like_literal(text).into()],
            );
        }
        for (key, value) in &self.metadata {
            sql.push(
                &format!(" AND NOT {HAS_ENTRY}"),
                [Param::from(key.as_str()), value.as_str().into()],
            );
        }
        sql
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clickhouse::Client;

    fn sql(filter: &LogFilter, lookup: TraceLookup) -> String {
        let mut sql = Sql::new("WHERE 1");
        sql.append(filter.conditions(lookup));
        sql.into_query(&Client::default()).sql_display().to_string()
    }

    #[test]
    fn every_condition_binds_its_values() {
        let filter = LogFilter {
            tenant: "acme".into(),
            service: Some("x' OR 1=1 --".into()),
            level: Some(Level::Error),
            from: Some("2026-05-05T10:00:00.250Z".parse().unwrap()),
            to: Some("2026-05-05T10:00:01Z".parse().unwrap()),
            text: vec!["50%_off\\".into(), "Time Out".into()],
            trace_id: Some("t'1".into()),
            metadata: vec![("user".into(), "4'2".into())],
            exclude: Exclusions::default(),
        };
        assert_eq!(
            sql(&filter, TraceLookup::Indexed),
            concat!(
                r"WHERE 1 AND tenant = 'acme' AND service = 'x\' OR 1=1 --' AND level = 'ERROR'",
                " AND timestamp >= 1777975200 AND (timestamp > 1777975200 OR millisecond >= 250)",
                " AND timestamp <= 1777975201 AND (timestamp < 1777975201 OR millisecond <= 0)",
                r" AND lowerUTF8(message) LIKE concat('%', lowerUTF8('50\\%\\_off\\\\'), '%')",
                " AND lowerUTF8(message) LIKE concat('%', lowerUTF8('Time Out'), '%')",
                r" AND trace_id = 't\'1' AND (timestamp, millisecond) IN",
                r" (SELECT timestamp, millisecond FROM logs_by_trace WHERE tenant = 'acme' AND trace_id = 't\'1')",
                r" AND arrayExists((k, v) -> k = 'user' AND v = '4\'2', metadata_keys, metadata_values)",
            )
        );
        assert!(filter.has_condition_besides_time());
    }

    #[test]
    fn every_exclusion_binds_its_values_after_the_conditions() {
        let filter = LogFilter {
            service: Some("api".into()),
            exclude: Exclusions {
                service: Some("x' OR 1=1 --".into()),
                level: Some(Level::Debug),
                trace_id: Some("t'1".into()),
                text: vec!["health%check".into(), "Time Out".into()],
                metadata: vec![("host".into(), "db'1".into()), ("user".into(), "".into())],
            },
            ..LogFilter::default()
        };
        assert_eq!(
            sql(&filter, TraceLookup::Indexed),
            concat!(
                "WHERE 1 AND tenant = 'default' AND service = 'api'",
                r" AND service != 'x\' OR 1=1 --' AND level != 'DEBUG' AND trace_id != 't\'1'",
                r" AND lowerUTF8(message) NOT LIKE concat('%', lowerUTF8('health\\%check'), '%')",
                " AND lowerUTF8(message) NOT LIKE concat('%', lowerUTF8('Time Out'), '%')",
                r" AND NOT arrayExists((k, v) -> k = 'host' AND v = 'db\'1', metadata_keys, metadata_values)",
                " AND NOT arrayExists((k, v) -> k = 'user' AND v = '', metadata_keys, metadata_values)",
            )
        );
        let only_excluding = LogFilter {
            exclude: Exclusions {
                level: Some(Level::Info),
                ..Exclusions::default()
            },
            ..LogFilter::default()
        };
        assert!(only_excluding.has_condition_besides_time());
        assert!(!only_excluding.exclude.is_empty());
        assert!(LogFilter::default().exclude.is_empty());
    }

    #[test]
    fn mutations_compare_the_trace_id_directly() {
        let filter = LogFilter {
            trace_id: Some("abc".into()),
            ..LogFilter::default()
        };
        assert_eq!(
            sql(&filter, TraceLookup::Scan),
            "WHERE 1 AND tenant = 'default' AND trace_id = 'abc'"
        );
    }

    #[test]
    fn a_time_range_alone_is_not_a_condition_besides_time() {
        let filter = LogFilter {
            from: Some(DateTime::UNIX_EPOCH),
            to: Some(DateTime::UNIX_EPOCH),
            ..LogFilter::default()
        };
        assert!(!filter.has_condition_besides_time());
    }
}
