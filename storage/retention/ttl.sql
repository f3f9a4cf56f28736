-- Sets a table's time to live on servers that have TTL (19.6 and later). Filled in by Go:
-- {table}, {column} (its time column) and {days}.
ALTER TABLE {table} MODIFY TTL {column} + INTERVAL {days} DAY
