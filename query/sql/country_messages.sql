-- Messages per country over [from, to), summed from one of the country rollups, largest first.
-- {rollup} is rollup_country_minute, rollup_country_hour or rollup_country_day, chosen by the
-- caller as the coarsest whose resolution divides both ends of the period.
-- Parameters: from, to ('YYYY-MM-DD hh:mm:ss', UTC, bound by the client).
SELECT country_code, countMerge(messages) AS n
FROM {rollup}
WHERE t >= toDateTime(?, 'UTC') AND t < toDateTime(?, 'UTC')
GROUP BY country_code
ORDER BY n DESC, country_code
