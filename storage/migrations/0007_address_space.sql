-- The address space each GeoIP build places in each country and network (spamgeo address-space
-- walks the files and writes it): IPv4 addresses and IPv6 /64 networks, so that unique sending
-- addresses can be read as a share of the space (report --per address-space, and SQL). A country
-- build is named as the first part of an event's geoip_build, an ASN build as the part after
-- "; "; key is the ISO country code or the AS number in decimal. Written again, a build's rows
-- replace the earlier ones (read with FINAL, or argMax by computed_at).

CREATE TABLE IF NOT EXISTS address_space
(
    geoip_build    String,
    kind           Enum8('country' = 1, 'asn' = 2),
    key            String,
    ipv4_addresses UInt64,
    ipv6_nets64    UInt64,
    computed_at    DateTime('UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (geoip_build, kind, key);
