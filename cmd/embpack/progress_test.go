//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal pair: writes to the returned tty appear on
// ptmx.
func openPTY(t *testing.T) (ptmx, tty *os.File) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	fd := int(ptmx.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return ptmx, tty
}

// TestProgressOnlyOnTerminals imports with stderr on a terminal (a bar is
// drawn), on a terminal with --quiet, and on a pipe-like writer (no bar).
func TestProgressOnlyOnTerminals(t *testing.T) {
	src := filepath.Join(smallDir, "gpt2-small")
	for _, c := range []struct {
		name  string
		quiet bool
		want  bool
	}{{"terminal", false, true}, {"terminal --quiet", true, false}} {
		ptmx, tty := openPTY(t)
		got := make(chan string)
		// Read until the terminal closes (Linux then returns EIO on the
		// master side), with the test's deadline as the only time limit.
		ptmx.SetReadDeadline(testDeadline(t))
		go func() {
			var buf bytes.Buffer
			b := make([]byte, 4096)
			for {
				n, err := ptmx.Read(b)
				buf.Write(b[:n])
				if err != nil {
					got <- buf.String()
					return
				}
			}
		}()
		args := []string{"import", src, "-o", filepath.Join(t.TempDir(), "t.emb")}
		if c.quiet {
			args = append(args, "-q")
		}
		code := run(args, env{Stdin: strings.NewReader(""), Stdout: &bytes.Buffer{}, Stderr: tty})
		tty.Close()
		out := <-got
		ptmx.Close()
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", c.name, code, out)
		}
		if bar := strings.Contains(out, "importing"); bar != c.want {
			t.Errorf("%s: progress bar shown = %v, want %v; output %q", c.name, bar, c.want, out)
		}
	}
	var stderr bytes.Buffer
	code := run([]string{"import", src, "-o", filepath.Join(t.TempDir(), "t.emb")}, env{Stdin: strings.NewReader(""), Stdout: &bytes.Buffer{}, Stderr: &stderr})
	if code != 0 || strings.Contains(stderr.String(), "importing") || strings.Contains(stderr.String(), "\r") {
		t.Errorf("not a terminal: exit %d, stderr %q; want no bar", code, stderr.String())
	}
}
