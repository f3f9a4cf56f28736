// Package kafka holds the Kafka plumbing every spamgeo stage shares: broker and topic settings,
// writers that only return once all in-sync replicas hold a message, consumer-group readers,
// the fetch-batch-commit loop of the consumers, the dead-letter format and consumer lag. It
// wraps github.com/segmentio/kafka-go; stages never configure kafka-go themselves.
package kafka

import (
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// Configuration is where the brokers are and how spamgeo's topics are named and created.
type Configuration struct {
	// Brokers are the bootstrap addresses, host:port.
	Brokers []string
	// RawTopic receives one raw event per trapped message, keyed by source IP.
	RawTopic string
	// EnrichedTopic receives the enriched events.
	EnrichedTopic string
	// DLQTopic receives messages a stage could not use, with the reason in headers, cut to a
	// bounded stub when large (see DeadLetterQueue).
	DLQTopic string
	// Partitions is the partition count of topics spamgeo creates; existing topics are left as they are.
	Partitions int
	// ReplicationFactor of topics spamgeo creates.
	ReplicationFactor int

	// Set by Secure: the connections of a cluster that wants TLS or SASL.
	transport *kafkago.Transport
	dialer    *kafkago.Dialer
}

// DefaultConfiguration points at a local single broker.
func DefaultConfiguration() Configuration {
	return Configuration{
		Brokers:           []string{"127.0.0.1:9092"},
		RawTopic:          "spamgeo.raw",
		EnrichedTopic:     "spamgeo.enriched",
		DLQTopic:          "spamgeo.dlq",
		Partitions:        6,
		ReplicationFactor: 1,
	}
}

// BatchPolicy bounds the batches a Consumer hands to its stage.
type BatchPolicy struct {
	// MaxMessages is the most messages in one batch.
	MaxMessages int
	// MaxWait is how long a batch stays open after its first message before it is handed on
	// partly full.
	MaxWait time.Duration
}
