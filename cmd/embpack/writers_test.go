//go:build linux

package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/embstore/embstore/internal/safetensors"
	"golang.org/x/sys/unix"
)

// runIn runs the binary in directory dir and returns its exit code, stdout
// and stderr. A process killed by a signal gets 128 + the signal, as the
// shell reports it.
func runIn(t *testing.T, dir, bin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return exitCode(t, cmd.Run()), stdout.String(), stderr.String()
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

// oneLine fails unless stderr is exactly one line holding want.
func oneLine(t *testing.T, what, stderr, want string) {
	t.Helper()
	if strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, want) {
		t.Errorf("%s: stderr %q; want one line with %q", what, stderr, want)
	}
}

// writerFixture is a directory holding a small table, its export and a
// sharded checkpoint, and the argument lists of every command that writes a
// file, given its destination.
type writerFixture struct {
	dir, table, st string
	writers        map[string]func(dest string) []string
}

func newWriterFixture(t *testing.T, bin string) *writerFixture {
	t.Helper()
	dir := t.TempDir()
	f := &writerFixture{dir: dir, table: filepath.Join(dir, "in.emb"), st: filepath.Join(dir, "in.safetensors")}
	if code, _, stderr := runIn(t, dir, bin, "init", "--rows", "50", "--dim", "8", "--seed", "1", "--positions", "4", "-q", "-o", f.table); code != 0 {
		t.Fatal(stderr)
	}
	if code, _, stderr := runIn(t, dir, bin, "export", f.table, "-q", "-o", f.st); code != 0 {
		t.Fatal(stderr)
	}
	f.writers = map[string]func(string) []string{
		"init": func(d string) []string {
			return []string{"init", "--rows", "5", "--dim", "4", "--seed", "1", "-q", "-o", d}
		},
		"convert": func(d string) []string { return []string{"convert", f.table, "--dtype", "bf16", "-q", "-o", d} },
		"import":  func(d string) []string { return []string{"import", f.st, "-q", "-o", d} },
		"export":  func(d string) []string { return []string{"export", f.table, "-q", "-o", d} },
		"demo":    func(d string) []string { return []string{"demo", "-o", d} },
	}
	return f
}

