-- requires: insert_deduplication_token
-- 002 for the `logs` that migration 005 rebuilt: a re-sent batch is stored once.
ALTER TABLE {database}.logs MODIFY SETTING non_replicated_deduplication_window = 1000;
