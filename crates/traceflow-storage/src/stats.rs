//! Counts of matching events: per time bucket and/or per service or level
//! (`GET /logs/stats`), and per service and level (`GET /services`).

use crate::{
    Storage, StorageError,
    filter::{LogFilter, TraceLookup},
    schema::LOGS,
    sql::Sql,
};
use chrono::{DateTime, Utc};
use clickhouse::{Client, Row, query::Query};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Most buckets one histogram may have.
pub const MAX_BUCKETS: u64 = 1000;

/// Which columns the counts are split by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupBy {
    pub service: bool,
    pub level: bool,
}

/// Counts over `from..=to` (which the filter's own bounds are replaced by).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsQuery {
    pub filter: LogFilter,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Bucket width in seconds; buckets start at multiples of it since the epoch (UTC). None:
    /// one bucket for the whole range.
    pub interval: Option<u32>,
    pub group_by: GroupBy,
}

/// One group's count in one bucket.
#[derive(Debug, Clone, PartialEq, Eq, Row, Deserialize)]
pub struct StatsRow {
    /// Start of the bucket in seconds since the epoch; 0 without an interval.
    pub bucket: u32,
    /// Empty unless grouped by service.
    pub group_service: String,
    /// Empty unless grouped by level.
    pub group_level: String,
    pub events: u64,
}

/// A histogram bar: the events from `time` to the next bucket, split by group if asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub time: DateTime<Utc>,
    pub count: u64,
    /// Every group seen anywhere in the histogram, 0 where it has no events in this bucket.
    pub counts: BTreeMap<String, u64>,
}

/// A service's events, by level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceCounts {
    pub service: String,
    pub count: u64,
    pub counts: BTreeMap<String, u64>,
}

/// Bucket starts for `seconds`, the first at or before it.
fn bucket_start(seconds: i64, interval: u32) -> i64 {
    seconds.div_euclid(i64::from(interval)) * i64::from(interval)
}

/// How many buckets of `interval` seconds cover `from..=to`.
pub fn bucket_count(from: DateTime<Utc>, to: DateTime<Utc>, interval: u32) -> u64 {
    let first = bucket_start(from.timestamp(), interval);
    let last = bucket_start(to.timestamp(), interval);
    ((last - first) / i64::from(interval)).unsigned_abs() + 1
}

impl StatsQuery {
    pub fn to_query(&self, client: &Client) -> Query {
        let mut sql = Sql::default();
        match self.interval {
            Some(interval) => sql.push(
                "SELECT toUInt32(intDiv(toUInt32(timestamp), ?) * ?) AS bucket",
                [interval.into(), interval.into()],
            ),
            None => sql.push("SELECT toUInt32(0) AS bucket", []),
        }
        // Aliases differ from the column names: a ClickHouse alias would otherwise replace
        // the column in the WHERE clause too.
        let (service, level) = (self.group_by.service, self.group_by.level);
        sql.push(
            &format!(
                ", {} AS group_service, {} AS group_level, count() AS events FROM {LOGS} WHERE 1",
                if service { "toString(service)" } else { "''" },
                if level { "toString(level)" } else { "''" },
            ),
            [],
        );
        let filter = LogFilter {
            from: Some(self.from),
            to: Some(self.to),
            ..self.filter.clone()
        };
        sql.append(filter.conditions(TraceLookup::Indexed));
        sql.push(
            " GROUP BY bucket, group_service, group_level ORDER BY bucket, group_service, group_level",
            [],
        );
        sql.into_query(client)
    }

    /// The histogram: every bucket in the range, empty ones with zero counts.
    pub fn buckets(&self, rows: &[StatsRow]) -> Vec<Bucket> {
        let group = |row: &StatsRow| match (self.group_by.service, self.group_by.level) {
            (true, _) => Some(row.group_service.clone()),
            (false, true) => Some(row.group_level.clone()),
            (false, false) => None,
        };
        let zeros: BTreeMap<String, u64> = rows
            .iter()
            .filter_map(group)
            .map(|name| (name, 0))
            .collect();
        // Each bucket's time and the `bucket` value its rows carry (none: every row).
        let buckets: Vec<(DateTime<Utc>, Option<i64>)> = match self.interval {
            Some(interval) => {
                let first = bucket_start(self.from.timestamp(), interval);
                let last = bucket_start(self.to.timestamp(), interval);
                (first..=last)
                    .step_by(interval as usize)
                    .filter_map(|start| Some((DateTime::from_timestamp(start, 0)?, Some(start))))
                    .collect()
            }
            None => vec![(self.from, None)],
        };
        buckets
            .into_iter()
            .map(|(time, key)| {
                let mut bucket = Bucket {
                    time,
                    count: 0,
                    counts: zeros.clone(),
                };
                for row in rows
                    .iter()
                    .filter(|row| key.is_none_or(|key| i64::from(row.bucket) == key))
                {
                    bucket.count += row.events;
                    if let Some(name) = group(row) {
                        *bucket.counts.entry(name).or_default() += row.events;
                    }
                }
                bucket
            })
            .collect()
    }
}

