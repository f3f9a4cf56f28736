// Package testdb gives a test a ClickHouse database of its own with spamgeo's schema applied and a
// connection to it, both gone when the test ends. (Not in testenv: the migrations' own tests use
// testenv.)
package testdb

import (
	"context"
	"testing"

	"github.com/spamgeo/spamgeo/internal/testenv"
	"github.com/spamgeo/spamgeo/storage/clickhousedb"
	"github.com/spamgeo/spamgeo/storage/migrations"
)

// Migrated returns the configuration of a migrated test database and an open connection to it.
func Migrated(t testing.TB) (clickhousedb.Configuration, clickhousedb.Conn) {
	t.Helper()
	cfg := testenv.ClickHouse(t)
	ctx := context.Background()
	if _, err := migrations.New(cfg, testenv.Logger(t)).Apply(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := cfg.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return cfg, conn
}
