-- requires: skip_indexes
-- Migration 004 of one server, on every shard's events: `q` skips the granules whose
-- messages cannot contain the words.
ALTER TABLE {database}.logs_local ON CLUSTER {cluster} ADD INDEX IF NOT EXISTS message_ngrams lowerUTF8(message) TYPE ngrambf_v1(3, 16384, 3, 0) GRANULARITY 1;
