-- Every stored event id, by the time its message was received, so that the sink stores each
-- event once whichever hop before it delivered a copy: a trap hand-off retried after its timeout,
-- a Kafka writer resending a request the broker had stored, an enricher killed after publishing
-- and before committing, or an archive imported twice. Every copy keeps its event id and its
-- received_at, so the sink asks this table, over the received_at range of a batch (which the
-- primary key narrows to a few granules for live traffic), which of the batch's ids it holds.
-- Kept by the same insert as events, through the materialized view.

CREATE TABLE IF NOT EXISTS event_ids
(
    received_at DateTime('UTC'),
    event_id    UUID
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (received_at, event_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS event_ids_mv TO event_ids AS
SELECT received_at, event_id
FROM events;

-- apply-if: SELECT (SELECT count() FROM event_ids) = 0 AND (SELECT count() FROM events) > 0
INSERT INTO event_ids
SELECT received_at, event_id
FROM events;
