-- Messages per country over [from, to), scanned from the events table: what the rollups
-- save (benchmarks compare the two).
-- Parameters: from, to ('YYYY-MM-DD hh:mm:ss', UTC, bound by the client).
SELECT country_code, count() AS n
FROM events
WHERE received_at >= toDateTime(?, 'UTC') AND received_at < toDateTime(?, 'UTC')
GROUP BY country_code
ORDER BY n DESC, country_code
