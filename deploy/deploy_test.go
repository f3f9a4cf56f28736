// Package deploy holds the local-server scripts; this test checks their contract on real
// servers: start waits until the server answers, a second start is a no-op, status tells, and
// stop stops the very process start launched, freeing its ports.
package deploy

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func script(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("./"+name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func listening(port int) bool {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
	if err == nil {
		c.Close()
	}
	return err == nil
}

func TestServerScriptsOnRealServers(t *testing.T) {
	if os.Getenv("SPAMGEO_INTEGRATION") != "1" {
		t.Skip("starts real servers; runs under make test (SPAMGEO_INTEGRATION=1)")
	}
	local := t.TempDir()
	for _, s := range []struct {
		script string
		ports  []int
		env    []string
	}{
		{"clickhouse.sh", []int{19000, 18123, 19009}, []string{"CLICKHOUSE_TCP_PORT=19000", "CLICKHOUSE_HTTP_PORT=18123", "CLICKHOUSE_INTERSERVER_PORT=19009"}},
		{"kafka.sh", []int{19092, 19093}, []string{"KAFKA_PORT=19092", "KAFKA_CONTROLLER_PORT=19093", "KAFKA_HEAP=256m"}},
	} {
		t.Run(s.script, func(t *testing.T) {
			env := append([]string{"SPAMGEO_LOCAL=" + local}, s.env...)
			if out, err := script(t, env, s.script, "status"); err == nil {
				t.Fatalf("status before start succeeded: %s", out)
			}
			out, err := script(t, env, s.script, "start")
			t.Cleanup(func() { script(t, env, s.script, "stop") })
			if err != nil {
				t.Fatalf("start: %v\n%s", err, out)
			}
			for _, p := range s.ports {
				if !listening(p) {
					t.Errorf("start returned but nothing listens on %d", p)
				}
			}
			if !strings.Contains(out, "logs in "+local) {
				t.Errorf("start does not say where its logs are: %s", out)
			}
			if out, err := script(t, env, s.script, "start"); err != nil || !strings.Contains(out, "already running") {
				t.Errorf("second start: %v %s", err, out)
			}
			if out, err := script(t, env, s.script, "status"); err != nil || !strings.Contains(out, "running (pid") {
				t.Errorf("status: %v %s", err, out)
			}
			if out, err := script(t, env, s.script, "stop"); err != nil {
				t.Fatalf("stop: %v %s", err, out)
			}
			for _, p := range s.ports {
				if listening(p) {
					t.Errorf("port %d still open after stop: the recorded PID was not the server's", p)
				}
			}
		})
	}
}
