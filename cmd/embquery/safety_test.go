//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/embstore/embstore/format"
	"golang.org/x/sys/unix"
)

// buildEmbqueryBinary builds this command for the calling test and returns
// the binary's path.
func buildEmbqueryBinary(t *testing.T) string {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		goCmd = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "embquery")
	if out, err := exec.Command(goCmd, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	t.Fatalf("run: %v", err)
	return -1
}

// TestLookupAnswersEachLine runs lookup as a co-process: it writes one id,
// waits for its row, writes the next. Lookup answered only every 4096 ids,
// so the first row never came.
func TestLookupAnswersEachLine(t *testing.T) {
	bin := buildEmbqueryBinary(t)
	path, tok, _ := seedTable(t, 100, 4, 0)
	cmd := exec.Command(bin, "lookup", path)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	for _, input := range []string{"2\n", "3 5\n", "  7\t\n"} {
		io.WriteString(stdin, input)
		for range strings.Fields(input) {
			select {
			case line := <-lines:
				if len(strings.Fields(line)) != 4 {
					t.Fatalf("row %q", line)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("no row for %q within 10 s: lookup waits for more input", input)
			}
		}
	}
	stdin.Close()
	if _, ok := <-lines; ok {
		t.Error("more rows than ids")
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	_ = tok
}

// TestLookupDetectsInPlaceWrite: a table copied over in place while lookup
// streams from it fails the command at the end, saying so.
func TestLookupDetectsInPlaceWrite(t *testing.T) {
	bin := buildEmbqueryBinary(t)
	path, _, _ := seedTable(t, 100, 4, 0)
	other, _, _ := seedTable(t, 100, 4, 3)
	cmd := exec.Command(bin, "lookup", path)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Start()
	defer cmd.Process.Kill()
	br := bufio.NewReader(stdout)
	io.WriteString(stdin, "1\n")
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(other)
	os.WriteFile(path, b, 0o644) // cp other path: the same inode, new bytes
	io.WriteString(stdin, "2\n")
	stdin.Close()
	io.Copy(io.Discard, br)
	if code := exitCode(t, cmd.Wait()); code != 1 || !strings.Contains(stderr.String(), "modified in place") {
		t.Fatalf("exit %d, %q; want a failure saying the table was modified in place", code, stderr.String())
	}
}

// TestQueryRefusesFIFO: lookup, bag and bench of a named pipe fail at once
// (they hung forever).
func TestQueryRefusesFIFO(t *testing.T) {
	bin := buildEmbqueryBinary(t)
	fifo := filepath.Join(t.TempDir(), "t.emb")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"lookup", fifo, "--ids", "1"}, {"bag", fifo, "--ids", "1"}, {"bench", fifo, "--seconds", "0.01"}} {
		cmd := exec.Command(bin, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		cmd.Start()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if code := exitCode(t, err); code != 1 || !strings.Contains(stderr.String(), "named pipe") {
				t.Errorf("%s of a FIFO: exit %d, %q", args[0], code, stderr.String())
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Errorf("%s of a FIFO hung", args[0])
		}
	}
}

// TestQueryStdoutFailures: a full device fails lookup with one line; a
// closed pipe ends it quietly with status 0.
func TestQueryStdoutFailures(t *testing.T) {
	bin := buildEmbqueryBinary(t)
	path, _, _ := seedTable(t, 1000, 64, 0)
	if full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0); err == nil {
		for _, args := range [][]string{{"lookup", path, "--ids", "1,2"}, {"bag", path, "--ids", "1,2"}, {"bench", path, "--seconds", "0.01"}} {
			cmd := exec.Command(bin, args...)
			var stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = full, &stderr
			if code := exitCode(t, cmd.Run()); code != 1 || strings.Count(stderr.String(), "\n") != 1 || !strings.Contains(stderr.String(), "write standard output: no space left on device") {
				t.Errorf("%s > /dev/full: exit %d, %q", args[0], code, stderr.String())
			}
		}
		full.Close()
	}
	r, w, _ := os.Pipe()
	r.Close()
	cmd := exec.Command(bin, "lookup", path, "--format", "raw")
	cmd.Stdin = strings.NewReader(strings.Repeat("1\n2\n3\n", 20000))
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = w, &stderr
	err := cmd.Run()
	w.Close()
	if code := exitCode(t, err); code != 0 || stderr.Len() != 0 {
		t.Errorf("lookup into a closed pipe: exit %d, %q; want 0 and nothing", code, stderr.String())
	}
}

