package migrations

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/spamgeo/spamgeo/storage/clickhousedb"
)

// Every statement of every migration has a cluster rewriting, and the rewriting follows the rules.
func TestClusterRewriting(t *testing.T) {
	cfg := clickhousedb.DefaultConfiguration()
	cfg.Cluster = "c1"
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	statements, err := New(cfg, slog.New(slog.DiscardHandler)).Statements(all)
	if err != nil {
		t.Fatal(err)
	}
	var text []string
	for _, m := range all {
		for _, s := range statements[m.Version] {
			if !s.PerShard && !strings.Contains(s.SQL, " ON CLUSTER c1") {
				t.Errorf("DDL without ON CLUSTER: %.80s", s.SQL)
			}
			if s.PerShard && !strings.HasPrefix(s.SQL, "INSERT INTO ") {
				t.Errorf("per-shard statement that is no backfill: %.80s", s.SQL)
			}
			text = append(text, s.SQL+" | "+s.Check)
		}
	}
	joined := strings.Join(text, "\n")
	for _, want := range []string{
		"CREATE TABLE IF NOT EXISTS events_local ON CLUSTER c1 (",
		"ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/spamgeo/events_local', '{replica}')",
		"CREATE TABLE IF NOT EXISTS events ON CLUSTER c1 AS spamgeo.events_local ENGINE = Distributed(c1, spamgeo, events_local, rand())",
		"ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/spamgeo/rollup_country_day_local', '{replica}')",
		"CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_country_day_mv ON CLUSTER c1 TO spamgeo.rollup_country_day_local AS",
		"FROM spamgeo.events_local GROUP BY t, trap_id, country_code, continent_code",
		"ALTER TABLE events_local ON CLUSTER c1 ADD COLUMN kafka_topic String",
		"DROP TABLE IF EXISTS events ON CLUSTER c1",
		"INSERT INTO rollup_asn_day_local\n",
		"| SELECT (SELECT count() FROM spamgeo.rollup_asn_day_local) = 0 AND (SELECT count() FROM spamgeo.events_local) > 0",
		"DROP TABLE IF EXISTS daily_country_local ON CLUSTER c1",
		"CREATE VIEW IF NOT EXISTS daily_country ON CLUSTER c1 AS",
		"FROM spamgeo.rollup_country_day\n", // plain views read the Distributed tables
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("cluster statements lack %q", want)
		}
	}
	if l := clusterLedger("spamgeo", "c1"); !strings.Contains(l, "schema_migrations ON CLUSTER c1") ||
		!strings.Contains(l, "ReplicatedMergeTree('/clickhouse/tables/all/spamgeo/schema_migrations', '{shard}-{replica}')") {
		t.Errorf("cluster ledger:\n%s", l)
	}
	if _, err := toCluster(Step{SQL: "RENAME TABLE a TO b"}, "db", "c1", map[string]bool{}); err == nil {
		t.Error("a statement without a rule was accepted")
	}
}
