package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/embstore/embstore/pack"
)

// TestMain lets the test binary act as embquery itself, so that tests can
// run `embquery serve` as a real process and send it signals.
func TestMain(m *testing.M) {
	if os.Getenv("EMBQUERY_TEST_AS_MAIN") == "1" {
		os.Exit(run(os.Args[1:], env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}))
	}
	os.Exit(m.Run())
}

// A serveProc is an `embquery serve` process.
type serveProc struct {
	cmd    *exec.Cmd
	addr   string
	stderr *syncBuffer
	done   chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServe starts `embquery serve ARGS --addr 127.0.0.1:0` and waits for
// its "listening on ADDR" line.
func startServe(t *testing.T, args ...string) *serveProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), "EMBQUERY_TEST_AS_MAIN=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &serveProc{cmd: cmd, stderr: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-p.done
		}
	})
	select {
	case line := <-lines:
		addr, ok := strings.CutPrefix(line, "listening on ")
		if !ok {
			t.Fatalf("first line %q, want \"listening on ADDR\"", line)
		}
		p.addr = addr
	case err := <-p.done:
		t.Fatalf("embquery serve exited before listening: %v\n%s", err, p.stderr)
	case <-time.After(20 * time.Second):
		t.Fatalf("no \"listening on\" line after 20 s\n%s", p.stderr)
	}
	return p
}

// wait returns the exit code once the process ends.
func (p *serveProc) wait(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(within):
		t.Fatalf("embquery serve still running after %v\n%s", within, p.stderr)
	}
	return -1
}

func (p *serveProc) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

func TestServeDrainsOnSIGTERM(t *testing.T) {
	path, _, _ := seedTable(t, 100, 8, 0)
	p := startServe(t, path, "--shutdown-timeout", "10s")
	// A request in flight: its body arrives in two halves, the second after
	// SIGTERM.
	pr, pw := io.Pipe()
	body := []byte(`{"model": "t", "input": [[1, 2], [3]]}`)
	req, _ := http.NewRequest(http.MethodPost, "http://"+p.addr+"/v1/embeddings", pr)
	req.ContentLength = int64(len(body))
	result := make(chan string, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			result <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		result <- fmt.Sprintf("%d %s", resp.StatusCode, b)
	}()
	pw.Write(body[:10])
	time.Sleep(100 * time.Millisecond) // the request is being read
	p.signal(t, syscall.SIGTERM)
	time.Sleep(100 * time.Millisecond) // shutting down: no new connections
	if _, err := net.DialTimeout("tcp", p.addr, time.Second); err == nil {
		t.Error("new connections accepted after SIGTERM")
	}
	pw.Write(body[10:])
	pw.Close()
	if r := <-result; !strings.HasPrefix(r, "200 ") || !strings.Contains(r, `"usage"`) {
		t.Fatalf("request in flight at SIGTERM: %s", r)
	}
	if code := p.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit status %d after draining, want 0\n%s", code, p.stderr)
	}
	if !strings.Contains(p.stderr.String(), "shut down") {
		t.Fatalf("no shutdown log line:\n%s", p.stderr)
	}
}

func TestServeShutdownTimeout(t *testing.T) {
	path, _, _ := seedTable(t, 100, 8, 0)
	p := startServe(t, path, "--shutdown-timeout", "200ms")
	pr, pw := io.Pipe()
	defer pw.Close()
	req, _ := http.NewRequest(http.MethodPost, "http://"+p.addr+"/v1/embeddings", pr)
	req.ContentLength = 100
	go http.DefaultClient.Do(req)
	pw.Write([]byte(`{"model"`))
	time.Sleep(100 * time.Millisecond)
	p.signal(t, syscall.SIGINT)
	if code := p.wait(t, 10*time.Second); code != 1 {
		t.Fatalf("exit status %d with a request stuck past the timeout, want 1\n%s", code, p.stderr)
	}
	if !strings.Contains(p.stderr.String(), "still in flight after --shutdown-timeout") {
		t.Fatalf("stderr:\n%s", p.stderr)
	}
}

