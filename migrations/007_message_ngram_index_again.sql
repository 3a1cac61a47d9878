-- requires: skip_indexes
-- 004 for the `logs` that migration 005 rebuilt: `q` skips granules whose messages cannot
-- contain the words (see 004 for the index's parameters), built for the rows copied over.
ALTER TABLE {database}.logs ADD INDEX IF NOT EXISTS message_ngrams lowerUTF8(message) TYPE ngrambf_v1(3, 16384, 3, 0) GRANULARITY 1;

ALTER TABLE {database}.logs MATERIALIZE INDEX message_ngrams;
