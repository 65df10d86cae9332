package server

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAPIKeys(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "keys")
	os.WriteFile(keyFile, []byte("# keys of the team\nkey-one\n\n  key-two  \n"), 0o600)
	ts := newTestServer(t, Config{APIKeyFile: keyFile}, map[string]string{"t": seeded(t, dir, "t", 10, 4, 0)})
	body := []byte(`{"model": "t", "input": [1]}`)
	for _, c := range []struct {
		header string
		status int
	}{{"", 401}, {"Bearer nope", 401}, {"key-one", 401}, {"Bearer key-one", 200}, {"bearer key-two", 200}, {"Bearer key-on", 401}, {"Bearer key-one2", 401}} {
		var hdr []string
		if c.header != "" {
			hdr = []string{"Authorization", c.header}
		}
		code, got, h := ts.post(t, "/v1/embeddings", "application/json", body, hdr...)
		if code != c.status {
			t.Errorf("Authorization %q: %d, want %d: %s", c.header, code, c.status, got)
		}
		if code == 401 {
			if e := checkOpenAIError(t, got); str(e.Error.Code) != "invalid_api_key" || h.Get("WWW-Authenticate") == "" {
				t.Errorf("401 body %s", got)
			}
		}
	}
	code, got, _ := ts.post(t, "/embed", "application/json", []byte(`{"inputs": [1]}`))
	if _, typ := checkTEIError(t, got); code != 401 || typ != "Unauthorized" {
		t.Errorf("/embed without a key: %d %s", code, got)
	}
	for _, open := range []string{"/health", "/metrics"} {
		if code, _, _ := ts.get(t, open); code != 200 {
			t.Errorf("%s without a key: %d", open, code)
		}
	}
	for _, closed := range []string{"/v1/models", "/v1/tables", "/info"} {
		if code, _, _ := ts.get(t, closed); code != 401 {
			t.Errorf("%s without a key: %d", closed, code)
		}
	}
	// A new key file is read on Reload (SIGHUP); a broken one is refused and
	// the keys in use kept.
	os.WriteFile(keyFile, []byte("key-three\n"), 0o600)
	if err := ts.Reload(); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := ts.post(t, "/v1/embeddings", "application/json", body, "Authorization", "Bearer key-one"); code != 401 {
		t.Errorf("old key after reload: %d", code)
	}
	if code, _, _ := ts.post(t, "/v1/embeddings", "application/json", body, "Authorization", "Bearer key-three"); code != 200 {
		t.Errorf("new key after reload: %d", code)
	}
	os.WriteFile(keyFile, []byte("# nothing\n"), 0o600)
	if err := ts.Reload(); err == nil || !strings.Contains(err.Error(), "holds no key") {
		t.Errorf("reload of an empty key file: %v", err)
	}
	if code, _, _ := ts.post(t, "/v1/embeddings", "application/json", body, "Authorization", "Bearer key-three"); code != 200 {
		t.Errorf("key after a refused reload: %d", code)
	}
	if _, err := New(Config{APIKeyFile: filepath.Join(dir, "missing")}); err == nil {
		t.Error("a missing key file was accepted")
	}
}

// slowBody is a request body that sends its bytes only when told to.
type slowBody struct {
	pr *io.PipeReader
	pw *io.PipeWriter
}

func newSlowBody() *slowBody {
	pr, pw := io.Pipe()
	return &slowBody{pr, pw}
}

