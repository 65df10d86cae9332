//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/embstore/embstore/format"
	"golang.org/x/sys/unix"
)

// buildEmbpackBinary builds this command once for the calling test and
// returns the binary's path: the crash tests kill and starve it as a
// separate process.
func buildEmbpackBinary(t *testing.T) string {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		goCmd = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "embpack")
	out, err := exec.Command(goCmd, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runBinary runs the binary to completion and returns its exit code and
// standard error.
func runBinary(t *testing.T, bin string, args ...string) (int, string) {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stderr.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), stderr.String()
	}
	t.Fatalf("run %v: %v", args, err)
	return 0, ""
}

// crashSeed returns the seed of the kill delays: EMBSTORE_CRASH_SEED, to
// replay a run, or else the clock. It is logged either way, so that a
// failure can be replayed (the delays then repeat; the machine's timing may
// not).
func crashSeed(t *testing.T) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("EMBSTORE_CRASH_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("EMBSTORE_CRASH_SEED=%q is not a uint64", s)
		}
		seed = v
	}
	t.Logf("kill delays drawn with seed %d (EMBSTORE_CRASH_SEED=%d replays them)", seed, seed)
	return seed
}

// testDeadline is how long a test waits for something another process must
// do: until shortly before the test binary's own deadline (go test
// -timeout), or two minutes when it has none. A fixed few seconds fails on a
// loaded machine; the wait ends as soon as the thing happens.
func testDeadline(t *testing.T) time.Time {
	if d, ok := t.Deadline(); ok {
		return d.Add(-5 * time.Second)
	}
	return time.Now().Add(2 * time.Minute)
}

// tempName matches the temporary files a table writer creates for dest.
func tempName(dest string) *regexp.Regexp {
	return regexp.MustCompile(`^\.` + regexp.QuoteMeta(filepath.Base(dest)) + `\.embstore-tmp-[0-9a-f]{16}$`)
}

// checkTable checks that the file at path is a complete table: it opens and
// every checksum and padding check passes.
func checkTable(t *testing.T, path string) {
	t.Helper()
	f, err := format.Open(path)
	if err != nil {
		t.Fatalf("%s is not a valid table: %v", path, err)
	}
	defer f.Close()
	if _, err := f.Verify(); err != nil {
		t.Fatalf("%s does not verify: %v", path, err)
	}
}

// A writeCommand is an embpack command that writes a table to dest.
type writeCommand struct {
	name string
	args func(dest string) []string
}

// writeCommands returns init, convert and import, each writing a table of
// tens of megabytes (sources are prepared in srcDir), replacing dest if it
// exists.
func writeCommands(t *testing.T, bin, srcDir string) []writeCommand {
	t.Helper()
	src := filepath.Join(srcDir, "src.emb")
	st := filepath.Join(srcDir, "src.safetensors")
	if code, stderr := runBinary(t, bin, "init", "--rows", "30000", "--dim", "128", "--seed", "11", "--positions", "64", "-q", "-o", src); code != 0 {
		t.Fatal(stderr)
	}
	if code, stderr := runBinary(t, bin, "export", src, "-o", st); code != 0 {
		t.Fatal(stderr)
	}
	return []writeCommand{
		{"init", func(dest string) []string {
			return []string{"init", "--rows", "40000", "--dim", "128", "--seed", "5", "--positions", "32", "-q", "--force", "-o", dest}
		}},
		{"convert", func(dest string) []string {
			return []string{"convert", src, "--dtype", "bf16", "-q", "--force", "-o", dest}
		}},
		{"import", func(dest string) []string {
			return []string{"import", st, "--dtype", "f16", "-q", "--force", "-o", dest}
		}},
	}
}

