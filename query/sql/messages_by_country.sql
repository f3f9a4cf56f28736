-- Messages per country over [from, to), from the daily rollup, largest first.
-- Parameters: from day, to day (YYYY-MM-DD, bound by the client).
SELECT country_code, sum(messages) AS n
FROM daily_country
WHERE day >= toDate(?) AND day < toDate(?)
GROUP BY country_code
ORDER BY n DESC, country_code
