-- Finds a trace's events without scanning `logs`: `logs` is ordered by time, so a trace id
-- lookup would read the whole trace_id column. `logs_by_trace` holds each event's sort key
-- ordered by trace id; `GET /logs?trace_id=` reads the keys here (a few granules) and then
-- only the granules of `logs` that hold them (`(timestamp, millisecond, event_id) IN (...)`
-- uses the primary key on 18.16 and current releases alike). Skip indexes would need 20.1+.
--
-- A materialized view fills it on every INSERT into `logs`. Partitioned by day like `logs`,
-- so retention drops and expires both together. An event may be indexed twice (the view
-- also fires for an INSERT that `logs` deduplicates, and see the backfill below), which
-- changes no answer: the lookup is an IN set, and ReplacingMergeTree folds the copies.
CREATE TABLE IF NOT EXISTS {database}.logs_by_trace
(
    trace_id    String,
    timestamp   DateTime('UTC'),
    millisecond UInt16,
    event_id    UUID
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(timestamp)
ORDER BY (trace_id, timestamp, millisecond, event_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.logs_by_trace_mv TO {database}.logs_by_trace
AS SELECT trace_id, timestamp, millisecond, event_id FROM {database}.logs;

-- Events stored before this migration. Created after the view, so an event inserted
-- meanwhile may be indexed twice.
INSERT INTO {database}.logs_by_trace SELECT trace_id, timestamp, millisecond, event_id FROM {database}.logs;
