-- The first and last day with messages, and whether there are any, from the day rollup (one
-- row per day, trap and country: small even over years).
SELECT min(t) AS first, max(t) AS last, count() AS rows
FROM rollup_country_day
