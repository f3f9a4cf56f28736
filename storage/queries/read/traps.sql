-- How many traps caught messages over [from, to), from the rollup the shares come from.
-- {table} as in shares.sql. Bound parameters: from, to ('YYYY-MM-DD hh:mm:ss', UTC).
SELECT uniqExact(trap_id) AS traps
FROM {table}
WHERE t >= toDateTime(?, 'UTC') AND t < toDateTime(?, 'UTC')
