-- Campaigns (package campaign): the keys that link the messages of one campaign, stored with each
-- event; the addresses advertised hosts resolved to; and what `spamgeo campaigns --save` computed
-- (which keys make which campaign, and each campaign's days), one generation per run.

-- apply-if: SELECT count() = 0 FROM system.columns WHERE database = currentDatabase() AND table = 'events' AND name = 'url_domains'
ALTER TABLE events ADD COLUMN url_domains Array(String);

-- apply-if: SELECT count() = 0 FROM system.columns WHERE database = currentDatabase() AND table = 'events' AND name = 'subject_template'
ALTER TABLE events ADD COLUMN subject_template String;

-- apply-if: SELECT count() = 0 FROM system.columns WHERE database = currentDatabase() AND table = 'events' AND name = 'body_simhash'
ALTER TABLE events ADD COLUMN body_simhash UInt64;

-- One row per address a host resolved to, per lookup (spamgeo campaigns --resolver), placed with
-- the GeoIP data in force at resolved_at.
CREATE TABLE IF NOT EXISTS host_addresses
(
    resolved_at  DateTime('UTC'),
    host         String,
    domain       String,
    address      FixedString(16),
    country_code String,
    asn          UInt32,
    as_org       String,
    geoip_build  String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(resolved_at)
ORDER BY (host, address, resolved_at);

CREATE TABLE IF NOT EXISTS campaign_keys
(
    generation  DateTime('UTC'),
    campaign_id String,
    kind        String,
    key         String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(generation)
ORDER BY (generation, kind, key);

CREATE TABLE IF NOT EXISTS campaign_days
(
    generation     DateTime('UTC'),
    campaign_id    String,
    day            Date,
    messages       UInt64,
    sources        UInt64,
    country_codes  Array(String),
    asns           Array(UInt32)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(generation)
ORDER BY (generation, campaign_id, day);

-- The newest generation of each.
CREATE VIEW IF NOT EXISTS campaign_keys_latest AS
SELECT campaign_id, kind, key FROM campaign_keys
WHERE generation = (SELECT max(generation) FROM campaign_keys);

CREATE VIEW IF NOT EXISTS campaign_days_latest AS
SELECT campaign_id, day, messages, sources, country_codes, asns FROM campaign_days
WHERE generation = (SELECT max(generation) FROM campaign_days);
