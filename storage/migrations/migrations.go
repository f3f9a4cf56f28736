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
	"math"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/spamgeo/spamgeo/storage/clickhousedb"
)

//go:embed [0-9]*.sql
var files embed.FS

//go:embed ledger.sql
var ledger string

// Migration is one numbered version of the schema.
type Migration struct {
	Version uint32
	Name    string
	Steps   []Step
}

// Step is one statement of a migration and, optionally, the check that decides whether it runs:
// a query returning one number, non-zero to apply. Checks make statements that ClickHouse
// cannot write idempotently (ADD COLUMN without IF NOT EXISTS on 18.16, backfills) safe to
// repeat. In a file a check is a comment line "-- apply-if: SELECT ..." before its statement.
type Step struct {
	Check string
	SQL   string
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
		steps, err := split(string(text))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		out = append(out, Migration{Version: uint32(v), Name: m[2], Steps: steps})
	}
	slices.SortFunc(out, func(a, b Migration) int { return int(a.Version) - int(b.Version) })
	for i, m := range out {
		if m.Version != uint32(i+1) {
			return nil, fmt.Errorf("migration %d (%s) is out of sequence", m.Version, m.Name)
		}
	}
	return out, nil
}

const checkPrefix = "apply-if:"

// split cuts a file into steps: a statement ends with a line whose code ends in ";"; comments
// ("--" to the end of a line; the SQL holds no "--" inside strings) are dropped, except the
// apply-if checks, which attach to the statement that follows them.
func split(text string) ([]Step, error) {
	var steps []Step
	var check string
	var stmt []string
	finish := func() {
		if sql := strings.TrimSuffix(strings.TrimSpace(strings.Join(stmt, "\n")), ";"); sql != "" {
			steps = append(steps, Step{Check: check, SQL: strings.TrimSpace(sql)})
			check = ""
		}
		stmt = nil
	}
	for _, line := range strings.Split(text, "\n") {
		code, comment, _ := strings.Cut(line, "--")
		code = strings.TrimRight(code, " \t")
		if c, ok := strings.CutPrefix(strings.TrimSpace(comment), checkPrefix); ok && strings.TrimSpace(code) == "" {
			if check != "" || len(stmt) > 0 {
				return nil, fmt.Errorf("check %q does not stand before a statement", strings.TrimSpace(c))
			}
			check = strings.TrimSpace(c)
			continue
		}
		if strings.TrimSpace(code) != "" {
			stmt = append(stmt, code)
		}
		if strings.HasSuffix(code, ";") {
			finish()
		}
	}
	finish()
	if check != "" {
		return nil, fmt.Errorf("check %q has no statement after it", check)
	}
	return steps, nil
}

// Statement is a step as the Migrator runs it: rewritten for cluster mode when there is a
// cluster, and either run once or on one server of each shard.
type Statement struct {
	Step
	PerShard bool
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
	return m.ApplyUpTo(ctx, math.MaxUint32)
}

// Statements returns what each migration runs: its steps, or in cluster mode
// (cfg.Cluster) their rewriting for a sharded, replicated schema (see cluster.go).
func (m *Migrator) Statements(all []Migration) (map[uint32][]Statement, error) {
	out := map[uint32][]Statement{}
	tables := map[string]bool{}
	for _, mig := range all {
		for i, step := range mig.Steps {
			if m.cfg.Cluster == "" {
				out[mig.Version] = append(out[mig.Version], Statement{Step: step})
				continue
			}
			st, err := toCluster(step, m.cfg.Database, m.cfg.Cluster, tables)
			if err != nil {
				return nil, fmt.Errorf("migration %04d_%s, statement %d: %w", mig.Version, mig.Name, i+1, err)
			}
			out[mig.Version] = append(out[mig.Version], st...)
		}
	}
	return out, nil
}

