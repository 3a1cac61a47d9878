//! `GET /logs/facets`: the most common services, levels and metadata entries of the events a
//! filter matches over a time range, with their counts.
//!
//! Three SELECTs: services and levels with [`StatsQuery`] (grouped by both, so the total is
//! their sum), the most common metadata keys, then the most common values of those keys.
//! ClickHouse returns only the top of each list (`LIMIT`, `LIMIT n BY key`), so the answer
//! is small however many distinct values there are.
//!
//! The total and the services' and levels' counts are exact: they group two LowCardinality
//! columns, as `/logs/stats` does (0.8 s for 10M events on 18.16, 2 cores). Metadata costs
//! far more: every entry of every event is joined out of its arrays and grouped (5.3 s and
//! 51 MB for the same 10M; 1 s for a day of them, 1.4M). So beyond [`METADATA_EXACT_UP_TO`]
//! matching events, the metadata facets are counted over a sample of about that many: the
//! events whose id hashes to 0 modulo `rate` (`cityHash64` of the id's 16 bytes, the same
//! events on every server version, and a uniform sample since ids are random), their counts
//! multiplied by `rate`. That cut the 10M case to 1.2 s. The values are grouped under
//! [`MAX_VALUE_GROUPS`], beyond which ClickHouse counts only the values it has already met,
//! so that a key with a distinct value per event cannot exhaust its memory.

use crate::{
    Storage, StorageError,
    filter::{LogFilter, TraceLookup},
    schema::LOGS,
    sql::{Param, Sql},
    stats::{GroupBy, StatsQuery, StatsRow},
};
use chrono::{DateTime, Utc};
use clickhouse::{Client, Row, query::Query};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Most values one facet may list.
pub const MAX_FACET_VALUES: u32 = 100;

/// Up to this many matching events the metadata facets are exact; beyond, a sample of about
/// this many is counted.
pub const METADATA_EXACT_UP_TO: u64 = 1_000_000;

/// Most distinct `(key, value)` pairs the values SELECT groups (ClickHouse's
/// `max_rows_to_group_by`, with `group_by_overflow_mode = 'any'`).
const MAX_VALUE_GROUPS: u64 = 2_000_000;

/// The facets of the events `filter` matches in `from..=to` (which the filter's own bounds
/// are replaced by): the top `limit` of each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacetsQuery {
    pub filter: LogFilter,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub limit: u32,
}

/// A value and the number of matching events that have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FacetValue {
    pub value: String,
    pub count: u64,
}

/// A metadata key, the number of matching events that have it, and its most common values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetadataFacet {
    pub key: String,
    pub count: u64,
    pub values: Vec<FacetValue>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facets {
    /// Matching events.
    pub total: u64,
    pub service: Vec<FacetValue>,
    pub level: Vec<FacetValue>,
    pub metadata: Vec<MetadataFacet>,
    /// 1 when the metadata counts are exact; else they were counted over one matching event
    /// in this many and multiplied by it.
    pub metadata_sample: u64,
}

#[derive(Debug, Row, Deserialize)]
struct KeyCount {
    key: String,
    events: u64,
}

#[derive(Debug, Row, Deserialize)]
struct EntryCount {
    key: String,
    value: String,
    events: u64,
}

impl FacetsQuery {
    fn filter(&self) -> LogFilter {
        LogFilter {
            from: Some(self.from),
            to: Some(self.to),
            ..self.filter.clone()
        }
    }

    /// Counts per service and level.
    pub fn counts(&self) -> StatsQuery {
        StatsQuery {
            filter: self.filter.clone(),
            from: self.from,
            to: self.to,
            interval: None,
            group_by: GroupBy {
                service: true,
                level: true,
            },
        }
    }

    /// `FROM (the matching events' metadata columns)`, one event in `sample` of them: the
    /// filter is applied before the arrays are joined, so its own `metadata_keys` conditions
    /// see whole arrays.
    fn matching_metadata(&self, columns: &str, sample: u64) -> Sql {
        let mut sql = Sql::new(&format!(" FROM (SELECT {columns} FROM {LOGS} WHERE 1"));
        sql.append(self.filter().conditions(TraceLookup::Indexed));
        if sample > 1 {
            // The id's bytes: 18.16 hashes no UUID, and its text costs three times as much.
            sql.push(
                " AND cityHash64(reinterpretAsString(event_id)) % ? = 0",
                [sample.into()],
            );
        }
        sql.push(")", []);
        sql
    }

