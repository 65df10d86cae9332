//go:build unix

package main

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/embstore/embstore/internal/cli"
)

// TestColdFlags checks --prefetch and the --lock-hot flags of lookup, bench
// and serve: the same rows, the options reported, and one clear line for
// bad values.
func TestColdFlags(t *testing.T) {
	path, tok, _ := seedTable(t, 200, 8, 0)
	ids := []int64{3, 199, 0, 3}
	code, out, stderr := runCmd(t, "", "lookup", path, "--ids", "3,199,0,3", "--prefetch")
	if code != 0 {
		t.Fatalf("lookup --prefetch: exit %d: %s", code, stderr)
	}
	sameBits(t, "lookup --prefetch", parseText(t, out, 8), expected(tok, nil, 8, ids, nil))

	hot := filepath.Join(t.TempDir(), "hot.txt")
	writeFile(t, hot, "5 7\n199\n")
	for _, args := range [][]string{
		{"--prefetch", "--lock-hot", "5", "--lock-hot-interval", "10ms"},
		{"--lock-hot-file", hot},
	} {
		code, out, stderr := runCmd(t, "", append([]string{"bench", path, "--batch", "16", "--seconds", "0.2", "--threads", "1"}, args...)...)
		if code == cli.ExitFail && strings.Contains(stderr, "RLIMIT_MEMLOCK") {
			t.Logf("bench %v: this process may not lock memory: %s", args, stderr)
			continue
		}
		if code != 0 {
			t.Fatalf("bench %v: exit %d: %s", args, code, stderr)
		}
		var res benchResult
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("bench %v: %v: %q", args, err, out)
		}
		if res.Prefetch != (args[0] == "--prefetch") || res.LockHot == 0 {
			t.Errorf("bench %v: prefetch %v, lock_hot %d", args, res.Prefetch, res.LockHot)
		}
		if args[0] == "--lock-hot-file" && (res.LockHot != 3 || res.LockedBytes <= 0) {
			t.Errorf("bench %v: lock_hot %d, locked_bytes %d; want 3 rows locked", args, res.LockHot, res.LockedBytes)
		}
	}

	empty := filepath.Join(t.TempDir(), "empty.txt")
	writeFile(t, empty, "\n")
	outside := filepath.Join(t.TempDir(), "outside.txt")
	writeFile(t, outside, "1 200\n")
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--lock-hot", "-1"}, cli.ExitUsage, "--lock-hot -1"},
		{[]string{"--lock-hot", "201"}, cli.ExitFail, "more rows than the table's 200"},
		{[]string{"--lock-hot", "2", "--lock-hot-file", hot}, cli.ExitUsage, "choose one"},
		{[]string{"--lock-hot-interval", "1s"}, cli.ExitUsage, "goes with --lock-hot"},
		{[]string{"--lock-hot", "2", "--lock-hot-interval", "0s"}, cli.ExitUsage, "want a positive interval"},
		{[]string{"--lock-hot-file", empty}, cli.ExitUsage, "holds no ids"},
		{[]string{"--lock-hot-file", outside}, cli.ExitFail, "LockHotIDs[1] is outside the table's 200 rows"},
		{[]string{"--lock-hot-file", filepath.Join(t.TempDir(), "missing")}, cli.ExitFail, "no such file"},
	} {
		for _, cmd := range []string{"bench", "serve"} {
			args := append([]string{cmd, path}, c.args...)
			if cmd == "bench" {
				args = append(args, "--seconds", "0.1")
			} else {
				args = append(args, "--addr", "127.0.0.1:0")
			}
			code, _, stderr := runCmd(t, "", args...)
			if code != c.code || !strings.Contains(stderr, c.msg) || strings.Count(stderr, "\n") > 2 {
				t.Errorf("embquery %v: exit %d, stderr %q; want exit %d and %q", args, code, stderr, c.code, c.msg)
			}
		}
	}
	if code, _, stderr := runCmd(t, "", "lookup", path, "--ids", "1", "--lock-hot", "2"); code != cli.ExitUsage {
		t.Errorf("lookup --lock-hot: exit %d (%q); want a usage error (lookup has --prefetch only)", code, stderr)
	}

	p := startServe(t, path, "--prefetch", "--lock-hot", "3", "--lock-hot-interval", "20ms", "--map-mode", "random")
	for range 5 {
		resp, err := http.Post("http://"+p.addr+"/v1/lookup", "application/json", strings.NewReader(`{"table": "t", "ids": [3, 199, 0, 3]}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("lookup through serve --prefetch --lock-hot: %d %s", resp.StatusCode, b)
		}
		time.Sleep(30 * time.Millisecond)
	}
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.stderr)
	}
}
