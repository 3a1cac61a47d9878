-- requires: insert_deduplication_token
-- Lets the worker re-send a batch after a crash without storing it twice: an INSERT that
-- repeats one of the last 1000 insert_deduplication_tokens is skipped. Servers before 22.2
-- cannot do this for a non-replicated table; there a batch in flight at a crash may be
-- stored twice (README, Delivery).
ALTER TABLE {database}.logs MODIFY SETTING non_replicated_deduplication_window = 1000;
