-- All messages and all unique sources over [from, to), from the same rollup as shares.sql.
-- {table} and {uniq} as there. Bound parameters: from, to.
SELECT countMerge(messages) AS n, {uniq}Merge(sources) AS sources
FROM {table}
WHERE t >= toDateTime(?, 'UTC') AND t < toDateTime(?, 'UTC')