// TestJSONNonFinite: NaN and infinities come out as null, and the output is
// one valid JSON document (it was "[]" and an error).
func TestJSONNonFinite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nan.emb")
	fw, err := format.Create(path, format.Layout{Rows: 2, Dim: 3})
	if err != nil {
		t.Fatal(err)
	}
	fw.WriteTokens([]float32{1, float32(math.NaN()), 2, float32(math.Inf(1)), float32(math.Inf(-1)), 0.5})
	if err := fw.Commit(); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"lookup", path, "--ids", "0,1", "--format", "json"}, {"bag", path, "--ids", "0,1", "--mode", "sum", "--format", "json"}} {
		code, stdout, stderr := runCmd(t, "", args...)
		var rows [][]*float64
		if code != 0 || json.Unmarshal([]byte(stdout), &rows) != nil {
			t.Fatalf("%s: exit %d, %q, %q", args[0], code, stdout, stderr)
		}
		if args[0] == "lookup" && (rows[0][1] != nil || rows[1][0] != nil || rows[1][1] != nil || *rows[1][2] != 0.5) {
			t.Errorf("lookup json: %s", stdout)
		}
	}
}

// TestQueryArgumentRules: a list flag given twice, a NaN or infinite bench
// duration, an absurd thread count and an over-long id are refused with a
// message that says which.
func TestQueryArgumentRules(t *testing.T) {
	path, _, _ := seedTable(t, 10, 4, 0)
	for _, c := range []struct {
		stdin string
		args  []string
		code  int
		msg   string
	}{
		{"", []string{"lookup", path, "--ids", "1", "--ids", "2"}, 2, "--ids"},
		{"", []string{"bag", path, "--ids", "1,2", "--offsets", "0", "--offsets", "1"}, 2, "more than once"},
		{"", []string{"bag", path, "--ids", "1", "--mode", "sum", "--weights", "1", "--weights", "2"}, 2, "more than once"},
		{"", []string{"bench", path, "--seconds", "NaN"}, 2, "--seconds NaN"},
		{"", []string{"bench", path, "--seconds", "+Inf"}, 2, "--seconds +Inf"},
		{"", []string{"lookup", path, "--ids", "1", "--threads", "10000000"}, 2, "--threads 10000000: want 1 to"},
		{"", []string{"bench", path, "--threads", "300000"}, 2, "--threads 300000: want 1 to"},
		{"1 " + strings.Repeat("7", 100) + "\n", []string{"lookup", path}, 1, "id 2 of standard input is longer than 63 bytes"},
		{"1 99999999999999999999\n", []string{"lookup", path}, 1, "id 2 of standard input: id \"99999999999999999999\" does not fit in an int64"},
	} {
		start := time.Now()
		code, stdout, stderr := runCmd(t, c.stdin, c.args...)
		if code != c.code || !strings.Contains(stderr, c.msg) {
			t.Errorf("%v: exit %d, %q; want %d and %q", c.args, code, stderr, c.code, c.msg)
		}
		if c.code == 2 && stdout != "" {
			t.Errorf("%v printed %q", c.args, stdout)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%v took %v", c.args, d)
		}
	}
	for _, sub := range subcommands() {
		name := strings.TrimPrefix(sub.Name, "embquery ")
		if code, stdout, _ := runCmd(t, "", name, "--help"); code != 0 || strings.Contains(stdout, "[=true|false]") {
			t.Errorf("%s --help: exit %d\n%s", name, code, stdout)
		}
	}
}
