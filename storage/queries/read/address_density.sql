-- Unique sending addresses per country (or network) over [from, to), IPv4 addresses and IPv6
-- /64 networks apart (the events table: the rollups do not keep the address family), beside
-- the address space the period's GeoIP builds place there (table address_space, written by
-- the enricher and spamgeo address-space; 0 where it holds none); org is a network's organisation. Go fills in {key} (country_code, or
-- toString(asn)), {kind} ('country' or 'asn') and {builds} (the quoted build names).
-- Bound parameters: from, to ('YYYY-MM-DD hh:mm:ss', UTC).
SELECT key, org, messages, ipv4_sources, ipv6_sources, ipv4_addresses, ipv6_nets64
FROM
(
    SELECT
        {key} AS key,
        any(as_org) AS org,
        count() AS messages,
        uniqExactIf(source_ip, substring(source_ip, 1, 12) = unhex('00000000000000000000FFFF')) AS ipv4_sources,
        uniqExactIf(substring(source_ip, 1, 8), substring(source_ip, 1, 12) != unhex('00000000000000000000FFFF')) AS ipv6_sources
    FROM events
    WHERE received_at >= toDateTime(?, 'UTC') AND received_at < toDateTime(?, 'UTC')
    GROUP BY key
) AS e
ANY LEFT JOIN
(
    SELECT key, sum(v4) AS ipv4_addresses, sum(v6) AS ipv6_nets64
    FROM
    (
        -- One row per build and key however often it was stored, on one server or several
        -- shards (FINAL would merge copies within one server only).
        SELECT geoip_build, key, argMax(ipv4_addresses, computed_at) AS v4, argMax(ipv6_nets64, computed_at) AS v6
        FROM address_space
        WHERE kind = {kind} AND geoip_build IN ({builds})
        GROUP BY geoip_build, key
    )
    GROUP BY key
) AS s USING key
ORDER BY key
