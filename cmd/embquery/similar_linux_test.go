//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestSimilarAnswersEachLine runs similar as a co-process: it writes one
// word, waits for its neighbours, writes the next; then a closed pipe on
// standard output ends a long run quietly with status 0, and a full device
// fails it with one line.
func TestSimilarAnswersEachLine(t *testing.T) {
	bin := buildEmbqueryBinary(t)
	path, _ := wordTable(t, "w2v.txt", true)
	cmd := exec.Command(bin, "similar", path, "--word", "-", "-k", "2", "--format", "json")
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
	for _, w := range []string{"king", "queen", "paris"} {
		io.WriteString(stdin, w+"\n")
		select {
		case line := <-lines:
			var res []similarResult
			if err := json.Unmarshal([]byte(line), &res); err != nil || len(res) != 2 || *res[0].Word != w {
				t.Fatalf("answer to %q: %q", w, line)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no answer to %q within 10 s: similar waits for more input", w)
		}
	}
	stdin.Close()
	if _, ok := <-lines; ok {
		t.Error("more answers than queries")
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}

	r, w, _ := os.Pipe()
	r.Close()
	cmd = exec.Command(bin, "similar", path, "--id", "-")
	cmd.Stdin = strings.NewReader(strings.Repeat("1\n2\n3\n", 20000))
	stderr.Reset()
	cmd.Stdout, cmd.Stderr = w, &stderr
	err := cmd.Run()
	w.Close()
	if code := exitCode(t, err); code != 0 || stderr.Len() != 0 {
		t.Errorf("similar into a closed pipe: exit %d, %q; want 0 and nothing", code, stderr.String())
	}
	if full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0); err == nil {
		cmd := exec.Command(bin, "similar", path, "--id", "1")
		stderr.Reset()
		cmd.Stdout, cmd.Stderr = full, &stderr
		if code := exitCode(t, cmd.Run()); code != 1 || strings.Count(stderr.String(), "\n") != 1 || !strings.Contains(stderr.String(), "no space left on device") {
			t.Errorf("similar > /dev/full: exit %d, %q", code, stderr.String())
		}
		full.Close()
	}
}