// TestWritersRefuseNonRegular: no writer turns a device node or a named
// pipe into a regular file (as root, /dev/null was renamed over), and -o -
// is refused (it created a file named "-") except by export, which streams
// the safetensors file to standard output.
func TestWritersRefuseNonRegular(t *testing.T) {
	bin := buildEmbpackBinary(t)
	f := newWriterFixture(t, bin)
	fifo := filepath.Join(f.dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	nodes := []string{fifo}
	null := filepath.Join(f.dir, "null")
	if err := unix.Mknod(null, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err == nil {
		nodes = append(nodes, null)
	} else {
		t.Logf("no device node (%v): devices untested", err)
	}
	for name, args := range f.writers {
		for _, node := range nodes {
			before, _ := os.Lstat(node)
			code, _, stderr := runIn(t, f.dir, bin, append(args(node), "--force")...)
			if code != 1 {
				t.Errorf("%s -o %s: exit %d; want 1", name, filepath.Base(node), code)
			}
			oneLine(t, name+" -o "+filepath.Base(node), stderr, "not a regular file")
			if after, err := os.Lstat(node); err != nil || after.Mode() != before.Mode() {
				t.Errorf("%s -o %s changed the node: %v", name, filepath.Base(node), after.Mode())
			}
		}
		if name == "export" {
			continue
		}
		code, _, stderr := runIn(t, f.dir, bin, args("-")...)
		if code != 2 || !strings.Contains(stderr, "standard output") {
			t.Errorf("%s -o -: exit %d, %q; want a usage error", name, code, stderr)
		}
		if _, err := os.Lstat(filepath.Join(f.dir, "-")); err == nil {
			t.Fatalf("%s -o - created a file named -", name)
		}
	}
	// export -o - writes the file to standard output.
	code, stdout, stderr := runIn(t, f.dir, bin, "export", f.table, "-o", "-")
	if code != 0 || stderr != "" {
		t.Fatalf("export -o -: exit %d, %q", code, stderr)
	}
	want, _ := os.ReadFile(f.st)
	if stdout != string(want) {
		t.Fatalf("export -o - wrote %d bytes, not the %d of export -o FILE", len(stdout), len(want))
	}
	if _, err := safetensors.NewFile(strings.NewReader(stdout), int64(len(stdout))); err != nil {
		t.Fatal(err)
	}
}

// TestWritersLinksModesOverwrite: an existing destination is refused
// without --force and replaced with it; a symbolic link is written through
// (the link stays, its target is replaced); a hard link is broken (the other
// name keeps the old table); the mode of a replaced file is kept.
func TestWritersLinksModesOverwrite(t *testing.T) {
	bin := buildEmbpackBinary(t)
	f := newWriterFixture(t, bin)
	for name, args := range f.writers {
		dest := filepath.Join(f.dir, "out-"+name)
		os.WriteFile(dest, []byte("precious"), 0o600)
		os.Chmod(dest, 0o600)
		code, _, stderr := runIn(t, f.dir, bin, args(dest)...)
		if code != 1 {
			t.Errorf("%s over an existing file: exit %d; want 1", name, code)
		}
		oneLine(t, name+" over an existing file", stderr, "exists; add --force to replace it")
		if b, _ := os.ReadFile(dest); string(b) != "precious" {
			t.Fatalf("%s replaced a file without --force", name)
		}
		if code, _, stderr := runIn(t, f.dir, bin, append(args(dest), "--force")...); code != 0 {
			t.Fatalf("%s --force: %s", name, stderr)
		}
		fi, _ := os.Stat(dest)
		if b, _ := os.ReadFile(dest); string(b) == "precious" || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s --force over a 0600 file: mode %v; want the new file with mode 0600", name, fi.Mode().Perm())
		}

		// Through a symbolic link in another directory.
		targetDir := t.TempDir()
		target := filepath.Join(targetDir, "target")
		os.WriteFile(target, []byte("old"), 0o644)
		link := filepath.Join(f.dir, "link-"+name)
		os.Symlink(target, link)
		if code, _, stderr := runIn(t, f.dir, bin, append(args(link), "--force")...); code != 0 {
			t.Fatalf("%s through a symlink: %s", name, stderr)
		}
		if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("%s replaced the symlink itself", name)
		}
		if b, _ := os.ReadFile(target); string(b) == "old" {
			t.Errorf("%s left the symlink's target stale", name)
		}
		if names := dirEntries(t, targetDir); len(names) != 1 {
			t.Errorf("%s left %v beside the target", name, names)
		}

		// A hard link keeps the old bytes under its other name.
		a, b := filepath.Join(f.dir, "a-"+name), filepath.Join(f.dir, "b-"+name)
		os.WriteFile(a, []byte("old"), 0o644)
		os.Link(a, b)
		if code, _, stderr := runIn(t, f.dir, bin, append(args(a), "--force")...); code != 0 {
			t.Fatalf("%s over a hard link: %s", name, stderr)
		}
		if got, _ := os.ReadFile(b); string(got) != "old" {
			t.Errorf("%s: the other hard link changed", name)
		}
	}
	// A new file gets 0666 minus the umask (022 here).
	old := unix.Umask(0o022)
	defer unix.Umask(old)
	fresh := filepath.Join(f.dir, "fresh.emb")
	if code, _, stderr := runIn(t, f.dir, bin, f.writers["init"](fresh)...); code != 0 {
		t.Fatal(stderr)
	}
	if fi, _ := os.Stat(fresh); fi.Mode().Perm() != 0o644 {
		t.Errorf("new table has mode %v; want 0644", fi.Mode().Perm())
	}
}

