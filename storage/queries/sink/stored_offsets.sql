-- The highest offset stored per partition of one enriched topic; the sink skips messages at or
-- below it. Parameter: the topic (bound by the client).
SELECT kafka_partition, maxMerge(kafka_offset)
FROM ingest_offsets
WHERE kafka_topic = ?
GROUP BY kafka_partition
