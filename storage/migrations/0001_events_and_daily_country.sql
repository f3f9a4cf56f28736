-- Events, one row per trapped message, and the daily share-by-country rollup.
-- Runs on ClickHouse 18.16 and on current servers alike (see DESIGN.md).

CREATE TABLE IF NOT EXISTS events
(
    event_id       UUID,
    received_at    DateTime('UTC'),
    trap_id        String,
    collector      String,
    source_ip      FixedString(16),  -- IPv6 bytes; IPv4 as ::ffff:a.b.c.d (IPv6NumToString reads it)
    helo           String,
    mail_from      String,
    rcpt_count     UInt16,
    size           UInt32,
    country_code   String,           -- ISO 3166-1 alpha-2, ZZ when unknown
    continent_code String,
    asn            UInt32,
    as_org         String,
    geoip_build    String,
    inserted_at    DateTime('UTC') DEFAULT now()
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (toDate(received_at), country_code, received_at);

CREATE TABLE IF NOT EXISTS daily_country
(
    day            Date,
    country_code   String,
    continent_code String,
    messages       UInt64,
    bytes          UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, country_code, continent_code);

CREATE MATERIALIZED VIEW IF NOT EXISTS daily_country_mv TO daily_country AS
SELECT
    toDate(received_at) AS day,
    country_code,
    continent_code,
    count() AS messages,
    sum(toUInt64(size)) AS bytes
FROM events
GROUP BY day, country_code, continent_code;