// TestWritersRefuseTheirInput: a command never writes over a file it reads,
// however the destination names it (same path, symlink, hard link), and
// even with --force: import over the checkpoint, a shard or config.json,
// export and convert over their table.
func TestWritersRefuseTheirInput(t *testing.T) {
	bin := buildEmbpackBinary(t)
	f := newWriterFixture(t, bin)
	sharded := filepath.Join(f.dir, "sharded")
	os.Mkdir(sharded, 0o755)
	src := filepath.Join(smallDir, "llama-small-sharded")
	entries, _ := os.ReadDir(src)
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(src, e.Name()))
		os.WriteFile(filepath.Join(sharded, e.Name()), b, 0o644)
	}
	alias := filepath.Join(f.dir, "alias.emb")
	os.Link(f.table, alias)
	symAlias := filepath.Join(f.dir, "sym.safetensors")
	os.Symlink("in.safetensors", symAlias)
	shard := filepath.Join(sharded, "model-00002-of-00003.safetensors")
	for _, c := range [][]string{
		{"import", f.st, "-o", f.st},
		{"import", f.st, "-o", symAlias},
		{"import", sharded, "-o", shard},
		{"import", sharded, "-o", filepath.Join(sharded, "config.json")},
		{"import", sharded, "-o", filepath.Join(sharded, "model.safetensors.index.json")},
		{"export", f.table, "-o", f.table},
		{"export", f.table, "-o", alias},
		{"convert", f.table, "--dtype", "f16", "-o", alias},
	} {
		var before [][]byte
		for _, p := range []string{f.st, f.table, shard, filepath.Join(sharded, "config.json")} {
			b, _ := os.ReadFile(p)
			before = append(before, b)
		}
		code, _, stderr := runIn(t, f.dir, bin, append(c, "--force", "-q")...)
		if code != 1 {
			t.Errorf("%v: exit %d; want 1", c, code)
		}
		oneLine(t, strings.Join(c, " "), stderr, "destination is an input of this write")
		for i, p := range []string{f.st, f.table, shard, filepath.Join(sharded, "config.json")} {
			if b, _ := os.ReadFile(p); !bytes.Equal(b, before[i]) {
				t.Fatalf("%v changed its input %s", c, p)
			}
		}
	}
}

// TestInitImpossibleSize: a table larger than the file system fails at
// once, before writing a row, and leaves nothing (it used to fill the disk:
// fallocate's EFBIG was ignored).
func TestInitImpossibleSize(t *testing.T) {
	bin := buildEmbpackBinary(t)
	dir := t.TempDir()
	start := time.Now()
	code, _, stderr := runIn(t, dir, bin, "init", "--rows", "4294967295", "--dim", "65536", "--seed", "1", "-o", "z.emb")
	if code != 1 || time.Since(start) > 10*time.Second {
		t.Fatalf("1 PiB table: exit %d after %v; want a quick failure", code, time.Since(start))
	}
	oneLine(t, "1 PiB table", stderr, "needs 1024.0 TiB")
	if names := dirEntries(t, dir); len(names) != 0 {
		t.Fatalf("left %v", names)
	}
}

// TestInterruptRemovesTemps sends SIGINT and SIGTERM to embpack init while
// it writes: it must remove its temporary file and end by the signal (130,
// 143); the destination stays as it was. demo, interrupted, removes its
// temporary directory.
func TestInterruptRemovesTemps(t *testing.T) {
	bin := buildEmbpackBinary(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		dir := t.TempDir()
		dest := filepath.Join(dir, "t.emb")
		cmd := exec.Command(bin, "init", "--rows", "400000", "--dim", "512", "--seed", "2", "-o", dest)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitForData(t, dir, tempName(dest), cmd)
		cmd.Process.Signal(sig)
		code := exitCode(t, cmd.Wait())
		if code != 128+int(sig) {
			t.Errorf("%v: exit %d; want %d", sig, code, 128+int(sig))
		}
		if names := dirEntries(t, dir); len(names) != 0 {
			t.Errorf("%v left %v", sig, names)
		}
		oneLine(t, sig.String(), stderr.String(), "interrupted")
	}
	tmp := t.TempDir()
	cmd := exec.Command(bin, "demo")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); len(dirEntries(t, tmp)) == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	if names := dirEntries(t, tmp); len(names) != 0 {
		t.Errorf("interrupted demo left %v in TMPDIR", names)
	}
}

// waitForData waits until a temporary file matching temp in dir holds data.
func waitForData(t *testing.T, dir string, temp interface{ MatchString(string) bool }, cmd *exec.Cmd) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		for _, e := range dirEntries(t, dir) {
			if st, err := os.Stat(filepath.Join(dir, e)); err == nil && temp.MatchString(e) && st.Size() > 1<<20 {
				return
			}
		}
	}
	cmd.Process.Kill()
	t.Fatal("the writer never wrote its temporary file")
}