// TestKilledWritersLeaveNoPartialTable kills embpack init, convert and import
// with SIGKILL at random moments, into an empty destination and over an
// existing table. After every kill the destination must be absent, the old
// table unchanged, or the complete new table (which opens and verifies), and
// nothing but recognisably named temporary files may be left. Then the
// temporary files the kills left are cleaned up by the next write into the
// directory once they are stale, and not before.
func TestKilledWritersLeaveNoPartialTable(t *testing.T) {
	bin := buildEmbpackBinary(t)
	srcDir := t.TempDir()
	old := filepath.Join(srcDir, "old.emb")
	if code, stderr := runBinary(t, bin, "init", "--rows", "10", "--dim", "8", "--seed", "99", "-q", "-o", old); code != 0 {
		t.Fatal(stderr)
	}
	oldBytes, err := os.ReadFile(old)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(crashSeed(t), 1))
	for _, wc := range writeCommands(t, bin, srcDir) {
		t.Run(wc.name, func(t *testing.T) {
			dir := t.TempDir()
			dest := filepath.Join(dir, "t.emb")
			// The complete output, and how long it takes to write.
			start := time.Now()
			if code, stderr := runBinary(t, bin, wc.args(dest)...); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			full := time.Since(start)
			newBytes, err := os.ReadFile(dest)
			if err != nil {
				t.Fatal(err)
			}
			temp := tempName(dest)
			outcomes := map[string]int{}
			const kills = 12
			for i := range kills {
				withOld := i%2 == 0
				if withOld {
					if err := os.WriteFile(dest, oldBytes, 0o644); err != nil {
						t.Fatal(err)
					}
				} else if err := os.Remove(dest); err != nil && !os.IsNotExist(err) {
					t.Fatal(err)
				}
				cmd := exec.Command(bin, wc.args(dest)...)
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				delay := time.Duration(rng.Int64N(int64(full) * 5 / 4))
				time.Sleep(delay)
				cmd.Process.Kill() // SIGKILL
				cmd.Wait()

				b, err := os.ReadFile(dest)
				switch {
				case os.IsNotExist(err) && !withOld:
					outcomes["absent"]++
				case err != nil:
					t.Fatalf("kill after %v: destination: %v", delay, err)
				case withOld && bytes.Equal(b, oldBytes):
					outcomes["old table"]++
				case bytes.Equal(b, newBytes):
					outcomes["new table"]++
					checkTable(t, dest)
				default:
					t.Fatalf("kill after %v (old table there: %v) left a %d-byte file at the destination that is neither the old nor the new table", delay, withOld, len(b))
				}
				for _, e := range dirEntries(t, dir) {
					if e != "t.emb" && !temp.MatchString(e) {
						t.Fatalf("kill after %v left %q in the directory", delay, e)
					}
				}
			}
			temps := matching(t, dir, temp)
			t.Logf("%d kills over %v: %v; %d temporary files left", kills, full*5/4, outcomes, len(temps))
			if outcomes["absent"]+outcomes["old table"] == 0 {
				t.Fatalf("no kill landed before the table was complete (%v): the test proves nothing", outcomes)
			}
			if wc.name != "init" {
				return
			}
			if len(temps) == 0 {
				t.Fatal("no kill left a temporary file to clean up")
			}
			// Fresh temporary files may belong to live writers that have
			// not locked them yet: the next write leaves them alone.
			now := time.Now()
			for _, p := range temps {
				os.Chtimes(filepath.Join(dir, p), now, now)
			}
			if code, stderr := runBinary(t, bin, "init", "--rows", "4", "--dim", "4", "--seed", "1", "-q", "-o", filepath.Join(dir, "a.emb")); code != 0 {
				t.Fatal(stderr)
			}
			if left := matching(t, dir, temp); len(left) != len(temps) {
				t.Fatalf("a write removed fresh temporary files: %d of %d left", len(left), len(temps))
			}
			// Once they are older than a writer could take to lock its
			// own, the next write removes them.
			hourAgo := now.Add(-time.Hour)
			for _, p := range temps {
				os.Chtimes(filepath.Join(dir, p), hourAgo, hourAgo)
			}
			if code, stderr := runBinary(t, bin, "init", "--rows", "4", "--dim", "4", "--seed", "1", "-q", "-o", filepath.Join(dir, "b.emb")); code != 0 {
				t.Fatal(stderr)
			}
			if left := matching(t, dir, temp); len(left) != 0 {
				t.Fatalf("stale temporary files not removed: %v", left)
			}
			checkTable(t, filepath.Join(dir, "a.emb"))
			checkTable(t, filepath.Join(dir, "b.emb"))
		})
	}
}