func TestServeSIGHUPAndJSONLogs(t *testing.T) {
	dir := t.TempDir()
	path, _, _ := seedTable(t, 100, 8, 0)
	keyFile := filepath.Join(dir, "keys")
	os.WriteFile(keyFile, []byte("first\n"), 0o600)
	p := startServe(t, "--table", "m="+path, "--api-key-file", keyFile, "--log-format", "json", "--reload-interval", "0")
	post := func(key string) int {
		req, _ := http.NewRequest(http.MethodPost, "http://"+p.addr+"/v1/embeddings", strings.NewReader(`{"model": "m", "input": [1]}`))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if post("first") != 200 || post("second") != 401 {
		t.Fatal("keys before SIGHUP")
	}
	os.WriteFile(keyFile, []byte("second\n"), 0o600)
	p.signal(t, syscall.SIGHUP)
	deadline := time.Now().Add(5 * time.Second)
	for post("second") != 200 {
		if time.Now().After(deadline) {
			t.Fatalf("the new key is not accepted after SIGHUP\n%s", p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if post("first") != 401 {
		t.Fatal("the old key is still accepted after SIGHUP")
	}
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.stderr)
	}
	lines := strings.Split(strings.TrimSpace(p.stderr.String()), "\n")
	for _, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil || rec["msg"] == nil || rec["level"] == nil {
			t.Fatalf("log line is not slog JSON: %q", l)
		}
	}
	if !strings.Contains(p.stderr.String(), "reloaded on SIGHUP") {
		t.Fatalf("no SIGHUP log line:\n%s", p.stderr)
	}
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "embquery test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	path, _, _ := seedTable(t, 100, 8, 0)
	certFile, keyFile, pool := selfSigned(t, dir)
	p := startServe(t, path, "--tls-cert", certFile, "--tls-key", keyFile)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.Post("https://"+p.addr+"/v1/embeddings", "application/json", strings.NewReader(`{"model": "t", "input": [5]}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil || !strings.Contains(string(b), `"embedding"`) {
		t.Fatalf("HTTPS request: %d %s", resp.StatusCode, b)
	}
	if resp, err := http.Get("http://" + p.addr + "/health"); err == nil && resp.StatusCode == 200 {
		t.Fatal("plain HTTP answered on the TLS port")
	}
	if _, err := (&http.Client{Transport: &http.Transport{}}).Get("https://" + p.addr + "/health"); err == nil {
		t.Fatal("a client that does not trust the certificate got through")
	}
}

func TestServeDirAndReload(t *testing.T) {
	dir := t.TempDir()
	src, _, _ := seedTable(t, 100, 8, 0)
	data, _ := os.ReadFile(src)
	os.WriteFile(filepath.Join(dir, "a.emb"), data, 0o644)
	p := startServe(t, "--dir", dir, "--dir-interval", "20ms")
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + p.addr + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	if code, b := get("/v1/models"); code != 200 || !strings.Contains(b, `"id":"a"`) {
		t.Fatalf("models: %d %s", code, b)
	}
	os.WriteFile(filepath.Join(dir, ".b.emb.tmp"), data, 0o644) // not a table name: ignored
	os.WriteFile(filepath.Join(dir, "b.emb"), data, 0o644)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, b := get("/v1/models")
		if strings.Contains(b, `"id":"b"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("b.emb not picked up: %s\n%s", b, p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, b := get("/v1/models"); strings.Contains(b, ".b") {
		t.Fatalf("a hidden file is served: %s", b)
	}
}

func TestServeUsageErrors(t *testing.T) {
	path, _, _ := seedTable(t, 10, 4, 0)
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"serve"}, 2, "nothing to serve"},
		{[]string{"serve", path, "--tls-cert", "x.pem"}, 2, "--tls-cert and --tls-key go together"},
		{[]string{"serve", "--table", "nofile"}, 2, "want NAME=FILE"},
		{[]string{"serve", "--table", "bad name=" + path}, 2, "table name"},
		{[]string{"serve", path, "--log-format", "xml"}, 2, "--log-format"},
		{[]string{"serve", path, "--map-mode", "weird"}, 2, "--map-mode"},
		{[]string{"serve", path, "--max-inputs", "0"}, 2, "must be positive"},
		{[]string{"serve", path + ".missing", "--addr", "127.0.0.1:0"}, 1, "no such file"},
		{[]string{"serve", "--table", "a=" + path, "--table", "a=" + path, "--addr", "127.0.0.1:0"}, 2, "used twice"},
		{[]string{"serve", path, "--addr", "127.0.0.1:0", "--api-key-file", path + ".nokeys"}, 1, "api key file"},
		{[]string{"serve", path, "--addr", "unix:"}, 2, "socket's path is missing"},
		{[]string{"serve", path, "--addr", "unix:" + path + ".sock", "--etcd", "http://127.0.0.1:1"}, 2, "--advertise"},
	} {
		code, _, stderr := runCmd(t, "", c.args...)
		if code != c.code || !strings.Contains(stderr, c.msg) || strings.Count(strings.TrimSpace(stderr), "\n") > 1 {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, stderr, c.code, c.msg)
		}
	}
}