impl Storage {
    /// Event counts per bucket and group; see [`StatsQuery::buckets`] and [`services`] for
    /// the answers made of them.
    pub async fn stats(&self, query: &StatsQuery) -> Result<Vec<StatsRow>, StorageError> {
        Ok(query.to_query(&self.client()).fetch_all().await?)
    }
}

/// Rows grouped by service and level, as one entry per service.
pub fn service_counts(rows: &[StatsRow]) -> Vec<ServiceCounts> {
    let mut services: BTreeMap<&str, ServiceCounts> = BTreeMap::new();
    for row in rows {
        let entry = services
            .entry(&row.group_service)
            .or_insert_with(|| ServiceCounts {
                service: row.group_service.clone(),
                count: 0,
                counts: BTreeMap::new(),
            });
        entry.count += row.events;
        *entry.counts.entry(row.group_level.clone()).or_default() += row.events;
    }
    services.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(raw: &str) -> DateTime<Utc> {
        raw.parse().unwrap()
    }

    fn row(bucket: &str, service: &str, level: &str, events: u64) -> StatsRow {
        StatsRow {
            bucket: at(bucket).timestamp() as u32,
            group_service: service.into(),
            group_level: level.into(),
            events,
        }
    }

    fn query(interval: Option<u32>, group_by: GroupBy) -> StatsQuery {
        StatsQuery {
            filter: LogFilter::default(),
            from: at("2026-05-05T10:00:30Z"),
            to: at("2026-05-05T10:03:10Z"),
            interval,
            group_by,
        }
    }

    #[test]
    fn the_select_groups_by_bucket_and_the_chosen_columns() {
        let sql = query(
            Some(60),
            GroupBy {
                service: false,
                level: true,
            },
        )
        .to_query(&Client::default())
        .sql_display()
        .to_string();
        assert!(
            sql.starts_with("SELECT toUInt32(intDiv(toUInt32(timestamp), 60) * 60) AS bucket, '' AS group_service, toString(level) AS group_level, count() AS events FROM logs WHERE 1 AND tenant = 'default' AND timestamp >= 1777975230"),
            "{sql}"
        );
        assert!(sql.ends_with(" GROUP BY bucket, group_service, group_level ORDER BY bucket, group_service, group_level"), "{sql}");
    }

    #[test]
    fn every_bucket_in_the_range_is_present_with_every_group() {
        let level = GroupBy {
            service: false,
            level: true,
        };
        let rows = [
            row("2026-05-05T10:00:00Z", "", "ERROR", 3),
            row("2026-05-05T10:02:00Z", "", "INFO", 1),
            row("2026-05-05T10:02:00Z", "", "ERROR", 2),
        ];
        let bucket = |time: &str, count: u64, counts: [(&str, u64); 2]| Bucket {
            time: at(time),
            count,
            counts: counts
                .into_iter()
                .map(|(name, count)| (name.to_owned(), count))
                .collect(),
        };
        assert_eq!(
            query(Some(60), level).buckets(&rows),
            vec![
                bucket("2026-05-05T10:00:00Z", 3, [("ERROR", 3), ("INFO", 0)]),
                bucket("2026-05-05T10:01:00Z", 0, [("ERROR", 0), ("INFO", 0)]),
                bucket("2026-05-05T10:02:00Z", 3, [("ERROR", 2), ("INFO", 1)]),
                bucket("2026-05-05T10:03:00Z", 0, [("ERROR", 0), ("INFO", 0)]),
            ]
        );
        assert_eq!(
            bucket_count(at("2026-05-05T10:00:30Z"), at("2026-05-05T10:03:10Z"), 60),
            4
        );
    }

    #[test]
    fn without_an_interval_the_range_is_one_bucket() {
        let rows = [row("1970-01-01T00:00:00Z", "", "", 7)];
        let buckets = query(None, GroupBy::default()).buckets(&rows);
        assert_eq!(buckets.len(), 1);
        assert_eq!(buckets[0].time, at("2026-05-05T10:00:30Z"));
        assert_eq!(buckets[0].count, 7);
        assert!(buckets[0].counts.is_empty());
    }

    #[test]
    fn services_collect_their_levels() {
        let rows = [
            row("1970-01-01T00:00:00Z", "api", "ERROR", 2),
            row("1970-01-01T00:00:00Z", "api", "INFO", 5),
            row("1970-01-01T00:00:00Z", "auth", "WARN", 1),
        ];
        let services = service_counts(&rows);
        assert_eq!(services.len(), 2);
        assert_eq!(services[0].service, "api");
        assert_eq!(services[0].count, 7);
        assert_eq!(
            services[0].counts,
            BTreeMap::from([("ERROR".into(), 2), ("INFO".into(), 5)])
        );
        assert_eq!(services[1].count, 1);
    }
}