// TestReadersRefuseFIFO: a table path that names a named pipe fails at once
// (inspect, verify, convert and export hung forever).
func TestReadersRefuseFIFO(t *testing.T) {
	bin := buildEmbpackBinary(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "t.emb")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"inspect", fifo}, {"verify", fifo},
		{"convert", fifo, "--dtype", "f16", "-o", filepath.Join(dir, "c.emb")},
		{"export", fifo, "-o", filepath.Join(dir, "e.safetensors")},
		{"import", fifo, "-o", filepath.Join(dir, "i.emb")},
	} {
		cmd := exec.Command(bin, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		cmd.Start()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if code := exitCode(t, err); code != 1 {
				t.Errorf("%s of a FIFO: exit %d", args[0], code)
			}
			oneLine(t, args[0]+" of a FIFO", stderr.String(), "named pipe")
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Errorf("%s of a FIFO hung", args[0])
		}
	}
}

// TestStdoutFailures: output to a full device fails the command with one
// line (inspect > /dev/full exited 0); output into a pipe whose reader has
// gone ends the command quietly with status 0 (it died of SIGPIPE, 141).
func TestStdoutFailures(t *testing.T) {
	bin := buildEmbpackBinary(t)
	f := newWriterFixture(t, bin)
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip(err)
	}
	defer full.Close()
	for _, args := range [][]string{{"inspect", f.table}, {"inspect", "--json", f.table}, {"verify", f.table}, {"export", f.table, "-o", "-"}, {"--help"}, {"init", "--help"}} {
		cmd := exec.Command(bin, args...)
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = full, &stderr
		if code := exitCode(t, cmd.Run()); code != 1 {
			t.Errorf("%v > /dev/full: exit %d; want 1", args, code)
		}
		oneLine(t, strings.Join(args, " ")+" > /dev/full", stderr.String(), "write standard output: no space left on device")
	}
	// A reader that stops at once: the 1.6 MB export fills the pipe.
	big := filepath.Join(f.dir, "big.emb")
	if code, _, stderr := runIn(t, f.dir, bin, "init", "--rows", "100000", "--dim", "4", "--seed", "1", "-q", "-o", big); code != 0 {
		t.Fatal(stderr)
	}
	r, w, _ := os.Pipe()
	r.Close()
	cmd := exec.Command(bin, "export", big, "-o", "-")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = w, &stderr
	err = cmd.Run()
	w.Close()
	if code := exitCode(t, err); code != 0 || stderr.Len() != 0 {
		t.Errorf("export into a closed pipe: exit %d, stderr %q; want 0 and nothing", code, stderr.String())
	}
}

// TestVerifyQuiet: -q prints nothing when every check holds and still
// reports a failure.
func TestVerifyQuiet(t *testing.T) {
	bin := buildEmbpackBinary(t)
	f := newWriterFixture(t, bin)
	if code, stdout, stderr := runIn(t, f.dir, bin, "verify", "-q", f.table); code != 0 || stdout != "" || stderr != "" {
		t.Fatalf("verify -q of a good table: exit %d, %q, %q", code, stdout, stderr)
	}
	b, _ := os.ReadFile(f.table)
	b[4096+10] ^= 1
	os.WriteFile(f.table, b, 0o644)
	code, stdout, stderr := runIn(t, f.dir, bin, "verify", "-q", f.table)
	if code != 1 || !strings.HasPrefix(stdout, "FAIL tokens") || strings.Count(stdout, "\n") != 1 {
		t.Errorf("verify -q of a damaged table: exit %d, stdout %q; want the failed check", code, stdout)
	}
	oneLine(t, "verify -q", stderr, "1 of 5 checks failed")
}

// TestHelpBooleans: help shows boolean flags as plain --name.
func TestHelpBooleans(t *testing.T) {
	for _, sub := range subcommands() {
		name := strings.TrimPrefix(sub.Name, "embpack ")
		code, stdout, _ := runCmd(t, name, "--help")
		if code != 0 || strings.Contains(stdout, "[=true|false]") || !strings.Contains(stdout, "  -h, --help ") {
			t.Errorf("%s --help: exit %d\n%s", name, code, stdout)
		}
	}
	_, stdout, _ := runCmd(t, "init", "--help")
	for _, want := range []string{"  -q, --quiet ", "  -f, --force ", "--rows int ", `(default "embedding")`} {
		if !strings.Contains(stdout, want) {
			t.Errorf("init --help lacks %q:\n%s", want, stdout)
		}
	}
}