// TestReadmeServeExamples runs the curl commands of the README's "Serve over
// HTTP" section against a real server, as a reader would paste them.
func TestReadmeServeExamples(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		if os.Getenv("EMBSTORE_REQUIRE_ORACLES") == "1" {
			t.Fatal("curl is not installed, and EMBSTORE_REQUIRE_ORACLES=1")
		}
		t.Skip("skipped: curl is not installed; set EMBSTORE_REQUIRE_ORACLES=1 to make this a failure")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(readme)
	start := strings.Index(section, "<!-- serve-examples -->")
	end := strings.Index(section, "<!-- /serve-examples -->")
	if start < 0 || end < start {
		t.Fatal("README has no <!-- serve-examples --> section")
	}
	section = section[start:end]
	var cmds []string
	for _, block := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(section, -1) {
		joined := strings.ReplaceAll(block[1], "\\\n", " ")
		for _, line := range strings.Split(joined, "\n") {
			if line = strings.TrimSpace(line); strings.Contains(line, "curl ") && !strings.HasPrefix(line, "#") {
				cmds = append(cmds, line)
			}
		}
	}
	if len(cmds) < 6 {
		t.Fatalf("found %d curl commands in the README section", len(cmds))
	}
	dir := t.TempDir()
	table := filepath.Join(dir, "gpt2-seed123.emb")
	// What the README's embpack init line makes.
	spec := pack.SeedSpec{Rows: 50257, Dim: 256, Seed: 123, Positions: 4}
	if err := pack.Seed(context.Background(), table, spec, nil); err != nil {
		t.Fatal(err)
	}
	p := startServe(t, table)
	for _, c := range cmds {
		c = strings.ReplaceAll(c, "localhost:8080", p.addr)
		cmd := exec.Command("bash", "-o", "pipefail", "-c", c)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(curl)+":"+os.Getenv("PATH"))
		out, err := cmd.Output()
		if err != nil {
			t.Errorf("%s: %v\n%s", c, err, out)
			continue
		}
		switch {
		case strings.Contains(c, " -o "):
		case strings.Contains(c, "| grep"):
			if len(out) == 0 {
				t.Errorf("%s: no output", c)
			}
		default:
			if !json.Valid(out) || bytes.Contains(out, []byte(`"error"`)) {
				t.Errorf("%s: not a JSON answer: %.300s", c, out)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "rows.npy")); err != nil && strings.Contains(section, "rows.npy") {
		t.Error("the .npy example wrote no rows.npy")
	}
}

// TestServeSlowClients checks that a client that sends its headers too
// slowly, or holds an idle connection, is cut off.
func TestServeSlowClients(t *testing.T) {
	path, _, _ := seedTable(t, 10, 4, 0)
	p := startServe(t, path, "--read-header-timeout", "200ms", "--idle-timeout", "300ms")
	for _, c := range []struct {
		name, send string
	}{
		{"slow headers", "POST /v1/embeddings HTTP/1.1\r\nHost: x\r\n"},
		{"idle keep-alive", "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"},
	} {
		conn, err := net.Dial("tcp", p.addr)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		conn.Write([]byte(c.send))
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = io.Copy(io.Discard, conn) // returns when the server closes
		conn.Close()
		if d := time.Since(start); err != nil || d > 3*time.Second {
			t.Errorf("%s: connection held %v (%v)", c.name, d, err)
		}
	}
}

// TestServeUnixSocket serves on a unix socket: requests through it, a
// second server refused while the first listens, the socket removed at
// SIGTERM, and a stale socket (left by a server that died) replaced.
func TestServeUnixSocket(t *testing.T) {
	path, tokens, _ := seedTable(t, 100, 8, 0)
	sock := filepath.Join(t.TempDir(), "emb.sock")
	p := startServe(t, path, "--addr", "unix:"+sock)
	if p.addr != "unix:"+sock {
		t.Fatalf("listening on %q, want unix:%s", p.addr, sock)
	}
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	ids := []byte{5, 0, 0, 0, 0, 0, 0, 0, 99, 0, 0, 0, 0, 0, 0, 0}
	req, _ := http.NewRequest(http.MethodPost, "http://unix/v1/lookup?table=t", bytes.NewReader(ids))
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Accept", "application/octet-stream")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(body) != 2*8*4 {
		t.Fatalf("status %d, %d bytes: %s", resp.StatusCode, len(body), body)
	}
	for i, id := range []int{5, 99} {
		for j := range 8 {
			if got := math.Float32frombits(binary.LittleEndian.Uint32(body[4*(8*i+j):])); got != tokens[8*id+j] {
				t.Fatalf("row %d value %d: %v, want %v", id, j, got, tokens[8*id+j])
			}
		}
	}
	if code, _, stderr := runCmd(t, "", "serve", path, "--addr", "unix:"+sock); code != 1 || !strings.Contains(stderr, "listening on "+sock+" already") {
		t.Errorf("a second server on the socket: exit %d, %s", code, stderr)
	}
	if code, _, stderr := runCmd(t, "", "serve", path, "--addr", "unix:"+path); code != 1 || !strings.Contains(stderr, path+" exists and is not a socket") {
		t.Errorf("a table file as the socket: exit %d, %s", code, stderr)
	}
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM\n%s", code, p.stderr)
	}
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Fatalf("the socket is still there after SIGTERM: %v", err)
	}
	// A server that died leaves its socket file behind.
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	p = startServe(t, path, "--addr", "unix:"+sock)
	if resp, err := hc.Get("http://unix/health"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("after replacing a stale socket: %v", err)
	}
}
