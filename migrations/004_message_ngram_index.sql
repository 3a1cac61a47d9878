-- requires: skip_indexes
-- Makes `GET /logs?q=` skip the granules whose messages cannot contain the words: an n-gram
-- bloom filter over the lower-cased message, exactly the expression the search compares
-- (`lowerUTF8(message) LIKE concat('%', lowerUTF8(?), '%')`), which is what lets ClickHouse
-- use it. 3-grams so that words of three characters and more are covered; 16 KiB per
-- granule of 8192 rows keeps false positives low for typical log lines (measured with chDB
-- on 5M rows: a rare word reads 50 of 616 granules, 7x faster than a scan).
-- ClickHouse 18.16 has no skip indexes; there `q` scans.
ALTER TABLE {database}.logs ADD INDEX IF NOT EXISTS message_ngrams lowerUTF8(message) TYPE ngrambf_v1(3, 16384, 3, 0) GRANULARITY 1;

-- Builds the index for events stored before it existed (a background mutation).
ALTER TABLE {database}.logs MATERIALIZE INDEX message_ngrams;
