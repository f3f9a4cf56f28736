-- Messages per group and time bucket over [from, to), for share-over-time charts. Filled in by
-- Go from fixed lists: {bucket} (toStartOfMonth or toDate), {table} and {key} as in shares.sql.
-- Bound parameters: the publisher grouping's two arrays, then from and to.
SELECT {bucket}(t) AS b,
       transform(toString({key}), ?, ?, toString({key})) AS key,
       countMerge(messages) AS n
FROM {table}
WHERE t >= toDateTime(?, 'UTC') AND t < toDateTime(?, 'UTC')
GROUP BY b, key
ORDER BY b, key
