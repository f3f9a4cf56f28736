-- Every address an advertised host resolved to, with its first and last lookup.
SELECT host, IPv6NumToString(address) AS ip, country_code, asn, as_org,
       min(resolved_at) AS first_seen, max(resolved_at) AS last_seen
FROM host_addresses
GROUP BY host, address, country_code, asn, as_org
ORDER BY host, ip, first_seen