    /// The `limit` keys most matching events (one in `sample`) have.
    pub fn keys_query(&self, sample: u64, client: &Client) -> Query {
        let mut sql = Sql::new("SELECT key, count() AS events");
        sql.append(self.matching_metadata("metadata_keys", sample));
        sql.push(
            " ARRAY JOIN metadata_keys AS key GROUP BY key ORDER BY events DESC, key ASC LIMIT ?",
            [self.limit.into()],
        );
        sql.into_query(client)
    }

    /// The `limit` most common values of each of `keys` among the matching events (one in
    /// `sample`).
    pub fn values_query(&self, keys: &[String], sample: u64, client: &Client) -> Query {
        let mut sql = Sql::new("SELECT key, value, count() AS events");
        sql.append(self.matching_metadata("metadata_keys, metadata_values", sample));
        let placeholders = vec!["?"; keys.len()].join(", ");
        sql.push(
            &format!(
                " ARRAY JOIN metadata_keys AS key, metadata_values AS value WHERE key IN ({placeholders})"
            ),
            keys.iter().map(|key| Param::from(key.as_str())),
        );
        sql.push(
            " GROUP BY key, value ORDER BY key ASC, events DESC, value ASC LIMIT ? BY key",
            [self.limit.into()],
        );
        sql.into_query(client)
            .with_setting("max_rows_to_group_by", MAX_VALUE_GROUPS.to_string())
            .with_setting("group_by_overflow_mode", "any")
    }
}

/// One matching event in how many the metadata facets count: 1 (all) up to
/// [`METADATA_EXACT_UP_TO`] of them.
fn sample_rate(total: u64) -> u64 {
    total.div_ceil(METADATA_EXACT_UP_TO).max(1)
}

/// Counts descending, then values ascending; the first `limit`.
fn top(counts: BTreeMap<String, u64>, limit: u32) -> Vec<FacetValue> {
    let mut values: Vec<FacetValue> = counts
        .into_iter()
        .map(|(value, count)| FacetValue { value, count })
        .collect();
    // Stable, and the map gave them by value: equal counts stay in value order.
    values.sort_by_key(|value| std::cmp::Reverse(value.count));
    values.truncate(limit as usize);
    values
}

/// The services' and levels' facets and the total, from counts per service and level.
fn service_and_level(rows: &[StatsRow], limit: u32) -> (u64, Vec<FacetValue>, Vec<FacetValue>) {
    let mut services = BTreeMap::new();
    let mut levels = BTreeMap::new();
    for row in rows {
        *services.entry(row.group_service.clone()).or_default() += row.events;
        *levels.entry(row.group_level.clone()).or_default() += row.events;
    }
    let total = rows.iter().map(|row| row.events).sum();
    (total, top(services, limit), top(levels, limit))
}

/// The keys in their order, each with its values, counted over one event in `sample`.
fn metadata(keys: Vec<KeyCount>, entries: Vec<EntryCount>, sample: u64) -> Vec<MetadataFacet> {
    let mut values: BTreeMap<String, Vec<FacetValue>> = BTreeMap::new();
    for entry in entries {
        values.entry(entry.key).or_default().push(FacetValue {
            value: entry.value,
            count: entry.events * sample,
        });
    }
    keys.into_iter()
        .map(|key| MetadataFacet {
            values: values.remove(&key.key).unwrap_or_default(),
            key: key.key,
            count: key.events * sample,
        })
        .collect()
}

