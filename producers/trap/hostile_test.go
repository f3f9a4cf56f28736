package trap_test

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net"
	"net/smtp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spamgeo/spamgeo/internal/testenv"
	"github.com/spamgeo/spamgeo/producers/trap"
)

// hostile is one kind of bad client; it returns when its session is over.
type hostile struct {
	name string
	run  func(addr string, rng *rand.Rand)
}

func dial(addr string) (net.Conn, *bufio.Reader) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, nil
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(c)
	r.ReadString('\n') // greeting
	return c, r
}

func say(c net.Conn, r *bufio.Reader, line string) string {
	fmt.Fprintf(c, "%s\r\n", line)
	reply, _ := r.ReadString('\n')
	return reply
}

var hostiles = []hostile{
	{"binary garbage", func(addr string, rng *rand.Rand) {
		c, _ := dial(addr)
		if c == nil {
			return
		}
		defer c.Close()
		b := make([]byte, 1+rng.IntN(8192))
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		c.Write(b)
		c.Write([]byte("\r\nQUIT\r\n"))
		c.Read(make([]byte, 512))
	}},
	{"truncated in DATA", func(addr string, rng *rand.Rand) {
		c, r := dial(addr)
		if c == nil {
			return
		}
		defer c.Close()
		fmt.Fprintf(c, "EHLO truncated.test\r\n")
		for { // the EHLO reply has several lines
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if strings.HasPrefix(line, "250 ") {
				break
			}
		}
		say(c, r, "MAIL FROM:<a@b.test>")
		say(c, r, "RCPT TO:<victim@trap.example>")
		say(c, r, "DATA")
		fmt.Fprintf(c, "Subject: cut\r\n\r\nhalf a mess")
	}},
	{"huge header", func(addr string, rng *rand.Rand) {
		c, r := dial(addr)
		if c == nil {
			return
		}
		defer c.Close()
		say(c, r, "HELO big.test")
		say(c, r, "MAIL FROM:<a@b.test>")
		say(c, r, "RCPT TO:<victim@trap.example>")
		say(c, r, "DATA")
		for i := 0; i < 400; i++ {
			fmt.Fprintf(c, "X-Filler-%d: %s\r\n", i, strings.Repeat("h", 100))
		}
		say(c, r, "\r\nbody\r\n.")
		say(c, r, "QUIT")
	}},
	{"overlong command line", func(addr string, rng *rand.Rand) {
		c, r := dial(addr)
		if c == nil {
			return
		}
		defer c.Close()
		say(c, r, "HELO "+strings.Repeat("l", 5000))
	}},
	{"slowloris", func(addr string, rng *rand.Rand) {
		c, _ := dial(addr)
		if c == nil {
			return
		}
		defer c.Close()
		for _, b := range []byte("HELO slow.test\r\nMAIL FROM:<a@b.test>\r\n") {
			if _, err := c.Write([]byte{b}); err != nil {
				return
			}
			time.Sleep(300 * time.Millisecond)
		}
	}},
	{"non-UTF-8 and broken MIME", func(addr string, rng *rand.Rand) {
		c, r := dial(addr)
		if c == nil {
			return
		}
		defer c.Close()
		say(c, r, "HELO broken.test")
		say(c, r, "MAIL FROM:<a@b.test>")
		say(c, r, "RCPT TO:<victim@trap.example>")
		say(c, r, "DATA")
		say(c, r, "Subject: =?x-unknown?B?////?= \xe9t\xe9\r\nFrom: \xff\xfe <\xc3\x28@b.test>\r\n"+
			"Content-Type: multipart/mixed; boundary=\"\r\n\r\n--\r\n\x00\x01--\r\n.")
		say(c, r, "QUIT")
	}},
}

// Thousands of malformed, truncated, binary and slow sessions, bounded in number and time and on
// loopback only: the trap keeps serving a normal client throughout, its memory stays bounded,
// and the bad sessions are counted by reason.
func TestHostileClients(t *testing.T) {
	const sessions, parallel = 3000, 40
	kcfg := testenv.Kafka(t)
	r := startTrap(t, kcfg, func(c *trap.Configuration) {
		c.CommandTimeout, c.DataTimeout, c.SessionTimeout = 3*time.Second, 4*time.Second, 6*time.Second
		c.MaxHeaderBytes, c.MaxLineLength = 16<<10, 1000
		c.MaxConnections, c.MaxConnectionsPerIP = 200, 200
		c.NoTLS = true // net/smtp would insist on verifying the self-signed certificate
	})

	stop := make(chan struct{})
	var normalSent, normalFailed atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // a well-behaved client, all along
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			err := smtp.SendMail(r.addr, nil, "good@sender.test", []string{"victim@trap.example"},
				[]byte("Subject: normal\r\n\r\nstill served\r\n"))
			if err != nil {
				normalFailed.Add(1)
				t.Logf("normal client: %v", err)
			} else {
				normalSent.Add(1)
			}
		}
	}()

	var peakHeap atomic.Uint64
	wg.Add(1)
	go func() {
		defer wg.Done()
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peakHeap.Load() {
				peakHeap.Store(m.HeapInuse)
			}
		}
	}()

	kinds := map[string]int{}
	work := make(chan hostile)
	var clients sync.WaitGroup
	for i := range parallel {
		clients.Add(1)
		go func() {
			defer clients.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			for h := range work {
				h.run(r.addr, rng)
			}
		}()
	}
	rng := rand.New(rand.NewPCG(1, 2))
	deadline := time.Now().Add(3 * time.Minute)
	for n := 0; n < sessions && time.Now().Before(deadline); n++ {
		h := hostiles[rng.IntN(len(hostiles))]
		if h.name == "slowloris" && kinds[h.name] >= 60 {
			h = hostiles[0]
		}
		kinds[h.name]++
		work <- h
	}
	close(work)
	clients.Wait()
	close(stop)
	wg.Wait()

	t.Logf("bad sessions by kind: %v; normal client: %d delivered, %d failed; peak heap in use %.1f MiB",
		kinds, normalSent.Load(), normalFailed.Load(), float64(peakHeap.Load())/(1<<20))
	if normalSent.Load() < 10 || normalFailed.Load() > 0 {
		t.Errorf("the normal client was not served throughout: %d delivered, %d failed", normalSent.Load(), normalFailed.Load())
	}
	if peakHeap.Load() > 256<<20 {
		t.Errorf("heap in use peaked at %d MiB", peakHeap.Load()>>20)
	}
	for reason, kind := range map[string]string{"header-too-large": "huge header"} {
		if got := counter(t, r.reg, "spamgeo_trap_rejected_total", reason); got != float64(kinds[kind]) {
			t.Errorf("rejected{%s} = %v, want %d", reason, got, kinds[kind])
		}
	}
	for _, outcome := range []string{"timeout", "no-helo", "delivered", "refused"} {
		if counter(t, r.reg, "spamgeo_trap_sessions_total", outcome) == 0 {
			t.Errorf("no session counted as %s", outcome)
		}
	}
	// Every accepted message (the normal client's and the broken-MIME ones) is on the topic.
	accepted := counter(t, r.reg, "spamgeo_trap_messages_accepted_total", "")
	if want := float64(normalSent.Load() + int64(kinds["non-UTF-8 and broken MIME"])); accepted != want {
		t.Errorf("accepted %v messages, want %v", accepted, want)
	}
	events(t, r, int(accepted))
}