// ApplyUpTo is Apply stopping after the given version (upgrade tests start from old versions).
func (m *Migrator) ApplyUpTo(ctx context.Context, version uint32) ([]Migration, error) {
	all, err := All()
	if err != nil {
		return nil, err
	}
	statements, err := m.Statements(all)
	if err != nil {
		return nil, err
	}
	pending, err := m.Pending(ctx)
	if err != nil {
		return nil, err
	}
	pending = slices.DeleteFunc(pending, func(mig Migration) bool { return mig.Version > version })
	if len(pending) == 0 {
		return nil, nil
	}
	onCluster, ledgerSQL := "", ledger
	if m.cfg.Cluster != "" {
		onCluster, ledgerSQL = " ON CLUSTER "+m.cfg.Cluster, clusterLedger(m.cfg.Database, m.cfg.Cluster)
	}
	server, err := m.cfg.OpenServer(ctx)
	if err != nil {
		return nil, err
	}
	err = server.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+m.cfg.Database+onCluster)
	server.Close()
	if err != nil {
		return nil, fmt.Errorf("create database %s: %w", m.cfg.Database, err)
	}
	conn, err := m.cfg.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if err := conn.Exec(ctx, ledgerSQL); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	var shards []clickhousedb.Conn
	defer func() {
		for _, c := range shards {
			c.Close()
		}
	}()
	var applied []Migration
	for _, mig := range pending {
		for i, st := range statements[mig.Version] {
			targets := []clickhousedb.Conn{conn}
			if st.PerShard {
				if shards == nil {
					if shards, err = m.openShards(ctx, conn); err != nil {
						return applied, err
					}
				}
				targets = shards
			}
			for _, target := range targets {
				if err := m.apply(ctx, target, st.Step); err != nil {
					return applied, fmt.Errorf("migration %04d_%s, statement %d: %w", mig.Version, mig.Name, i+1, err)
				}
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

// openShards connects to the first replica of every shard of the cluster.
func (m *Migrator) openShards(ctx context.Context, conn clickhousedb.Conn) ([]clickhousedb.Conn, error) {
	rows, err := conn.Query(ctx, "SELECT host_address, port FROM system.clusters WHERE cluster = ? AND replica_num = 1 ORDER BY shard_num", m.cfg.Cluster)
	if err != nil {
		return nil, fmt.Errorf("shards of cluster %s: %w", m.cfg.Cluster, err)
	}
	defer rows.Close()
	var out []clickhousedb.Conn
	for rows.Next() {
		var host string
		var port uint16
		if err := rows.Scan(&host, &port); err != nil {
			return nil, err
		}
		cfg := m.cfg
		cfg.Addrs = []string{net.JoinHostPort(host, strconv.Itoa(int(port)))}
		c, err := cfg.Open(ctx)
		if err != nil {
			for _, o := range out {
				o.Close()
			}
			return nil, fmt.Errorf("shard at %s: %w", cfg.Addrs[0], err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("cluster %s is not in system.clusters", m.cfg.Cluster)
	}
	return out, rows.Err()
}

// apply runs a step's statement if its check (when it has one) says so.
func (m *Migrator) apply(ctx context.Context, conn clickhousedb.Conn, step Step) error {
	if step.Check != "" {
		var yes uint8
		if err := conn.QueryRow(ctx, "SELECT toUInt8(("+step.Check+") != 0)").Scan(&yes); err != nil {
			return fmt.Errorf("check %q: %w", step.Check, err)
		}
		if yes == 0 {
			m.logger.Debug("step not needed", "check", step.Check)
			return nil
		}
	}
	return conn.Exec(ctx, step.SQL)
}

// RequireCurrent returns an error unless the database conn is open on has every migration
// applied: writers refuse to run against an old schema rather than fail row by row.
func RequireCurrent(ctx context.Context, conn clickhousedb.Conn) error {
	all, err := All()
	if err != nil {
		return err
	}
	var applied uint64
	if err := conn.QueryRow(ctx, "SELECT uniqExact(version) FROM schema_migrations WHERE version <= ?",
		len(all)).Scan(&applied); err != nil {
		return fmt.Errorf("read schema_migrations (has `spamgeo migrate` run?): %w", err)
	}
	if applied != uint64(len(all)) {
		return fmt.Errorf("the database has %d of %d migrations; run `spamgeo migrate` first", applied, len(all))
	}
	return nil
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