impl Storage {
    pub async fn facets(&self, query: &FacetsQuery) -> Result<Facets, StorageError> {
        let rows = self.stats(&query.counts()).await?;
        let (total, service, level) = service_and_level(&rows, query.limit);
        let sample = sample_rate(total);
        let client = self.client();
        let keys: Vec<KeyCount> = if total == 0 {
            Vec::new()
        } else {
            query.keys_query(sample, &client).fetch_all().await?
        };
        let entries: Vec<EntryCount> = if keys.is_empty() {
            Vec::new()
        } else {
            let names: Vec<String> = keys.iter().map(|key| key.key.clone()).collect();
            query
                .values_query(&names, sample, &client)
                .fetch_all()
                .await?
        };
        if sample > 1 {
            tracing::info!(total, sample, "metadata facets counted over a sample");
        }
        Ok(Facets {
            total,
            service,
            level,
            metadata: metadata(keys, entries, sample),
            metadata_sample: sample,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query() -> FacetsQuery {
        FacetsQuery {
            filter: LogFilter {
                service: Some("api".into()),
                ..LogFilter::default()
            },
            from: "2026-05-05T10:00:00Z".parse().unwrap(),
            to: "2026-05-05T10:59:59.999Z".parse().unwrap(),
            limit: 5,
        }
    }

    const WHERE: &str = "WHERE 1 AND tenant = 'default' AND service = 'api' \
        AND timestamp >= 1777975200 AND (timestamp > 1777975200 OR millisecond >= 0) \
        AND timestamp <= 1777978799 AND (timestamp < 1777978799 OR millisecond <= 999)";

    #[test]
    fn the_keys_are_counted_over_the_matching_events() {
        assert_eq!(
            query()
                .keys_query(1, &Client::default())
                .sql_display()
                .to_string(),
            format!(
                "SELECT key, count() AS events FROM (SELECT metadata_keys FROM logs {WHERE}) \
                 ARRAY JOIN metadata_keys AS key GROUP BY key ORDER BY events DESC, key ASC LIMIT 5"
            )
        );
        assert_eq!(
            query()
                .keys_query(7, &Client::default())
                .sql_display()
                .to_string(),
            format!(
                "SELECT key, count() AS events FROM (SELECT metadata_keys FROM logs {WHERE} \
                 AND cityHash64(reinterpretAsString(event_id)) % 7 = 0) \
                 ARRAY JOIN metadata_keys AS key GROUP BY key ORDER BY events DESC, key ASC LIMIT 5"
            )
        );
    }

    #[test]
    fn the_values_are_counted_for_the_top_keys_only() {
        assert_eq!(
            query()
                .values_query(&["host".into(), "it's".into()], 1, &Client::default())
                .sql_display()
                .to_string(),
            format!(
                "SELECT key, value, count() AS events \
                 FROM (SELECT metadata_keys, metadata_values FROM logs {WHERE}) \
                 ARRAY JOIN metadata_keys AS key, metadata_values AS value WHERE key IN ('host', 'it\\'s') \
                 GROUP BY key, value ORDER BY key ASC, events DESC, value ASC LIMIT 5 BY key"
            )
        );
    }

    #[test]
    fn services_and_levels_are_summed_and_ranked() {
        let row = |service: &str, level: &str, events| StatsRow {
            bucket: 0,
            group_service: service.into(),
            group_level: level.into(),
            events,
        };
        let rows = [
            row("api", "INFO", 5),
            row("api", "ERROR", 2),
            row("auth", "INFO", 3),
            row("billing", "ERROR", 4),
            row("cart", "WARN", 7),
        ];
        let value = |value: &str, count| FacetValue {
            value: value.into(),
            count,
        };
        let (total, services, levels) = service_and_level(&rows, 3);
        assert_eq!(total, 21);
        // api 7 and cart 7 tie: by value.
        assert_eq!(
            services,
            vec![value("api", 7), value("cart", 7), value("billing", 4)]
        );
        assert_eq!(
            levels,
            vec![value("INFO", 8), value("WARN", 7), value("ERROR", 6)]
        );
    }

    #[test]
    fn each_key_gets_its_values_in_the_keys_order() {
        let keys = vec![
            KeyCount {
                key: "user".into(),
                events: 9,
            },
            KeyCount {
                key: "host".into(),
                events: 4,
            },
        ];
        let entry = |key: &str, value: &str, events| EntryCount {
            key: key.into(),
            value: value.into(),
            events,
        };
        let entries = vec![
            entry("host", "db-1", 3),
            entry("host", "db-2", 1),
            entry("user", "42", 9),
        ];
        let facets = metadata(keys, entries, 3);
        assert_eq!(
            facets
                .iter()
                .map(|facet| (facet.key.as_str(), facet.count, facet.values.len()))
                .collect::<Vec<_>>(),
            vec![("user", 27, 1), ("host", 12, 2)]
        );
        assert_eq!(
            facets[1].values[0],
            FacetValue {
                value: "db-1".into(),
                count: 9
            }
        );
    }

    #[test]
    fn metadata_is_sampled_beyond_a_million_events() {
        assert_eq!(sample_rate(0), 1);
        assert_eq!(sample_rate(METADATA_EXACT_UP_TO), 1);
        assert_eq!(sample_rate(METADATA_EXACT_UP_TO + 1), 2);
        assert_eq!(sample_rate(10_000_000), 10);
    }
}
