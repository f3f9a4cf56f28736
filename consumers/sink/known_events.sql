-- Which of one batch's event ids ClickHouse already holds. The ids come as the external table
-- batch_ids (GLOBAL IN: in cluster mode the shards receive it too). Go fills in the ranges with
-- one BETWEEN condition on received_at per stretch of the batch's receive times, joined by OR,
-- so the primary key of event_ids reads only those stretches. Bound parameters: each stretch's
-- first and last time.
SELECT toString(event_id)
FROM event_ids
WHERE ({ranges}) AND event_id GLOBAL IN (SELECT event_id FROM batch_ids)
