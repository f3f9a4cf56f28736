package migrations

import (
	"fmt"
	"regexp"
	"strings"
)

// Cluster mode turns the single-server schema into a sharded, replicated one without a second
// copy of the migrations: each statement is rewritten by the rules below.
//
//   - a table T becomes T_local on every server (Replicated*MergeTree, one ZooKeeper path per
//     shard, replicas named by the {shard} and {replica} macros) and T, a Distributed table over
//     the T_local tables, for reads. Writers (the sink) insert into events_local of the server
//     they are connected to; the materialized views fill that server's *_local rollups.
//   - materialized views read and write *_local tables; plain views read the Distributed ones.
//   - DDL carries ON CLUSTER, so ClickHouse applies it on every server through ZooKeeper. The
//     servers run it in their default database, so every table a statement names is qualified
//     with the database.
//   - a backfill (INSERT ... SELECT) runs once per shard, on the shard's local tables, and its
//     check looks at that shard's local tables.
//   - schema_migrations is one replicated table shared by every server of the cluster.
//
// A statement of a shape the rules do not know is an error, so a new migration cannot
// silently skip cluster mode.

var (
	createTable = regexp.MustCompile(`^CREATE TABLE IF NOT EXISTS (\w+)\s*\(`)
	engine      = regexp.MustCompile(`ENGINE = (\w*)MergeTree\b`)
	createMV    = regexp.MustCompile(`^CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+) TO (\w+) AS`)
	createView  = regexp.MustCompile(`^CREATE VIEW IF NOT EXISTS (\w+) AS`)
	alterTable  = regexp.MustCompile(`^ALTER TABLE (\w+) (ADD COLUMN .*)$`)
	insertInto  = regexp.MustCompile(`^INSERT INTO (\w+)\s`)
	dropTable   = regexp.MustCompile(`^DROP TABLE (?:IF EXISTS )?(\w+)$`)
	fromTable   = regexp.MustCompile(`\b(FROM|JOIN) (\w+)\b`)
)

// toCluster rewrites one step for cluster mode; tables are the names of tables (not views)
// created so far, which get a _local twin.
func toCluster(s Step, database, cluster string, tables map[string]bool) ([]Statement, error) {
	on := " ON CLUSTER " + cluster
	// qualify names the database of every table a query reads, and with toLocal reads the
	// local tables instead of the Distributed ones.
	qualify := func(sql string, toLocal bool) string {
		return fromTable.ReplaceAllStringFunc(sql, func(m string) string {
			parts := fromTable.FindStringSubmatch(m)
			if !tables[parts[2]] {
				return m
			}
			name := database + "." + parts[2]
			if toLocal {
				name += "_local"
			}
			return parts[1] + " " + name
		})
	}
	local := func(sql string) string { return qualify(sql, true) }
	sql := s.SQL
	switch {
	case createTable.MatchString(sql):
		name := createTable.FindStringSubmatch(sql)[1]
		em := engine.FindStringSubmatch(sql)
		if em == nil {
			return nil, fmt.Errorf("table %s: cluster mode knows only *MergeTree engines", name)
		}
		tables[name] = true
		path := fmt.Sprintf("'/clickhouse/tables/{shard}/%s/%s_local', '{replica}'", database, name)
		localSQL := createTable.ReplaceAllString(sql, "CREATE TABLE IF NOT EXISTS "+name+"_local"+on+" (")
		localSQL = engine.ReplaceAllString(localSQL, "ENGINE = Replicated${1}MergeTree("+path+")")
		return []Statement{
			{Step: Step{Check: s.Check, SQL: localSQL}},
			{Step: Step{Check: s.Check, SQL: distributed(name, database, cluster)}},
		}, nil
	case createMV.MatchString(sql):
		m := createMV.FindStringSubmatch(sql)
		rest := strings.TrimPrefix(sql, m[0])
		return []Statement{{Step: Step{Check: s.Check,
			SQL: fmt.Sprintf("CREATE MATERIALIZED VIEW IF NOT EXISTS %s%s TO %s.%s_local AS%s", m[1], on, database, m[2], local(rest))}}}, nil
	case createView.MatchString(sql):
		m := createView.FindStringSubmatch(sql)
		return []Statement{{Step: Step{Check: s.Check,
			SQL: fmt.Sprintf("CREATE VIEW IF NOT EXISTS %s%s AS%s", m[1], on, qualify(strings.TrimPrefix(sql, m[0]), false))}}}, nil
	case alterTable.MatchString(sql):
		m := alterTable.FindStringSubmatch(sql)
		if !tables[m[1]] {
			return nil, fmt.Errorf("ALTER of %s, which is not a table", m[1])
		}
		// ClickHouse refuses ALTER ... ON CLUSTER of a Distributed table on replicated shards;
		// it holds no data, so it is created again with the new columns instead.
		return []Statement{
			{Step: Step{Check: local(s.Check), SQL: fmt.Sprintf("ALTER TABLE %s_local%s %s", m[1], on, m[2])}},
			{Step: Step{Check: s.Check, SQL: fmt.Sprintf("DROP TABLE IF EXISTS %s%s", m[1], on)}},
			{Step: Step{Check: s.Check, SQL: distributed(m[1], database, cluster)}},
		}, nil
	case insertInto.MatchString(sql):
		m := insertInto.FindStringSubmatch(sql)
		if !tables[m[1]] {
			return nil, fmt.Errorf("INSERT into %s, which is not a table", m[1])
		}
		return []Statement{{PerShard: true, Step: Step{Check: local(s.Check),
			SQL: local(strings.Replace(sql, "INSERT INTO "+m[1], "INSERT INTO "+m[1]+"_local", 1))}}}, nil
	case dropTable.MatchString(sql):
		name := dropTable.FindStringSubmatch(sql)[1]
		steps := []Statement{{Step: Step{Check: s.Check, SQL: fmt.Sprintf("DROP TABLE IF EXISTS %s%s", name, on)}}}
		if tables[name] {
			delete(tables, name)
			steps = append(steps, Statement{Step: Step{Check: s.Check, SQL: fmt.Sprintf("DROP TABLE IF EXISTS %s_local%s", name, on)}})
		}
		return steps, nil
	}
	return nil, fmt.Errorf("cluster mode has no rule for %.60q", sql)
}

// distributed creates the Distributed table that reads name_local on every shard.
func distributed(name, database, cluster string) string {
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s ON CLUSTER %s AS %s.%s_local ENGINE = Distributed(%s, %s, %s_local, rand())",
		name, cluster, database, name, cluster, database, name)
}

// clusterLedger is schema_migrations shared by every server of a cluster.
func clusterLedger(database, cluster string) string {
	return engine.ReplaceAllString(
		strings.Replace(ledger, "CREATE TABLE IF NOT EXISTS schema_migrations", "CREATE TABLE IF NOT EXISTS schema_migrations ON CLUSTER "+cluster, 1),
		fmt.Sprintf("ENGINE = Replicated${1}MergeTree('/clickhouse/tables/all/%s/schema_migrations', '{shard}-{replica}')", database))
}
