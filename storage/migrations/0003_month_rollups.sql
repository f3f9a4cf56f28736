-- Month rollups, so that reports over months, quarters and years read a few thousand rows.
-- Their unique-source states are uniqHLL12 (4,096 registers, about 1.6% error, 2.5 KB each) rather
-- than uniq: a month of a busy country holds millions of addresses, and merging uniq states of
-- that size for a year took seconds.

CREATE TABLE IF NOT EXISTS rollup_country_month
(
    t              DateTime('UTC'),
    trap_id        String,
    country_code   String,
    continent_code String,
    messages       AggregateFunction(count),
    bytes          AggregateFunction(sum, UInt64),
    sources        AggregateFunction(uniqHLL12, FixedString(16))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYear(t)
ORDER BY (t, country_code, continent_code, trap_id);

CREATE TABLE IF NOT EXISTS rollup_asn_month
(
    t            DateTime('UTC'),
    trap_id      String,
    asn          UInt32,
    country_code String,
    as_org       AggregateFunction(any, String),
    messages     AggregateFunction(count),
    bytes        AggregateFunction(sum, UInt64),
    sources      AggregateFunction(uniqHLL12, FixedString(16))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYear(t)
ORDER BY (t, asn, country_code, trap_id);

-- apply-if: SELECT (SELECT count() FROM rollup_country_month) = 0 AND (SELECT count() FROM events) > 0
INSERT INTO rollup_country_month
SELECT toDateTime(toStartOfMonth(received_at), 'UTC') AS t, trap_id, country_code, continent_code,
       countState() AS messages, sumState(toUInt64(size)) AS bytes, uniqHLL12State(source_ip) AS sources
FROM events GROUP BY t, trap_id, country_code, continent_code;

-- apply-if: SELECT (SELECT count() FROM rollup_asn_month) = 0 AND (SELECT count() FROM events) > 0
INSERT INTO rollup_asn_month
SELECT toDateTime(toStartOfMonth(received_at), 'UTC') AS t, trap_id, asn, country_code, anyState(as_org) AS as_org,
       countState() AS messages, sumState(toUInt64(size)) AS bytes, uniqHLL12State(source_ip) AS sources
FROM events GROUP BY t, trap_id, asn, country_code;

CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_country_month_mv TO rollup_country_month AS
SELECT toDateTime(toStartOfMonth(received_at), 'UTC') AS t, trap_id, country_code, continent_code,
       countState() AS messages, sumState(toUInt64(size)) AS bytes, uniqHLL12State(source_ip) AS sources
FROM events GROUP BY t, trap_id, country_code, continent_code;

CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_asn_month_mv TO rollup_asn_month AS
SELECT toDateTime(toStartOfMonth(received_at), 'UTC') AS t, trap_id, asn, country_code, anyState(as_org) AS as_org,
       countState() AS messages, sumState(toUInt64(size)) AS bytes, uniqHLL12State(source_ip) AS sources
FROM events GROUP BY t, trap_id, asn, country_code;
