package enrich

import (
	"time"

	"github.com/spamgeo/spamgeo/internal/geoip"
	"github.com/spamgeo/spamgeo/internal/kafka"
	"github.com/spamgeo/spamgeo/storage/clickhousedb"
)

// Configuration of the enricher.
type Configuration struct {
	// Group is the Kafka consumer group; enrichers sharing it share the raw topic's partitions.
	Group string
	// Batch bounds how many raw events are enriched and written together. Offsets are committed
	// per batch, after the enriched and dead-lettered events are acknowledged.
	Batch kafka.BatchPolicy
	// GeoIP names the database files (or directories of dated builds).
	GeoIP geoip.Configuration
	// ReloadInterval is how often the database files are checked for changes.
	ReloadInterval time.Duration
	// Drain stops the enricher once the raw topic is fully committed, instead of waiting.
	Drain bool
	// AddressSpace, when set, is where the address space of every build the enricher loads or
	// reloads is stored (table address_space), checked every ReloadInterval; nil stores nothing.
	AddressSpace *clickhousedb.Configuration
}

// DefaultConfiguration batches up to 5,000 events or 100 ms.
func DefaultConfiguration() Configuration {
	return Configuration{
		Group:          "spamgeo-enrich",
		Batch:          kafka.BatchPolicy{MaxMessages: 5000, MaxWait: 100 * time.Millisecond},
		ReloadInterval: time.Minute,
	}
}