// TestLiveWriterTempSurvives stops a writer (SIGSTOP) while it writes, makes
// its temporary file look an hour old, and runs another write into the same
// directory: the stopped writer still holds its lock, so its temporary file
// must survive, and once continued it must complete a valid table.
func TestLiveWriterTempSurvives(t *testing.T) {
	bin := buildEmbpackBinary(t)
	dir := t.TempDir()
	dest := filepath.Join(dir, "live.emb")
	cmd := exec.Command(bin, "init", "--rows", "60000", "--dim", "128", "--seed", "2", "-q", "-o", dest)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	temp := tempName(dest)
	var tmp string
	for deadline := testDeadline(t); tmp == "" && time.Now().Before(deadline); {
		// A temporary file holding data has been locked: the writer locks
		// it before writing anything.
		for _, name := range matching(t, dir, temp) {
			if st, err := os.Stat(filepath.Join(dir, name)); err == nil && st.Size() > 0 {
				tmp = filepath.Join(dir, name)
			}
		}
		time.Sleep(time.Millisecond)
	}
	if tmp == "" {
		t.Fatal("the writer never wrote its temporary file")
	}
	if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	hourAgo := time.Now().Add(-time.Hour)
	if err := os.Chtimes(tmp, hourAgo, hourAgo); err != nil {
		t.Fatal(err)
	}
	if code, stderr := runBinary(t, bin, "init", "--rows", "4", "--dim", "4", "--seed", "1", "-q", "-o", filepath.Join(dir, "other.emb")); code != 0 {
		t.Fatal(stderr)
	}
	if _, err := os.Stat(tmp); err != nil {
		t.Fatalf("a live writer's temporary file was removed: %v", err)
	}
	if err := cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the continued writer failed: %v", err)
	}
	checkTable(t, dest)
	if left := matching(t, dir, temp); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

// TestDiskFull writes tables into a 1 MiB tmpfs with init, convert and
// import: a table that does not fit fails with one clear error line, leaves
// no file and no temporary file, and leaves an existing table at the
// destination as it was; tables around the size of the file system either
// fit and verify, or fail the same clean way.
func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	full := filepath.Join(dir, "full")
	if err := os.Mkdir(full, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", full, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("cannot mount a 1 MiB tmpfs here (%v): disk-full behaviour untested", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(full, 0); err != nil {
			t.Errorf("unmount %s: %v", full, err)
		}
	})
	bin := buildEmbpackBinary(t)
	dest := filepath.Join(full, "t.emb")
	oldDest := filepath.Join(full, "old.emb")
	if code, stderr := runBinary(t, bin, "init", "--rows", "100", "--dim", "64", "--seed", "3", "-q", "-o", oldDest); code != 0 {
		t.Fatal(stderr)
	}
	oldBytes, err := os.ReadFile(oldDest)
	if err != nil {
		t.Fatal(err)
	}
	onlyOld := func() {
		t.Helper()
		if names := dirEntries(t, full); len(names) != 1 || names[0] != "old.emb" {
			t.Fatalf("the file system holds %v; want only old.emb", names)
		}
		if b, err := os.ReadFile(oldDest); err != nil || !bytes.Equal(b, oldBytes) {
			t.Fatalf("the existing table changed: %v", err)
		}
	}
	failsCleanly := func(name string, args []string) {
		t.Helper()
		code, stderr := runBinary(t, bin, args...)
		lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
		if code != 1 || len(lines) != 1 || !strings.Contains(stderr, "no space left on device") ||
			strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine") {
			t.Fatalf("%s on a full disk: exit %d, stderr %q; want exit 1 and one line saying the disk is full", name, code, stderr)
		}
		t.Logf("%s: %s", name, strings.TrimSpace(stderr))
	}
	for _, wc := range writeCommands(t, bin, dir) {
		failsCleanly(wc.name, wc.args(dest))
		onlyOld()
		failsCleanly(wc.name+" over an existing table", wc.args(oldDest))
		onlyOld()
	}
	// Around the capacity of the file system, the disk fills up at
	// different moments: while rows are written, at the last flush, at the
	// header, at the sync.
	fits, fails := 0, 0
	for rows := 1900; rows <= 2200; rows += 20 {
		code, stderr := runBinary(t, bin, "init", "--rows", fmt.Sprint(rows), "--dim", "128", "--seed", "4", "--positions", "2", "-o", dest)
		if code == 0 {
			fits++
			checkTable(t, dest)
			if err := os.Remove(dest); err != nil {
				t.Fatal(err)
			}
		} else {
			fails++
			if code != 1 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "no space left on device") {
				t.Fatalf("init of %d rows: exit %d, stderr %q", rows, code, stderr)
			}
		}
		onlyOld()
	}
	if fits == 0 || fails == 0 {
		t.Fatalf("%d tables fitted and %d did not: the sizes do not straddle the capacity", fits, fails)
	}
}

func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func matching(t *testing.T, dir string, re *regexp.Regexp) []string {
	t.Helper()
	var out []string
	for _, name := range dirEntries(t, dir) {
		if re.MatchString(name) {
			out = append(out, name)
		}
	}
	return out
}
