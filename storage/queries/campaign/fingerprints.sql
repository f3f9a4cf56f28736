-- Campaign fingerprints: messages with the same campaign keys, counted, first and last seen.
-- Parameters: until ('YYYY-MM-DD hh:mm:ss', UTC): all history before it.
SELECT url_domains, subject_template, body_simhash, count() AS messages,
       min(received_at) AS first_seen, max(received_at) AS last_seen
FROM events
WHERE received_at < toDateTime(?, 'UTC')
  AND (notEmpty(url_domains) OR subject_template != '' OR body_simhash != 0)
GROUP BY url_domains, subject_template, body_simhash
