// Package migrations holds spamgeo's ClickHouse schema as numbered SQL files embedded in the
// binary, and applies those a database is missing, recording each in schema_migrations.
// Every statement is written to be harmless when repeated, so an interrupted run can simply
// be started again.
package migrations

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/spamgeo/spamgeo/internal/clickhousedb"
)

//go:embed [0-9]*.sql
var files embed.FS

//go:embed ledger.sql
var ledger string

// Migration is one numbered step of the schema.
type Migration struct {
	Version    uint32
	Name       string
	Statements []string
}

var fileName = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.sql$`)

// All returns every migration in version order.
func All() ([]Migration, error) {
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range entries {
		m := fileName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration file %q is not named NNNN_name.sql", e.Name())
		}
		v, _ := strconv.ParseUint(m[1], 10, 32)
		text, err := fs.ReadFile(files, e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: uint32(v), Name: m[2], Statements: split(string(text))})
	}
	slices.SortFunc(out, func(a, b Migration) int { return int(a.Version) - int(b.Version) })
	for i, m := range out {
		if m.Version != uint32(i+1) {
			return nil, fmt.Errorf("migration %d (%s) is out of sequence", m.Version, m.Name)
		}
	}
	return out, nil
}

var lineComment = regexp.MustCompile(`(?m)--.*$`)

// split cuts a file into statements at semicolons ending a line; comments are dropped.
func split(text string) []string {
	var out []string
	for _, s := range strings.Split(lineComment.ReplaceAllString(text, ""), ";\n") {
		if s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), ";")); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Migrator applies migrations to one database.
type Migrator struct {
	cfg    clickhousedb.Configuration
	logger *slog.Logger
}

// New returns a Migrator for the database cfg names.
func New(cfg clickhousedb.Configuration, logger *slog.Logger) *Migrator {
	return &Migrator{cfg: cfg, logger: logger}
}

// Pending returns the migrations the database lacks. A database that does not exist yet lacks all.
func (m *Migrator) Pending(ctx context.Context) ([]Migration, error) {
	all, err := All()
	if err != nil {
		return nil, err
	}
	conn, err := m.cfg.OpenServer(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var exists uint8
	if err := conn.QueryRow(ctx, "SELECT count() > 0 FROM system.tables WHERE database = ? AND name = 'schema_migrations'",
		m.cfg.Database).Scan(&exists); err != nil {
		return nil, fmt.Errorf("look for schema_migrations: %w", err)
	}
	if exists == 0 {
		return all, nil
	}
	rows, err := conn.Query(ctx, fmt.Sprintf("SELECT DISTINCT version FROM %s.schema_migrations", m.cfg.Database))
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	applied := map[uint32]bool{}
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var pending []Migration
	for _, mig := range all {
		if !applied[mig.Version] {
			pending = append(pending, mig)
		}
	}
	return pending, nil
}

// Apply creates the database if needed and applies every pending migration in order,
// returning those it applied. Applying to an up-to-date database changes nothing.
func (m *Migrator) Apply(ctx context.Context) ([]Migration, error) {
	pending, err := m.Pending(ctx)
	if err != nil || len(pending) == 0 {
		return nil, err
	}
	server, err := m.cfg.OpenServer(ctx)
	if err != nil {
		return nil, err
	}
	err = server.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+m.cfg.Database)
	server.Close()
	if err != nil {
		return nil, fmt.Errorf("create database %s: %w", m.cfg.Database, err)
	}
	conn, err := m.cfg.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if err := conn.Exec(ctx, ledger); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	var applied []Migration
	for _, mig := range pending {
		for i, stmt := range mig.Statements {
			if err := conn.Exec(ctx, stmt); err != nil {
				return applied, fmt.Errorf("migration %04d_%s, statement %d: %w", mig.Version, mig.Name, i+1, err)
			}
		}
		if err := record(ctx, conn, mig); err != nil {
			return applied, fmt.Errorf("record migration %d: %w", mig.Version, err)
		}
		m.logger.Info("migration applied", "database", m.cfg.Database, "version", mig.Version, "name", mig.Name)
		applied = append(applied, mig)
	}
	return applied, nil
}

// record notes mig in schema_migrations. It is a native batch insert: ClickHouse 18.16 does
// not answer an INSERT sent as a plain query with its values inlined.
func record(ctx context.Context, conn clickhousedb.Conn, mig Migration) error {
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO schema_migrations (version, name)")
	if err != nil {
		return err
	}
	if err := batch.Append(mig.Version, mig.Name); err != nil {
		return err
	}
	return batch.Send()
}