func TestBodyLimit(t *testing.T) {
	dir := t.TempDir()
	ts := newTestServer(t, Config{MaxBody: 100}, map[string]string{"t": seeded(t, dir, "t", 10, 4, 0)})
	// A declared length over the limit is refused before the body is read:
	// the answer comes while the client has sent nothing of it.
	sb := newSlowBody()
	req, _ := http.NewRequest(http.MethodPost, ts.url+"/v1/embeddings", sb.pr)
	req.ContentLength = 1 << 30
	done := make(chan int, 1)
	go func() {
		resp, err := ts.hs.Client().Do(req)
		if err != nil {
			done <- -1
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		checkOpenAIError(t, b)
		done <- resp.StatusCode
	}()
	select {
	case code := <-done:
		if code != 413 {
			t.Fatalf("1 GiB declared body: %d, want 413", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no answer to a 1 GiB declared body without sending it")
	}
	sb.pw.Close()
	// A chunked body is cut at the limit.
	big := []byte(`{"model": "t", "input": [` + strings.Repeat("1,", 100) + `1]}`)
	req, _ = http.NewRequest(http.MethodPost, ts.url+"/v1/embeddings", io.MultiReader(bytes.NewReader(big)))
	req.ContentLength = -1
	code, got, _ := do(t, ts.hs.Client(), req)
	if e := checkOpenAIError(t, got); code != 413 || str(e.Error.Code) != "body_too_large" {
		t.Fatalf("chunked body over the limit: %d %s", code, got)
	}
	code, got, _ = ts.post(t, "/embed", "application/json", big)
	if _, typ := checkTEIError(t, got); code != 413 || typ != "Validation" {
		t.Fatalf("/embed over the limit: %d %s", code, got)
	}
}

func TestOverloadedGets429(t *testing.T) {
	dir := t.TempDir()
	ts := newTestServer(t, Config{MaxConcurrent: 1, QueueWait: 50 * time.Millisecond}, map[string]string{"t": seeded(t, dir, "t", 10, 4, 0)})
	// The first request holds the only slot while its body trickles in.
	sb := newSlowBody()
	req, _ := http.NewRequest(http.MethodPost, ts.url+"/v1/embeddings", sb.pr)
	first := make(chan int, 1)
	go func() {
		resp, err := ts.hs.Client().Do(req)
		if err != nil {
			first <- -1
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	sb.pw.Write([]byte(`{"model": "t", `))
	deadline := time.Now().Add(5 * time.Second)
	var code int
	var body []byte
	var hdr http.Header
	for time.Now().Before(deadline) {
		if code, body, hdr = ts.post(t, "/v1/embeddings", "application/json", []byte(`{"model": "t", "input": [1]}`)); code == 429 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if e := checkOpenAIError(t, body); code != 429 || str(e.Error.Code) != "rate_limit_exceeded" || hdr.Get("Retry-After") == "" {
		t.Fatalf("second request while the slot is held: %d %s", code, body)
	}
	code, body, _ = ts.post(t, "/embed", "application/json", []byte(`{"inputs": [1]}`))
	if _, typ := checkTEIError(t, body); code != 429 || typ != "Overloaded" {
		t.Fatalf("/embed while the slot is held: %d %s", code, body)
	}
	if code, _, _ := ts.get(t, "/health"); code != 200 {
		t.Fatalf("/health is not gated: %d", code)
	}
	sb.pw.Write([]byte(`"input": [2]}`))
	sb.pw.Close()
	if c := <-first; c != 200 {
		t.Fatalf("the request holding the slot: %d", c)
	}
	if code, body, _ := ts.post(t, "/v1/embeddings", "application/json", []byte(`{"model": "t", "input": [1]}`)); code != 200 {
		t.Fatalf("after the slot is free: %d %s", code, body)
	}
	if _, body, _ := ts.get(t, "/metrics"); !strings.Contains(string(body), `embstore_rejected_requests_total{reason="overloaded"}`) {
		t.Fatal("429s are not counted")
	}
}

func TestWatchDir(t *testing.T) {
	dir := t.TempDir()
	seeded(t, dir, "a", 10, 4, 0)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a table"), 0o644)
	os.WriteFile(filepath.Join(dir, "broken.emb"), []byte("not a table either"), 0o644)
	var logs syncBuf
	ts := newTestServer(t, Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, nil)
	if err := ts.WatchDir(dir, 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := ts.WatchDir(filepath.Join(dir, "missing"), time.Second); err == nil {
		t.Fatal("a missing directory was accepted")
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; serving %v", what, ts.Tables())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if fmt.Sprint(ts.Tables()) != "[a]" {
		t.Fatalf("serving %v, want [a]", ts.Tables())
	}
	seeded(t, dir, "b", 20, 8, 0)
	waitFor("b to be served", func() bool { return fmt.Sprint(ts.Tables()) == "[a b]" })
	// The broken file was reported once, not on every scan.
	if n := strings.Count(logs.String(), "broken.emb"); n != 1 {
		t.Fatalf("the broken table was logged %d times:\n%s", n, logs.String())
	}
	seeded(t, dir, "broken", 5, 4, 0) // fixed: picked up
	waitFor("the fixed table", func() bool { return fmt.Sprint(ts.Tables()) == "[a b broken]" })
	os.Remove(filepath.Join(dir, "broken.emb"))
	if code, body, _ := ts.post(t, "/v1/embeddings", "application/json", []byte(`{"model": "b", "input": [19]}`)); code != 200 {
		t.Fatalf("new table b: %d %s", code, body)
	}
	os.Remove(filepath.Join(dir, "a.emb"))
	waitFor("a to go", func() bool { return fmt.Sprint(ts.Tables()) == "[b]" })
	if code, _, _ := ts.post(t, "/v1/embeddings", "application/json", []byte(`{"model": "a", "input": [1]}`)); code != 404 {
		t.Fatalf("removed table a: %d", code)
	}
	os.Remove(filepath.Join(dir, "b.emb"))
	waitFor("no table", func() bool { return len(ts.Tables()) == 0 })
	if code, _, _ := ts.get(t, "/health"); code != 503 {
		t.Fatalf("/health with no table: %d", code)
	}
}

// syncBuf is a bytes.Buffer safe for concurrent writes (logs).
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
