// Package queries holds the statements spamgeo's stages and read side send to ClickHouse, one
// file each, so that every SQL file lives under storage/ with the migrations and the retention
// template, and the modern-engine lane (tests/modern) finds them all by globbing this folder.
// Placeholders: ? is a value bound by the driver; {name} is a part the caller fills in from a
// fixed set (a table, a column, a grouping), never from input.
package queries

import _ "embed"

// The read side's: shares, series, provenance, density, the dashboard's live view (package query).
var (
	//go:embed read/address_density.sql
	AddressDensity string
	//go:embed read/country_messages_raw.sql
	CountryMessagesRaw string
	//go:embed read/extent.sql
	Extent string
	//go:embed read/geoip_builds.sql
	GeoIPBuilds string
	//go:embed read/hourly.sql
	Hourly string
	//go:embed read/series.sql
	Series string
	//go:embed read/shares.sql
	Shares string
	//go:embed read/shares_total.sql
	SharesTotal string
	//go:embed read/traps.sql
	Traps string
)

// Campaign finding and evidence (package campaign).
var (
	//go:embed campaign/fingerprints.sql
	CampaignFingerprints string
	//go:embed campaign/host_addresses.sql
	CampaignHostAddresses string
	//go:embed campaign/hosts.sql
	CampaignHosts string
	//go:embed campaign/messages.sql
	CampaignMessages string
	//go:embed campaign/traffic.sql
	CampaignTraffic string
)

// The sink's exactly-once bookkeeping (package sink).
var (
	//go:embed sink/known_events.sql
	SinkKnownEvents string
	//go:embed sink/stored_offsets.sql
	SinkStoredOffsets string
)
