// Package clickhousedb opens connections to ClickHouse over the native protocol with
// github.com/ClickHouse/clickhouse-go/v2, for every stage that reads or writes the statistics.
package clickhousedb

import (
	"context"
	"crypto/tls"
	"fmt"
	"regexp"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Conn is a ClickHouse connection pool.
type Conn = driver.Conn

// Configuration says where ClickHouse is and which database holds spamgeo's tables.
type Configuration struct {
	// Addrs are native-protocol addresses, host:port; several are tried in turn.
	Addrs []string
	// Database holds spamgeo's tables; `spamgeo migrate` creates it.
	Database string
	// Username and Password authenticate; the default user has no password.
	Username string
	Password string
	// TLS, when not nil, encrypts the connections; Addrs then name the secure native port
	// (tcp_port_secure, 9440 by convention).
	TLS *tls.Config
	// DialTimeout bounds each connection attempt.
	DialTimeout time.Duration
	// Cluster, when set, names the ClickHouse cluster (remote_servers) spamgeo's schema spans:
	// replicated *_local tables on every server, Distributed tables over them for reads.
	Cluster string
}

// EventsTable is where writers insert: the events table, or on a cluster the local table of
// the server they are connected to.
func (c Configuration) EventsTable() string {
	if c.Cluster != "" {
		return "events_local"
	}
	return "events"
}

// DefaultConfiguration points at a local server.
func DefaultConfiguration() Configuration {
	return Configuration{
		Addrs:       []string{"127.0.0.1:9000"},
		Database:    "spamgeo",
		Username:    "default",
		DialTimeout: 5 * time.Second,
	}
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate checks what would otherwise fail late or end up in SQL text.
func (c Configuration) Validate() error {
	if len(c.Addrs) == 0 {
		return fmt.Errorf("no ClickHouse address configured")
	}
	if !identifier.MatchString(c.Database) {
		return fmt.Errorf("database name %q must be letters, digits and underscores", c.Database)
	}
	if c.Cluster != "" && !identifier.MatchString(c.Cluster) {
		return fmt.Errorf("cluster name %q must be letters, digits and underscores", c.Cluster)
	}
	return nil
}

// Open connects to c.Database and checks that the server answers.
func (c Configuration) Open(ctx context.Context) (Conn, error) {
	return c.open(ctx, c.Database)
}

// OpenServer connects without selecting spamgeo's database, which may not exist yet.
func (c Configuration) OpenServer(ctx context.Context) (Conn, error) {
	return c.open(ctx, "default")
}

func (c Configuration) open(ctx context.Context, database string) (Conn, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:        c.Addrs,
		Auth:        clickhouse.Auth{Database: database, Username: c.Username, Password: c.Password},
		TLS:         c.TLS,
		DialTimeout: c.DialTimeout,
		Compression: &clickhouse.Compression{Method: clickhouse.CompressionLZ4},
	})
	if err != nil {
		return nil, fmt.Errorf("clickhouse at %v: %w", c.Addrs, err)
	}
	pctx, cancel := context.WithTimeout(ctx, c.DialTimeout)
	defer cancel()
	if err := conn.Ping(pctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("clickhouse at %v: %w", c.Addrs, err)
	}
	return conn, nil
}
