package hosting

import "time"

// Configuration of the resolver. New uses the default of any field left at its zero value.
type Configuration struct {
	// Server is the "host:port" of the DNS server to ask, a recursive resolver. Queries go over
	// UDP and fall back to TCP when an answer is truncated. Required.
	Server string
	// Timeout bounds one query (its A and AAAA questions together). Default 2 s.
	Timeout time.Duration
	// Attempts is how many times a query is tried when it times out or the server answers
	// SERVFAIL; each try takes its own Timeout and its own rate-limit token. Default 2.
	Attempts int
	// QueriesPerSecond limits the queries sent to Server. A query is one try of one host name,
	// that is two DNS questions (A and AAAA). Cache hits and shared in-flight queries cost
	// nothing. Default 20.
	QueriesPerSecond float64
	// Burst is how many queries may go out at once before QueriesPerSecond applies. Default 5.
	Burst int
	// CacheTTL is how long an answer is reused, whatever the TTL of its records; negative
	// answers (no such name, or no addresses) are cached as long. Errors are never cached.
	// Default 1 h.
	CacheTTL time.Duration
	// MaxCacheEntries bounds the cache. When it is full, expired entries are dropped first,
	// then the oldest. Default 100,000.
	MaxCacheEntries int
}

// DefaultConfiguration returns the defaults, with no Server.
func DefaultConfiguration() Configuration {
	return Configuration{
		Timeout:          2 * time.Second,
		Attempts:         2,
		QueriesPerSecond: 20,
		Burst:            5,
		CacheTTL:         time.Hour,
		MaxCacheEntries:  100_000,
	}
}
