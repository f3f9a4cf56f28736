-- A period's messages with campaign keys, one row each, oldest first: the evidence rows.
-- Parameters: from, to ('YYYY-MM-DD hh:mm:ss', UTC).
SELECT toString(event_id), received_at, trap_id, collector, recipients, IPv6NumToString(source_ip),
       country_code, asn, as_org, geoip_build, subject, message_id, body_sha256, url_hosts,
       url_domains, subject_template, body_simhash
FROM events
WHERE received_at >= toDateTime(?, 'UTC') AND received_at < toDateTime(?, 'UTC')
  AND (notEmpty(url_domains) OR subject_template != '' OR body_simhash != 0)
ORDER BY received_at, event_id
