-- The logs table. `{database}` is CLICKHOUSE_DB (default `observability`); the worker applies
-- this at start and records it in `{database}.schema_migrations`.
--
-- Works on ClickHouse 18.16 (Debian 12) and current releases alike: second-precision
-- `timestamp` (the seed's column) plus its `millisecond`, metadata both as the seed's JSON
-- text and as parallel key/value arrays that can be filtered by key.
CREATE DATABASE IF NOT EXISTS {database};

CREATE TABLE IF NOT EXISTS {database}.logs
(
    timestamp       DateTime('UTC'),
    millisecond     UInt16,
    event_id        UUID,
    service         LowCardinality(String),
    level           LowCardinality(String),
    message         String,
    trace_id        String,
    metadata        String,
    metadata_keys   Array(String),
    metadata_values Array(String)
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(timestamp)
ORDER BY (timestamp, millisecond, event_id);
