-- Which of the given event ids (a replayed batch) events already holds, within the batch's time
-- range, which the primary key narrows: the sink skips those rows.
SELECT toString(event_id)
FROM events
WHERE received_at >= ? AND received_at <= ? AND toString(event_id) IN ?
