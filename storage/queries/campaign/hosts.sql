-- The distinct hosts a period's messages advertise.
-- Parameters: from, to ('YYYY-MM-DD hh:mm:ss', UTC).
SELECT DISTINCT arrayJoin(url_hosts) AS host
FROM events
WHERE received_at >= toDateTime(?, 'UTC') AND received_at < toDateTime(?, 'UTC') AND notEmpty(url_hosts)
ORDER BY host
