-- Exactly-once ingestion and rollups at minute, hour and day resolution.
--
-- Every row remembers the Kafka message it came from (topic, partition, offset of the enriched
-- topic); ingest_offsets keeps the highest stored offset per partition, maintained by the same
-- insert, so a sink resuming after a crash skips what ClickHouse already holds.
--
-- Rollups hold aggregate states (messages, bytes, unique source addresses), so any period can be
-- summed from them exactly. Country rollups exist per minute, hour and day; ASN rollups per hour
-- and day. The backfills fill new rollups from events that are already stored: stop the sinks
-- while migrating (spamgeo sink refuses to start on a schema with pending migrations).

-- apply-if: SELECT count() = 0 FROM system.columns WHERE database = currentDatabase() AND table = 'events' AND name = 'kafka_topic'
ALTER TABLE events ADD COLUMN kafka_topic String;

-- apply-if: SELECT count() = 0 FROM system.columns WHERE database = currentDatabase() AND table = 'events' AND name = 'kafka_partition'
ALTER TABLE events ADD COLUMN kafka_partition UInt32;

-- apply-if: SELECT count() = 0 FROM system.columns WHERE database = currentDatabase() AND table = 'events' AND name = 'kafka_offset'
ALTER TABLE events ADD COLUMN kafka_offset Int64 DEFAULT -1;  -- -1: stored before offsets were kept

CREATE TABLE IF NOT EXISTS ingest_offsets
(
    kafka_topic     String,
    kafka_partition UInt32,
    kafka_offset    AggregateFunction(max, Int64)
)
ENGINE = AggregatingMergeTree
ORDER BY (kafka_topic, kafka_partition);

CREATE MATERIALIZED VIEW IF NOT EXISTS ingest_offsets_mv TO ingest_offsets AS
SELECT kafka_topic, kafka_partition, maxState(kafka_offset) AS kafka_offset
FROM events
GROUP BY kafka_topic, kafka_partition;

