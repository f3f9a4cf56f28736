package validate

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"
)

// loadCompose loads a compose file as docker compose does (compose-go: the Compose
// specification's JSON schema, interpolation of the defaults, merges, paths made absolute),
// with every profile enabled and no variable set.
func loadCompose(t *testing.T, path string) (*types.Project, error) {
	t.Helper()
	return loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  filepath.Dir(path),
		ConfigFiles: []types.ConfigFile{{Filename: path}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) {
		o.SetProjectName("spamgeo", true)
		o.Profiles = []string{"*"}
	})
}

func composeSite(t *testing.T) *types.Project {
	t.Helper()
	p, err := loadCompose(t, repoPath(t, "deploy", "compose", "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, ok := p.Services[name]
	if !ok {
		t.Fatalf("compose: no service %s", name)
	}
	return s
}

// mount is the source of the bind mount of s at target.
func mount(t *testing.T, s types.ServiceConfig, target string) string {
	t.Helper()
	for _, v := range s.Volumes {
		if v.Target == target {
			return v.Source
		}
	}
	t.Fatalf("compose: %s mounts nothing at %s", s.Name, target)
	return ""
}

// The site's Kafka is the version the tests run against: the one deploy/kafka/pom.xml pins.
func TestComposeKafkaIsTheTestedVersion(t *testing.T) {
	b, err := os.ReadFile(repoPath(t, "deploy", "kafka", "pom.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var pom struct {
		Version string `xml:"properties>kafka.version"`
	}
	if err := xml.Unmarshal(b, &pom); err != nil || pom.Version == "" {
		t.Fatalf("deploy/kafka/pom.xml: no kafka.version (%v)", err)
	}
	if got, want := service(t, composeSite(t), "kafka").Image, "apache/kafka:"+pom.Version; got != want {
		t.Errorf("kafka image %s, want %s (the version deploy/kafka.sh runs in the tests)", got, want)
	}
}

// Every spamgeo role runs the image with the one settings file of the site and the ClickHouse
// password as a secret file; each long-running one is scraped on its metrics port.
func TestComposeSpamgeoRoles(t *testing.T) {
	p := composeSite(t)
	cfg := siteSettings(t)
	config := repoPath(t, "deploy", "config", "spamgeo.yaml")
	if got := p.Configs["spamgeo"].File; got != config {
		t.Errorf("config spamgeo is %s, not %s", got, config)
	}
	secret := cfg.str(t, "clickhouse-password-file")
	for _, role := range []string{"migrate", "trap", "enrich", "sink", "serve"} {
		s := service(t, p, role)
		if !slices.Equal(s.Command, []string{role}) {
			t.Errorf("%s: command %v", role, s.Command)
		}
		if s.Image != p.Services["migrate"].Image || s.Build == nil {
			t.Errorf("%s: image %q, build %v: not the one spamgeo image built here", role, s.Image, s.Build)
		}
		path := s.Environment["SPAMGEO_CONFIG"]
		if path == nil || len(s.Configs) != 1 || s.Configs[0].Source != "spamgeo" || s.Configs[0].Target != *path {
			t.Errorf("%s: SPAMGEO_CONFIG %v and configs %+v: the settings file is not where spamgeo reads it", role, path, s.Configs)
		}
		if len(s.Secrets) != 1 || s.Secrets[0].Source != "clickhouse_password" || "/run/secrets/"+s.Secrets[0].Source != secret {
			t.Errorf("%s: secrets %+v, spamgeo.yaml reads %s", role, s.Secrets, secret)
		}
		if !s.ReadOnly {
			t.Errorf("%s: root file system writable", role)
		}
	}
	if r := service(t, p, "enrich").Deploy; r == nil || r.Replicas == nil || *r.Replicas < 2 {
		t.Errorf("enrich replicas %+v, want several", r)
	}
	trap := service(t, p, "trap")
	if len(trap.Ports) != 1 || trap.Ports[0].Published != "25" || int(trap.Ports[0].Target) != cfg.port(t, "trap-listen") {
		t.Errorf("trap ports %+v, want 25 published to trap-listen's port", trap.Ports)
	}
	if got := mount(t, trap, "/var/spool/spamgeo"); got != "trap-spool" || cfg.str(t, "trap-spool-dir") != "/var/spool/spamgeo" {
		t.Errorf("trap spool: volume %s, spool-dir %s", got, cfg.str(t, "trap-spool-dir"))
	}
	// The GeoIP files where the enrich flags' defaults look, written there by geoipupdate.
	enrichGeoIP := mount(t, service(t, p, "enrich"), "/var/lib/GeoIP")
	update := service(t, p, "geoipupdate")
	if dir := update.Environment["GEOIPUPDATE_DB_DIR"]; dir == nil || mount(t, update, *dir) != enrichGeoIP {
		t.Errorf("geoipupdate writes to %v, enrich reads %s", dir, enrichGeoIP)
	}
	for _, v := range []string{"GEOIPUPDATE_ACCOUNT_ID_FILE", "GEOIPUPDATE_LICENSE_KEY_FILE"} {
		if f := update.Environment[v]; f == nil || !strings.HasPrefix(*f, "/run/secrets/") {
			t.Errorf("geoipupdate %s = %v, want a secret file", v, f)
		}
	}
	if !slices.Equal(update.Profiles, []string{"geoipupdate"}) {
		t.Errorf("geoipupdate profiles %v: it should be optional", update.Profiles)
	}
}

// Secrets are files, never values in the compose file or its environment.
func TestComposeSecretsAreFiles(t *testing.T) {
	p := composeSite(t)
	for name, s := range p.Secrets {
		if s.File == "" || s.Environment != "" || s.Content != "" {
			t.Errorf("secret %s: %+v, want a file", name, s)
		}
	}
	for _, s := range p.Services {
		for k, v := range s.Environment {
			if regexp.MustCompile(`PASSWORD|LICENSE_KEY|SECRET`).MatchString(k) && (!strings.HasSuffix(k, "FILE") || v == nil || !strings.HasPrefix(*v, "/run/secrets/")) {
				t.Errorf("%s: %s is set in the compose file, not read from a secret file", s.Name, k)
			}
		}
	}
}

// Every file the site mounts from the repository is there, and Grafana's are deploy/grafana's.
func TestComposeMountsRepositoryFiles(t *testing.T) {
	p := composeSite(t)
	for _, s := range p.Services {
		for _, v := range s.Volumes {
			if v.Type != types.VolumeTypeBind || v.Source == repoPath(t, "deploy", "compose", "geoip") {
				continue
			}
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("%s mounts %s: %v", s.Name, v.Source, err)
			}
		}
	}
	for name, c := range p.Configs {
		if _, err := os.Stat(c.File); err != nil {
			t.Errorf("config %s: %v", name, err)
		}
	}

	grafana := service(t, p, "grafana")
	if got := grafana.Environment["GF_PLUGINS_PREINSTALL_SYNC"]; got == nil || *got != "grafana-clickhouse-datasource" {
		t.Errorf("grafana installs plugins %v", got)
	}
	if got, want := mount(t, grafana, "/etc/grafana/provisioning/dashboards"), repoPath(t, "deploy", "grafana", "provisioning", "dashboards"); got != want {
		t.Errorf("grafana dashboard provisioning from %s, not %s", got, want)
	}
	var providers struct {
		Providers []struct{ Options struct{ Path string } }
	}
	readYAML(t, repoPath(t, "deploy", "grafana", "provisioning", "dashboards", "spamgeo.yaml"), &providers)
	for _, pr := range providers.Providers {
		if got, want := mount(t, grafana, pr.Options.Path), repoPath(t, "deploy", "grafana", "dashboards"); got != want {
			t.Errorf("grafana loads dashboards from %s, mounted from %s, not %s", pr.Options.Path, got, want)
		}
	}

	// The datasources are deploy/grafana's, with the site's hosts: the same names, uids and types,
	// and every uid a dashboard names among them.
	type datasources struct {
		Datasources []struct {
			Name, UID, Type, URL string
			JSONData             map[string]any `yaml:"jsonData"`
			SecureJSONData       map[string]any `yaml:"secureJsonData"`
		}
	}
	var local, site datasources
	readYAML(t, repoPath(t, "deploy", "grafana", "provisioning", "datasources", "spamgeo.yaml"), &local)
	readYAML(t, mount(t, grafana, "/etc/grafana/provisioning/datasources/spamgeo.yaml"), &site)
	key := func(d datasources) (out []string) {
		for _, s := range d.Datasources {
			out = append(out, s.Name+"|"+s.UID+"|"+s.Type)
		}
		return out
	}
	if !slices.Equal(key(local), key(site)) {
		t.Errorf("compose datasources %v differ from deploy/grafana's %v", key(site), key(local))
	}
	for _, uid := range dashboardDatasources(t) {
		if !slices.ContainsFunc(key(site), func(k string) bool { return strings.Contains(k, "|"+uid+"|") }) {
			t.Errorf("a dashboard uses datasource %s, which compose does not provision", uid)
		}
	}
	cfg := siteSettings(t)
	for _, d := range site.Datasources {
		switch d.Type {
		case "grafana-clickhouse-datasource":
			addr := d.JSONData["host"].(string) + ":" + strconv.Itoa(d.JSONData["port"].(int))
			if !slices.Contains(cfg.list(t, "clickhouse-addr"), addr) || d.JSONData["username"] != cfg.str(t, "clickhouse-user") ||
				d.SecureJSONData["password"] != "$__file{"+cfg.str(t, "clickhouse-password-file")+"}" {
				t.Errorf("ClickHouse datasource %s as %v: not the site's server, user and password file", addr, d.JSONData["username"])
			}
		case "prometheus":
			if d.URL != "http://prometheus:9090" {
				t.Errorf("Prometheus datasource at %s", d.URL)
			}
		}
	}
	if !slices.ContainsFunc(grafana.Secrets, func(s types.ServiceSecretConfig) bool { return s.Source == "clickhouse_password" }) {
		t.Error("grafana lacks the ClickHouse password secret")
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// dashboardDatasources are the datasource uids the dashboards of deploy/grafana name.
func dashboardDatasources(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob(repoPath(t, "deploy", "grafana", "dashboards", "*.json"))
	var uids []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ds, ok := v["datasource"].(map[string]any); ok {
				if uid, ok := ds["uid"].(string); ok && !slices.Contains(uids, uid) {
					uids = append(uids, uid)
				}
			}
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var dash any
		if err := json.Unmarshal(b, &dash); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		walk(dash)
	}
	if len(uids) == 0 {
		t.Fatal("no datasource in the dashboards")
	}
	return uids
}

// Prometheus scrapes every long-running role, all its replicas (DNS), on the port the settings
// give it; promtool, Prometheus's own checker, accepts the file.
func TestComposePrometheus(t *testing.T) {
	p := composeSite(t)
	cfg := siteSettings(t)
	file := p.Configs["prometheus"].File
	var prom struct {
		ScrapeConfigs []struct {
			DNSSDConfigs []struct {
				Names []string
				Type  string
				Port  int
			} `yaml:"dns_sd_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, file, &prom)
	scraped := map[string]int{}
	for _, sc := range prom.ScrapeConfigs {
		for _, d := range sc.DNSSDConfigs {
			for _, n := range d.Names {
				scraped[n] = d.Port
			}
		}
	}
	for role, key := range longRunning {
		service(t, p, role)
		if got, want := scraped[role], cfg.port(t, key); got != want {
			t.Errorf("Prometheus scrapes %s on port %d, its %s is port %d", role, got, key, want)
		}
	}
	if prom := service(t, p, "prometheus"); len(prom.Configs) != 2 || prom.Configs[0].Target != "/etc/prometheus/prometheus.yml" ||
		prom.Configs[1].Target != "/etc/prometheus/alerts.yml" || p.Configs["prometheus_alerts"].File != filepath.Join(filepath.Dir(file), "..", "prometheus", "alerts.yml") {
		t.Errorf("prometheus configs %+v (the alert rules beside prometheus.yml)", prom.Configs)
	}
	// Checked as the container sees it: every config of the service at its target's name.
	etc := t.TempDir()
	for _, c := range service(t, p, "prometheus").Configs {
		text, err := os.ReadFile(p.Configs[c.Source].File)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(etc, filepath.Base(c.Target)), text, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := promtool(t, filepath.Join(etc, "prometheus.yml")); err != nil {
		t.Errorf("promtool check config: %v\n%s", err, out)
	}
}

func promtool(t *testing.T, file string) ([]byte, error) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is needed: deploy/promtool.sh install")
	}
	return exec.Command(path, "check", "config", file).CombinedOutput()
}

// clickhouseXML is the part of ClickHouse's configuration the site sets.
type clickhouseXML struct {
	Zookeeper []struct {
		Host string `xml:"host"`
		Port int    `xml:"port"`
	} `xml:"zookeeper>node"`
	DDLPath       string `xml:"distributed_ddl>path"`
	RemoteServers struct {
		Clusters []struct {
			XMLName xml.Name
			Shards  []struct {
				InternalReplication bool `xml:"internal_replication"`
				Replicas            []struct {
					Host     string `xml:"host"`
					Port     int    `xml:"port"`
					User     string `xml:"user"`
					Password struct {
						FromEnv string `xml:"from_env,attr"`
					} `xml:"password"`
				} `xml:"replica"`
			} `xml:"shard"`
		} `xml:",any"`
	} `xml:"remote_servers"`
	Macros struct {
		Shard   string `xml:"shard"`
		Replica struct {
			FromEnv string `xml:"from_env,attr"`
		} `xml:"replica"`
	} `xml:"macros"`
	Keeper struct {
		TCPPort int `xml:"tcp_port"`
		Servers []struct {
			Hostname string `xml:"hostname"`
		} `xml:"raft_configuration>server"`
	} `xml:"keeper_server"`
}

func readXML(t *testing.T, path string) clickhouseXML {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c clickhouseXML
	if err := xml.Unmarshal(b, &c); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

// The ClickHouse servers' cluster configuration agrees with the compose services and with the
// settings spamgeo reads: the cluster's replicas are the servers spamgeo connects to, each
// server's replica macro is its own name, Keeper is the keeper service, and the replicas reach
// each other as the user spamgeo connects as, with the password of the secret.
func TestComposeClickHouseCluster(t *testing.T) {
	p := composeSite(t)
	cfg := siteSettings(t)
	keeperService := service(t, p, "clickhouse-keeper")
	keeper := readXML(t, mount(t, keeperService, "/etc/clickhouse-keeper/keeper_config.xml"))
	if len(keeper.Keeper.Servers) != 1 || keeper.Keeper.Servers[0].Hostname != keeperService.Hostname || keeperService.Hostname != "clickhouse-keeper" {
		t.Errorf("Keeper's raft servers %+v, its service is %s", keeper.Keeper.Servers, keeperService.Hostname)
	}
	var cluster clickhouseXML
	var servers []string
	for _, name := range []string{"clickhouse-1", "clickhouse-2"} {
		s := service(t, p, name)
		file := mount(t, s, "/etc/clickhouse-server/config.d/spamgeo-cluster.xml")
		cluster = readXML(t, file)
		if s.Hostname != name {
			t.Errorf("%s: hostname %s", name, s.Hostname)
		}
		if v := s.Environment[cluster.Macros.Replica.FromEnv]; v == nil || *v != name {
			t.Errorf("%s: replica macro from $%s = %v", name, cluster.Macros.Replica.FromEnv, v)
		}
		if v := s.Environment["CLICKHOUSE_USER"]; v == nil || *v != cfg.str(t, "clickhouse-user") {
			t.Errorf("%s: CLICKHOUSE_USER %v, spamgeo connects as %s", name, v, cfg.str(t, "clickhouse-user"))
		}
		if !strings.Contains(strings.Join(s.Entrypoint, " "), "CLICKHOUSE_PASSWORD=\"$(cat "+cfg.str(t, "clickhouse-password-file")+")\"") {
			t.Errorf("%s: entrypoint %q does not read the password secret", name, s.Entrypoint)
		}
		if hc := s.HealthCheck; hc == nil || len(hc.Test) == 0 {
			t.Errorf("%s: no health check (migrate waits for it)", name)
		}
		servers = append(servers, name+":9000")
	}
	if len(cluster.Zookeeper) != 1 || cluster.Zookeeper[0].Host != keeperService.Hostname || cluster.Zookeeper[0].Port != keeper.Keeper.TCPPort {
		t.Errorf("ClickHouse's Keeper %+v, Keeper serves %s:%d", cluster.Zookeeper, keeperService.Hostname, keeper.Keeper.TCPPort)
	}
	if cluster.DDLPath == "" || cluster.Macros.Shard == "" {
		t.Errorf("distributed_ddl path %q, shard macro %q: ON CLUSTER DDL and the replicated tables need both", cluster.DDLPath, cluster.Macros.Shard)
	}
	if len(cluster.RemoteServers.Clusters) != 1 || cluster.RemoteServers.Clusters[0].XMLName.Local != cfg.str(t, "clickhouse-cluster") {
		t.Fatalf("remote_servers %+v, spamgeo's cluster is %s", cluster.RemoteServers, cfg.str(t, "clickhouse-cluster"))
	}
	var replicas []string
	for _, shard := range cluster.RemoteServers.Clusters[0].Shards {
		if !shard.InternalReplication {
			t.Error("a shard without internal_replication: the Distributed tables would write every replica themselves")
		}
		for _, r := range shard.Replicas {
			replicas = append(replicas, r.Host+":"+strconv.Itoa(r.Port))
			if r.User != cfg.str(t, "clickhouse-user") || r.Password.FromEnv != "CLICKHOUSE_PASSWORD" {
				t.Errorf("replica %s: user %q, password from $%s", r.Host, r.User, r.Password.FromEnv)
			}
		}
	}
	if !slices.Equal(replicas, servers) || !slices.Equal(replicas, cfg.list(t, "clickhouse-addr")) {
		t.Errorf("cluster replicas %v, compose servers %v, spamgeo's clickhouse-addr %v", replicas, servers, cfg.list(t, "clickhouse-addr"))
	}
}

// The checks above can fail: compose-go refuses a compose file that breaks the specification,
// and promtool a broken Prometheus configuration.
func TestComposeValidatorsRefuseBrokenCopies(t *testing.T) {
	src, err := os.ReadFile(repoPath(t, "deploy", "compose", "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string][2]string{
		"unknown service key":  {"    command: [enrich]\n", "    command: [enrich]\n    replica: 3\n"},
		"ports not a list":     {"    ports:\n      - \"25:2525\"\n", "    ports: 25\n"},
		"undefined dependency": {"      kafka: { condition: service_healthy }\n", "      kafkaa: { condition: service_healthy }\n"},
		"undefined config":     {"    - source: spamgeo\n", "    - source: spamgeoo\n"},
	} {
		broken := strings.Replace(string(src), edit[0], edit[1], 1)
		if broken == string(src) {
			t.Fatalf("%s: edit did not apply", name)
		}
		path := filepath.Join(t.TempDir(), "compose.yaml")
		if err := os.WriteFile(path, []byte(broken), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := loadCompose(t, path); err == nil {
			t.Errorf("%s: a broken compose file was accepted", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}

	prom := filepath.Join(t.TempDir(), "prometheus.yml")
	if err := os.WriteFile(prom, []byte("scrape_configs:\n  - job_name: x\n    dns_sd_configs:\n      - names: [trap]\n        type: AAAAA\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := promtool(t, prom); err == nil {
		t.Errorf("promtool accepted a broken configuration:\n%s", out)
	}
}
