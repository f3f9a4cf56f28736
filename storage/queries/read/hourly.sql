-- Messages per hour and country over [from, to), from the hour rollup, for the live view.
-- Bound parameters: from, to.
SELECT t, country_code, countMerge(messages) AS n
FROM rollup_country_hour
WHERE t >= toDateTime(?, 'UTC') AND t < toDateTime(?, 'UTC')
GROUP BY t, country_code
ORDER BY t, country_code
