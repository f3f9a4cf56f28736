// Package exportschema holds the Arrow schemas of `spamgeo export` files (Arrow IPC and
// Parquet): Events, one row per stored event (the events table minus the Kafka bookkeeping), and
// CountryDays, one row per day and country from the rollups. They are part of spamgeo's contract
// like the event schema: columns are only ever added.
package exportschema

import "github.com/apache/arrow/go/v15/arrow"

// Events is the schema of an events export. Metadata key "spamgeo.schema" names its version.
var Events = arrow.NewSchema([]arrow.Field{
	{Name: "event_id", Type: arrow.BinaryTypes.String},                                          // UUID, canonical text
	{Name: "received_at", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}}, // when the trap received it (whole seconds; ms because Parquet has no seconds)
	{Name: "trap_id", Type: arrow.BinaryTypes.String},                                           // trap that caught it
	{Name: "collector", Type: arrow.BinaryTypes.String},                                         // trap, replay or synth
	{Name: "source_ip", Type: arrow.BinaryTypes.String},                                         // IPv4 dotted or IPv6 text
	{Name: "helo", Type: arrow.BinaryTypes.String},                                              // HELO/EHLO name as sent
	{Name: "mail_from", Type: arrow.BinaryTypes.String},                                         // envelope sender
	{Name: "rcpt_count", Type: arrow.PrimitiveTypes.Uint16},                                     // accepted recipients
	{Name: "size", Type: arrow.PrimitiveTypes.Uint32},                                           // bytes as received
	{Name: "country_code", Type: arrow.BinaryTypes.String},                                      // ISO 3166-1 alpha-2; ZZ unknown, XR reserved
	{Name: "continent_code", Type: arrow.BinaryTypes.String},                                    // GeoIP continent code, may be empty
	{Name: "asn", Type: arrow.PrimitiveTypes.Uint32},                                            // autonomous system, 0 unknown
	{Name: "as_org", Type: arrow.BinaryTypes.String},                                            // its organisation
	{Name: "geoip_build", Type: arrow.BinaryTypes.String},                                       // the GeoIP builds that answered
}, func() *arrow.Metadata {
	m := arrow.NewMetadata([]string{"spamgeo.schema"}, []string{"events.v1"})
	return &m
}())

// CountryDays is the schema of a per-day, per-country export read from the day rollup: one row
// per day, country and continent.
var CountryDays = arrow.NewSchema([]arrow.Field{
	{Name: "day", Type: arrow.FixedWidthTypes.Date32},        // UTC day
	{Name: "country_code", Type: arrow.BinaryTypes.String},   // as in Events
	{Name: "continent_code", Type: arrow.BinaryTypes.String}, // as in Events
	{Name: "messages", Type: arrow.PrimitiveTypes.Uint64},    // messages that day (exact)
	{Name: "bytes", Type: arrow.PrimitiveTypes.Uint64},       // their bytes (exact)
	{Name: "sources", Type: arrow.PrimitiveTypes.Uint64},     // distinct source addresses (approximate, uniq)
}, func() *arrow.Metadata {
	m := arrow.NewMetadata([]string{"spamgeo.schema"}, []string{"country-days.v1"})
	return &m
}())
