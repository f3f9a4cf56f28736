-- Every address an advertised host resolved to, with its first and last lookup and the GeoIP
-- builds that placed it.
SELECT host, IPv6NumToString(address) AS ip, country_code, asn, as_org,
       min(resolved_at) AS first_seen, max(resolved_at) AS last_seen, arraySort(groupUniqArray(geoip_build)) AS geoip_builds
FROM host_addresses
GROUP BY host, address, country_code, asn, as_org
ORDER BY host, ip, first_seen
