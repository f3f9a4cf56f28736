-- Which of one batch's event ids ClickHouse already holds. The ids come as the external table
-- batch_ids (GLOBAL IN: in cluster mode the shards receive it too). Go fills in the table
-- (event_ids; events itself after an insert whose outcome is unknown) and the ranges: one
-- BETWEEN condition on received_at per stretch of the batch's receive times, joined by OR, so
-- the primary key reads only those stretches. Bound parameters: each stretch's first and last time.
SELECT toString(event_id)
FROM {table}
WHERE ({ranges}) AND event_id GLOBAL IN (SELECT event_id FROM batch_ids)
