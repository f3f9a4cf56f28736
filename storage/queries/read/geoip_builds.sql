-- Messages per GeoIP build over [from, to), most first, scanned from the events table: the
-- rollups do not keep the build. '' is the build of sources not looked up (reserved addresses).
-- Events past their retention are gone, so the counts may fall short of the rollups'.
-- Bound parameters: from, to ('YYYY-MM-DD hh:mm:ss', UTC).
SELECT geoip_build, count() AS n
FROM events
WHERE received_at >= toDateTime(?, 'UTC') AND received_at < toDateTime(?, 'UTC')
GROUP BY geoip_build
ORDER BY n DESC, geoip_build
