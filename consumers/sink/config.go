package sink

import (
	"time"

	"github.com/spamgeo/spamgeo/internal/kafka"
)

// Configuration of the sink.
type Configuration struct {
	// Group is the Kafka consumer group; sinks sharing it share the enriched topic's partitions.
	Group string
	// Batch bounds one insert. ClickHouse favours large, infrequent inserts (thousands of rows,
	// about one insert a second or fewer), so a batch closes at 50,000 rows or 1 s after its
	// first row. Offsets are committed after the insert succeeded.
	Batch kafka.BatchPolicy
	// Drain stops the sink once the enriched topic is fully committed, instead of waiting.
	Drain bool
}

// DefaultConfiguration follows ClickHouse's advice on insert sizes.
func DefaultConfiguration() Configuration {
	return Configuration{
		Group: "spamgeo-sink",
		Batch: kafka.BatchPolicy{MaxMessages: 50_000, MaxWait: time.Second},
	}
}
