-- Unique sending addresses per country (or network) over [from, to), IPv4 addresses and IPv6
-- /64 networks apart (the events table: the rollups do not keep the address family), beside
-- the address space the period's GeoIP builds place there (table address_space, written by
-- spamgeo address-space; 0 where it holds none); org is a network's organisation. Go fills in {key} (country_code, or
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
    SELECT key, sum(ipv4_addresses) AS ipv4_addresses, sum(ipv6_nets64) AS ipv6_nets64
    FROM address_space FINAL
    WHERE kind = {kind} AND geoip_build IN ({builds})
    GROUP BY key
) AS s USING key
ORDER BY key
