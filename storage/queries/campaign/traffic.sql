-- A period's messages with campaign keys, by fingerprint, source, country, network and day.
-- Parameters: from, to ('YYYY-MM-DD hh:mm:ss', UTC).
SELECT url_domains, subject_template, body_simhash, IPv6NumToString(source_ip) AS source,
       country_code, asn, toDate(received_at) AS day, count() AS messages
FROM events
WHERE received_at >= toDateTime(?, 'UTC') AND received_at < toDateTime(?, 'UTC')
  AND (notEmpty(url_domains) OR subject_template != '' OR body_simhash != 0)
GROUP BY url_domains, subject_template, body_simhash, source_ip, country_code, asn, day
