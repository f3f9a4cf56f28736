-- Messages and unique sources per group over [from, to), from one rollup, largest first.
-- Filled in by Go from fixed lists, never from input: {table} (the coarsest rollup whose step
-- divides both ends of the period), {key} (country_code, continent_code, asn or trap_id), {name}
-- (anyMerge(as_org) for networks, '' otherwise) and {uniq} (uniq or uniqHLL12, the rollup's
-- state function). Bound parameters: the publisher grouping as two arrays (member codes, group
-- codes), then from and to ('YYYY-MM-DD hh:mm:ss', UTC).
SELECT transform(toString({key}), ?, ?, toString({key})) AS key,
       {name} AS name,
       countMerge(messages) AS n,
       {uniq}Merge(sources) AS sources
FROM {table}
WHERE t >= toDateTime(?, 'UTC') AND t < toDateTime(?, 'UTC')
GROUP BY key
ORDER BY n DESC, key
