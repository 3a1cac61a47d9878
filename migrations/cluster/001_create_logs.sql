-- The tables on a ClickHouse cluster (CLICKHOUSE_CLUSTER, `{cluster}` here): the schema the
-- single-server migrations (../) end at, with each table that holds rows split in two. On
-- every node, `<table>_local` is a Replicated*MergeTree holding that node's shard (its
-- keeper path names the shard, its replica name the node, from the servers' `{shard}` and
-- `{replica}` macros); `<table>` is a Distributed table over every shard's, which every read
-- names, exactly as on one server.
--
-- Rows go to shards by `cityHash64(toString(event_id))`: ids are random, so shards fill
-- evenly whatever the traffic, and a batch sent again splits the same way, so each shard's
-- replicas recognise their part of it and store it once (block deduplication). A trace's
-- events are spread too; its lookup asks every shard's own `logs_by_trace_local`, one
-- primary-key read each. ClickHouse 18.16 cannot hash a UUID, hence `toString`.
--
-- Every statement runs ON CLUSTER, so a node that is down runs it from the DDL queue when it
-- is back. On 18.16 the servers' default profile must allow LowCardinality
-- (`allow_experimental_low_cardinality_type`): the DDL queue runs with the servers' settings,
-- not the worker's.
CREATE DATABASE IF NOT EXISTS {database} ON CLUSTER {cluster};

CREATE TABLE IF NOT EXISTS {database}.logs_local ON CLUSTER {cluster}
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
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/logs_local', '{replica}')
PARTITION BY toYYYYMMDD(timestamp)
ORDER BY (tenant, timestamp, millisecond, event_id);

CREATE TABLE IF NOT EXISTS {database}.logs ON CLUSTER {cluster} AS {database}.logs_local
ENGINE = Distributed({cluster}, {database}, logs_local, cityHash64(toString(event_id)));

-- As on one server (migration 003): where each trace's events are, filled by a view from the
-- events each shard stores, so each shard's twin indexes its own events.
CREATE TABLE IF NOT EXISTS {database}.logs_by_trace_local ON CLUSTER {cluster}
(
    tenant      LowCardinality(String) DEFAULT 'default',
    trace_id    String,
    timestamp   DateTime('UTC'),
    millisecond UInt16
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/logs_by_trace_local', '{replica}')
PARTITION BY toYYYYMMDD(timestamp)
ORDER BY (tenant, trace_id, timestamp, millisecond);

-- Read only (the view writes the local tables), so no sharding key.
CREATE TABLE IF NOT EXISTS {database}.logs_by_trace ON CLUSTER {cluster} AS {database}.logs_by_trace_local
ENGINE = Distributed({cluster}, {database}, logs_by_trace_local);

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.logs_by_trace_mv ON CLUSTER {cluster}
TO {database}.logs_by_trace_local
AS SELECT tenant, trace_id, timestamp, millisecond FROM {database}.logs_local;