CREATE TABLE IF NOT EXISTS rollup_country_minute
(
    t              DateTime('UTC'),
    trap_id        String,
    country_code   String,
    continent_code String,
    messages       AggregateFunction(count),
    bytes          AggregateFunction(sum, UInt64),
    sources        AggregateFunction(uniq, FixedString(16))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(t)
ORDER BY (t, country_code, continent_code, trap_id);

CREATE TABLE IF NOT EXISTS rollup_country_hour
(
    t              DateTime('UTC'),
    trap_id        String,
    country_code   String,
    continent_code String,
    messages       AggregateFunction(count),
    bytes          AggregateFunction(sum, UInt64),
    sources        AggregateFunction(uniq, FixedString(16))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(t)
ORDER BY (t, country_code, continent_code, trap_id);

CREATE TABLE IF NOT EXISTS rollup_country_day
(
    t              DateTime('UTC'),
    trap_id        String,
    country_code   String,
    continent_code String,
    messages       AggregateFunction(count),
    bytes          AggregateFunction(sum, UInt64),
    sources        AggregateFunction(uniq, FixedString(16))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYear(t)
ORDER BY (t, country_code, continent_code, trap_id);

CREATE TABLE IF NOT EXISTS rollup_asn_hour
(
    t            DateTime('UTC'),
    trap_id      String,
    asn          UInt32,
    country_code String,
    as_org       AggregateFunction(any, String),
    messages     AggregateFunction(count),
    bytes        AggregateFunction(sum, UInt64),
    sources      AggregateFunction(uniq, FixedString(16))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(t)
ORDER BY (t, asn, country_code, trap_id);

CREATE TABLE IF NOT EXISTS rollup_asn_day
(
    t            DateTime('UTC'),
    trap_id      String,
    asn          UInt32,
    country_code String,
    as_org       AggregateFunction(any, String),
    messages     AggregateFunction(count),
    bytes        AggregateFunction(sum, UInt64),
    sources      AggregateFunction(uniq, FixedString(16))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYear(t)
ORDER BY (t, asn, country_code, trap_id);

-- apply-if: SELECT (SELECT count() FROM rollup_country_minute) = 0 AND (SELECT count() FROM events) > 0
INSERT INTO rollup_country_minute
SELECT toStartOfMinute(received_at) AS t, trap_id, country_code, continent_code,
       countState() AS messages, sumState(toUInt64(size)) AS bytes, uniqState(source_ip) AS sources
FROM events GROUP BY t, trap_id, country_code, continent_code;

-- apply-if: SELECT (SELECT count() FROM rollup_country_hour) = 0 AND (SELECT count() FROM events) > 0
INSERT INTO rollup_country_hour
SELECT toStartOfHour(received_at) AS t, trap_id, country_code, continent_code,
       countState() AS messages, sumState(toUInt64(size)) AS bytes, uniqState(source_ip) AS sources
FROM events GROUP BY t, trap_id, country_code, continent_code;

-- apply-if: SELECT (SELECT count() FROM rollup_country_day) = 0 AND (SELECT count() FROM events) > 0
INSERT INTO rollup_country_day
SELECT toStartOfDay(received_at) AS t, trap_id, country_code, continent_code,
       countState() AS messages, sumState(toUInt64(size)) AS bytes, uniqState(source_ip) AS sources
FROM events GROUP BY t, trap_id, country_code, continent_code;

-- apply-if: SELECT (SELECT count() FROM rollup_asn_hour) = 0 AND (SELECT count() FROM events) > 0
INSERT INTO rollup_asn_hour
SELECT toStartOfHour(received_at) AS t, trap_id, asn, country_code, anyState(as_org) AS as_org,
       countState() AS messages, sumState(toUInt64(size)) AS bytes, uniqState(source_ip) AS sources
FROM events GROUP BY t, trap_id, asn, country_code;

-- apply-if: SELECT (SELECT count() FROM rollup_asn_day) = 0 AND (SELECT count() FROM events) > 0
INSERT INTO rollup_asn_day
SELECT toStartOfDay(received_at) AS t, trap_id, asn, country_code, anyState(as_org) AS as_org,
       countState() AS messages, sumState(toUInt64(size)) AS bytes, uniqState(source_ip) AS sources
FROM events GROUP BY t, trap_id, asn, country_code;

CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_country_minute_mv TO rollup_country_minute AS
SELECT toStartOfMinute(received_at) AS t, trap_id, country_code, continent_code,
       countState() AS messages, sumState(toUInt64(size)) AS bytes, uniqState(source_ip) AS sources
FROM events GROUP BY t, trap_id, country_code, continent_code;

CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_country_hour_mv TO rollup_country_hour AS
SELECT toStartOfHour(received_at) AS t, trap_id, country_code, continent_code,
       countState() AS messages, sumState(toUInt64(size)) AS bytes, uniqState(source_ip) AS sources
FROM events GROUP BY t, trap_id, country_code, continent_code;

CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_country_day_mv TO rollup_country_day AS
SELECT toStartOfDay(received_at) AS t, trap_id, country_code, continent_code,
       countState() AS messages, sumState(toUInt64(size)) AS bytes, uniqState(source_ip) AS sources
FROM events GROUP BY t, trap_id, country_code, continent_code;

CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_asn_hour_mv TO rollup_asn_hour AS
SELECT toStartOfHour(received_at) AS t, trap_id, asn, country_code, anyState(as_org) AS as_org,
       countState() AS messages, sumState(toUInt64(size)) AS bytes, uniqState(source_ip) AS sources
FROM events GROUP BY t, trap_id, asn, country_code;

CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_asn_day_mv TO rollup_asn_day AS
SELECT toStartOfDay(received_at) AS t, trap_id, asn, country_code, anyState(as_org) AS as_org,
       countState() AS messages, sumState(toUInt64(size)) AS bytes, uniqState(source_ip) AS sources
FROM events GROUP BY t, trap_id, asn, country_code;

-- The version 1 daily table gives way to a view of the same name and columns over the day rollup.
DROP TABLE IF EXISTS daily_country_mv;

-- apply-if: SELECT count() > 0 FROM system.tables WHERE database = currentDatabase() AND name = 'daily_country' AND engine != 'View'
DROP TABLE daily_country;

-- Stable views for ad-hoc SQL (documented in docs/sql.md).
CREATE VIEW IF NOT EXISTS daily_country AS
SELECT toDate(t) AS day, country_code, continent_code,
       countMerge(messages) AS messages, sumMerge(bytes) AS bytes, uniqMerge(sources) AS sources
FROM rollup_country_day
GROUP BY day, country_code, continent_code;

CREATE VIEW IF NOT EXISTS daily_country_share AS
SELECT day, country_code, messages, 100 * messages / total AS share_pct
FROM
(
    SELECT toDate(t) AS day, country_code, countMerge(messages) AS messages
    FROM rollup_country_day
    GROUP BY day, country_code
) AS by_country
ANY LEFT JOIN
(
    SELECT toDate(t) AS day, countMerge(messages) AS total
    FROM rollup_country_day
    GROUP BY day
) AS by_day USING day;

CREATE VIEW IF NOT EXISTS daily_asn AS
SELECT toDate(t) AS day, asn, anyMerge(as_org) AS as_org, country_code,
       countMerge(messages) AS messages, sumMerge(bytes) AS bytes, uniqMerge(sources) AS sources
FROM rollup_asn_day
GROUP BY day, asn, country_code;
