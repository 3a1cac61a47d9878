-- Puts `tenant` first in the sort keys of `logs` and `logs_by_trace`, so that a tenant's
-- queries read only its own granules. ClickHouse cannot change the front of a sort key, so
-- both tables are rebuilt: `logs` is copied, one day partition at a time, into a new table
-- that then takes its name; `logs_by_trace`, which only says where traces are, is filled
-- again from the new `logs`. Events stored before this migration become tenant `default`'s.
-- Rows other tools insert without a tenant are the default tenant's too (the column's DEFAULT).
--
-- Safe to interrupt and run again (the worker reruns it at its next start): a partition is
-- copied again unless the new table holds as many of its rows as the old one, the old table
-- is only dropped once the new one has its name, and every statement here may repeat.
-- Stop the workers of the previous version first: events they store into the old table
-- after its partition was copied would not be carried over. Until this migration finishes,
-- reads from the query service fail for want of the `tenant` column.
--
-- The deduplication window (002) and the n-gram index (004) of the old table are set on the
-- new one by migrations 006 and 007; the retention TTL by the worker at start, as always.
CREATE TABLE IF NOT EXISTS {database}.logs_tenant_first
(
    tenant          LowCardinality(String) DEFAULT 'default',
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
ORDER BY (tenant, timestamp, millisecond, event_id);

-- The view writes into the old trace table from the old `logs`: it goes before either moves.
DROP TABLE IF EXISTS {database}.logs_by_trace_mv;

-- program: tenant_first
-- (copies `logs` into `logs_tenant_first` by partition, swaps their names, drops the old
-- table, and drops `logs_by_trace` if it has no `tenant` column: crates/traceflow-storage/
-- src/migrations/tenant_first.rs)

CREATE TABLE IF NOT EXISTS {database}.logs_by_trace
(
    tenant      LowCardinality(String) DEFAULT 'default',
    trace_id    String,
    timestamp   DateTime('UTC'),
    millisecond UInt16
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(timestamp)
ORDER BY (tenant, trace_id, timestamp, millisecond);

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.logs_by_trace_mv TO {database}.logs_by_trace
AS SELECT tenant, trace_id, timestamp, millisecond FROM {database}.logs;

-- As in 003: entries of events stored meanwhile may be written twice, which
-- ReplacingMergeTree folds.
INSERT INTO {database}.logs_by_trace SELECT tenant, trace_id, timestamp, millisecond FROM {database}.logs;