// TestShardWriters: shard and unshard follow the writers' rules too: an
// existing manifest or table is refused without --force, unshard never
// writes over a shard or the manifest it reads, and -o - is refused.
func TestShardWriters(t *testing.T) {
	bin := buildEmbpackBinary(t)
	f := newWriterFixture(t, bin)
	dir := filepath.Join(f.dir, "shards")
	shard := []string{"shard", f.table, "--shards", "2", "-q", "-o", dir}
	if code, _, stderr := runIn(t, f.dir, bin, shard...); code != 0 {
		t.Fatal(stderr)
	}
	manifest, _ := os.ReadFile(filepath.Join(dir, "manifest.json"))
	code, _, stderr := runIn(t, f.dir, bin, shard...)
	if code != 1 {
		t.Errorf("shard into a directory with a manifest: exit %d", code)
	}
	oneLine(t, "shard again", stderr, "exists; add --force to replace it")
	if code, _, stderr := runIn(t, f.dir, bin, append(shard, "--force")...); code != 0 {
		t.Fatalf("shard --force: %s", stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "manifest.json")); !bytes.Equal(b, manifest) {
		t.Error("the same split wrote another manifest")
	}
	entries := dirEntries(t, dir)
	back := filepath.Join(f.dir, "back.emb")
	if code, _, stderr := runIn(t, f.dir, bin, "unshard", dir, "-q", "-o", back); code != 0 {
		t.Fatal(stderr)
	}
	code, _, stderr = runIn(t, f.dir, bin, "unshard", dir, "-q", "-o", back)
	if code != 1 {
		t.Errorf("unshard over an existing table: exit %d", code)
	}
	oneLine(t, "unshard again", stderr, "exists; add --force to replace it")
	for _, victim := range []string{filepath.Join(dir, entries[0]), filepath.Join(dir, "manifest.json")} {
		before, _ := os.ReadFile(victim)
		code, _, stderr := runIn(t, f.dir, bin, "unshard", dir, "-q", "--force", "-o", victim)
		if code != 1 {
			t.Errorf("unshard -o %s: exit %d", filepath.Base(victim), code)
		}
		oneLine(t, "unshard over its input", stderr, "destination is an input of this write")
		if after, _ := os.ReadFile(victim); !bytes.Equal(before, after) {
			t.Fatalf("unshard wrote over %s", victim)
		}
	}
	for _, args := range [][]string{{"unshard", dir, "-o", "-"}, {"shard", f.table, "--shards", "2", "-o", "-"}} {
		if code, _, stderr := runIn(t, f.dir, bin, args...); code != 2 || !strings.Contains(stderr, "standard output") {
			t.Errorf("%s -o -: exit %d, %q", args[0], code, stderr)
		}
	}
}

// TestInterruptWordVectorImport interrupts an import of word vectors while
// it writes rows: the write that the signal handler fails (its temporary
// file removed) must not be reported as the command's error, with status 1
// and a second line, before the handler ends the process by the signal.
// (By hand, before the fix, 5 of 8 such interrupts of a 130 MB import
// ended with status 1; this test did not catch it here, but guards the
// path.)
func TestInterruptWordVectorImport(t *testing.T) {
	bin := buildEmbpackBinary(t)
	src := filepath.Join(t.TempDir(), "w.txt")
	f, err := os.Create(src)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	const rows, dim = 300000, 48
	values := strings.Repeat(" 0.25 -1.5 0.125 2.0625 0.5 -0.75", dim/6)
	fmt.Fprintf(w, "%d %d\n", rows, dim)
	for i := range rows {
		fmt.Fprintf(w, "w%d%s\n", i, values)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGINT, syscall.SIGTERM} {
		dir := t.TempDir()
		dest := filepath.Join(dir, "w.emb")
		cmd := exec.Command(bin, "import", src, "-q", "-o", dest)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// As soon as the temporary file exists: the rows are being
		// written (the whole import takes a few tenths of a second).
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if names := dirEntries(t, dir); len(names) > 0 && tempName(dest).MatchString(names[0]) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		cmd.Process.Signal(sig)
		code := exitCode(t, cmd.Wait())
		t.Logf("%v: exit %d", sig, code)
		if code != 128+int(sig) {
			t.Errorf("%v: exit %d; want %d (stderr %q)", sig, code, 128+int(sig), stderr.String())
		}
		if names := dirEntries(t, dir); len(names) != 0 {
			t.Errorf("%v left %v", sig, names)
		}
		oneLine(t, sig.String(), stderr.String(), "interrupted")
	}
}
