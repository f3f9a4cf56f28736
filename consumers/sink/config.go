package sink

import (
	"fmt"
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
	// Table receives the rows: "events", or "events_local" on a cluster (see
	// clickhousedb.Configuration.EventsTable).
	Table string
}

// maxBlockRows is ClickHouse's max_insert_block_size: a larger insert is split into several
// blocks, and the exactly-once argument needs each insert to be one block.
const maxBlockRows = 1_048_576

// Validate checks the batch policy.
func (c Configuration) Validate() error {
	if c.Batch.MaxMessages < 1 || c.Batch.MaxMessages > maxBlockRows {
		return fmt.Errorf("batch rows %d must be between 1 and %d (one ClickHouse insert block)", c.Batch.MaxMessages, maxBlockRows)
	}
	if c.Table != "events" && c.Table != "events_local" {
		return fmt.Errorf("table %q is neither events nor events_local", c.Table)
	}
	if c.Batch.MaxWait <= 0 {
		return fmt.Errorf("batch wait %s must be positive", c.Batch.MaxWait)
	}
	return nil
}

// DefaultConfiguration follows ClickHouse's advice on insert sizes.
func DefaultConfiguration() Configuration {
	return Configuration{
		Group: "spamgeo-sink",
		Batch: kafka.BatchPolicy{MaxMessages: 50_000, MaxWait: time.Second},
		Table: "events",
	}
}
