// Package etcdtest starts real etcd clusters on loopback for tests: the
// etcd binary (Debian's etcd-server package), one process per member, each
// in its own process group with its data in a temporary directory, all
// stopped when the test ends, even when it fails.
//
// Following the repository's rule for oracles, a test that needs etcd
// skips with a message saying so when the binary is absent, unless
// EMBSTORE_REQUIRE_ORACLES=1 (CI sets it), under which it fails.
package etcdtest

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// A Cluster is a running etcd cluster.
type Cluster struct {
	// Endpoints are the client URLs of the members, in order.
	Endpoints []string
	members   []*member
	t         testing.TB
}

type member struct {
	name, dataDir string
	args          []string
	cmd           *exec.Cmd
	log           *lockedBuffer
	done          chan struct{}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 1<<20 {
		l.b.Reset()
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Binary returns the path of the etcd binary, or skips (or fails, under
// EMBSTORE_REQUIRE_ORACLES=1) the test when there is none.
func Binary(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("etcd")
	if err == nil {
		return p
	}
	msg := "etcd is not installed (apt-get install -y etcd-server)"
	if os.Getenv("EMBSTORE_REQUIRE_ORACLES") == "1" {
		t.Fatalf("%s, and EMBSTORE_REQUIRE_ORACLES=1", msg)
	}
	t.Skipf("skipped: %s; set EMBSTORE_REQUIRE_ORACLES=1 to make this a failure", msg)
	return ""
}

// freePorts returns n TCP ports free on 127.0.0.1 now.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// Start starts an etcd cluster of n members on loopback and waits until
// every member answers /health. Everything it starts is stopped by
// t.Cleanup.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	bin := Binary(t)
	ports := freePorts(t, 2*n)
	dir := t.TempDir()
	c := &Cluster{t: t}
	var initial []string
	for i := range n {
		initial = append(initial, fmt.Sprintf("m%d=http://127.0.0.1:%d", i, ports[2*i+1]))
	}
	for i := range n {
		client := fmt.Sprintf("http://127.0.0.1:%d", ports[2*i])
		peer := fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1])
		m := &member{name: fmt.Sprintf("m%d", i), dataDir: filepath.Join(dir, fmt.Sprintf("m%d", i))}
		m.args = []string{bin,
			"--name", m.name, "--data-dir", m.dataDir,
			"--listen-client-urls", client, "--advertise-client-urls", client,
			"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-state", "new",
			"--initial-cluster-token", "embstore-test",
			"--logger", "zap", "--log-level", "warn",
		}
		c.Endpoints = append(c.Endpoints, client)
		c.members = append(c.members, m)
	}
	t.Cleanup(c.stopAll)
	for i := range c.members {
		c.start(i)
	}
	deadline := time.Now().Add(30 * time.Second)
	for i := range c.members {
		if err := c.waitHealthy(i, deadline); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func (c *Cluster) start(i int) {
	m := c.members[i]
	m.cmd = exec.Command(m.args[0], m.args[1:]...)
	m.log = &lockedBuffer{}
	m.cmd.Stdout, m.cmd.Stderr = m.log, m.log
	SetGroup(m.cmd)
	if err := m.cmd.Start(); err != nil {
		c.t.Fatalf("start etcd member %s: %v", m.name, err)
	}
	m.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		cmd.Wait()
		close(done)
	}(m.cmd, m.done)
}

// waitHealthy waits until member i answers /health with true.
func (c *Cluster) waitHealthy(i int, deadline time.Time) error {
	m := c.members[i]
	hc := &http.Client{Timeout: time.Second}
	for {
		resp, err := hc.Get(c.Endpoints[i] + "/health")
		if err == nil {
			var b bytes.Buffer
			b.ReadFrom(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.Contains(b.String(), `"health":"true"`) {
				return nil
			}
		}
		select {
		case <-m.done:
			return fmt.Errorf("etcd member %s exited: %s", m.name, m.log)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("etcd member %s not healthy after 30 s: %v\n%s", m.name, err, m.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop stops member i (SIGTERM, then SIGKILL after 5 s) and waits for it.
func (c *Cluster) Stop(i int) {
	m := c.members[i]
	if m.cmd == nil {
		return
	}
	SignalGroup(m.cmd, false)
	select {
	case <-m.done:
	case <-time.After(5 * time.Second):
		SignalGroup(m.cmd, true)
		<-m.done
	}
	m.cmd = nil
}

// Restart starts member i again, with its data, and waits until it is
// healthy.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	c.Stop(i)
	c.start(i)
	if err := c.waitHealthy(i, time.Now().Add(30*time.Second)); err != nil {
		c.t.Fatal(err)
	}
}

// Log returns what member i logged (the last MiB).
func (c *Cluster) Log(i int) string { return c.members[i].log.String() }

func (c *Cluster) stopAll() {
	for _, m := range c.members {
		if m.cmd != nil {
			SignalGroup(m.cmd, true)
			<-m.done
			m.cmd = nil
		}
	}
}
