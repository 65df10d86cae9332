package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// write writes content to path through a File and commits it.
func write(path, content string, o *Options) error {
	f, err := Create(path, o)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := f.WriteString(content); err != nil {
		return err
	}
	return f.Commit()
}

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// onlyNames fails unless dir holds exactly the given names: no temporary
// file is left behind.
func onlyNames(t *testing.T, dir string, want ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("%s holds %v; want %v", dir, got, want)
	}
}

func TestReplaceAndAbort(t *testing.T) {
	dir := t.TempDir()
	dest := filepath.Join(dir, "t.emb")
	if err := write(dest, "old", nil); err != nil {
		t.Fatal(err)
	}
	f, err := Create(dest, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("half")
	f.Abort()
	if got := readString(t, dest); got != "old" {
		t.Fatalf("aborted write changed the destination to %q", got)
	}
	onlyNames(t, dir, "t.emb")
	if err := write(dest, "new", nil); err != nil {
		t.Fatal(err)
	}
	if got := readString(t, dest); got != "new" {
		t.Fatalf("destination holds %q after a replace", got)
	}
	onlyNames(t, dir, "t.emb")
}

// TestRefusesNonRegular: a directory, a named pipe and a device node are
// refused and left as they are. Renaming over them would replace the node
// (as root, /dev/null became a regular file).
func TestRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	nodes := map[string]func(string) error{
		"dir":  func(p string) error { return os.Mkdir(p, 0o755) },
		"fifo": mkfifo,
		"chr":  mkCharDevice,
	}
	for name, mk := range nodes {
		p := filepath.Join(dir, name)
		if err := mk(p); err != nil {
			t.Logf("cannot make a %s here (%v); not tested", name, err)
			continue
		}
		before, _ := os.Lstat(p)
		err := write(p, "table", nil)
		if !errors.Is(err, ErrNotRegular) {
			t.Errorf("%s: %v; want ErrNotRegular", name, err)
		}
		if err != nil && !strings.Contains(err.Error(), p) {
			t.Errorf("%s: message %q does not name the destination", name, err)
		}
		after, _ := os.Lstat(p)
		if after.Mode() != before.Mode() {
			t.Errorf("%s: mode changed from %v to %v", name, before.Mode(), after.Mode())
		}
	}
	// A link to a node is refused too; so is a link to nothing.
	link := filepath.Join(dir, "link")
	os.Symlink("fifo", link)
	if _, err := os.Lstat(filepath.Join(dir, "fifo")); err == nil {
		if err := write(link, "x", nil); !errors.Is(err, ErrNotRegular) {
			t.Errorf("symlink to a fifo: %v; want ErrNotRegular", err)
		}
	}
	dangling := filepath.Join(dir, "dangling")
	os.Symlink("missing.emb", dangling)
	if err := write(dangling, "x", nil); !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), "missing file") {
		t.Errorf("dangling symlink: %v; want ErrNotRegular, a link to a missing file", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.emb")); err == nil {
		t.Error("a write through a dangling link created its target")
	}
	if err := write(dir+string(filepath.Separator), "x", nil); err == nil {
		t.Error("a path ending in a separator was accepted")
	}
}

// TestSymlinkFollowed: writing to a symbolic link replaces the file it
// points to (in its own directory) and keeps the link.
func TestSymlinkFollowed(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	target := filepath.Join(other, "real.emb")
	if err := write(target, "old", nil); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "t.emb")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := write(link, "new", nil); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v %v", fi.Mode(), err)
	}
	if got := readString(t, target); got != "new" {
		t.Fatalf("target holds %q; want the new file", got)
	}
	onlyNames(t, dir, "t.emb")
	onlyNames(t, other, "real.emb")
}

// TestHardLinkBroken: the path written names the new file; another name of
// the old file keeps the old bytes (as mapped readers of it do).
func TestHardLinkBroken(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.emb"), filepath.Join(dir, "b.emb")
	if err := write(a, "old", nil); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(a, b); err != nil {
		t.Skip("no hard links here:", err)
	}
	if err := write(a, "new", nil); err != nil {
		t.Fatal(err)
	}
	if readString(t, a) != "new" || readString(t, b) != "old" {
		t.Fatalf("a = %q, b = %q; want new, old", readString(t, a), readString(t, b))
	}
}

// TestModeKept: a replaced file keeps its permission bits, from the moment
// the temporary file exists (before any data is in it); a new file gets
// 0666 minus the umask.
func TestModeKept(t *testing.T) {
	dir := t.TempDir()
	dest := filepath.Join(dir, "secret.emb")
	if err := os.WriteFile(dest, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dest, 0o600)
	f, err := Create(dest, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := f.Stat(); fi.Mode().Perm() != 0o600 {
		t.Errorf("temporary file of a 0600 table has mode %v before any data", fi.Mode().Perm())
	}
	f.WriteString("new")
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dest); fi.Mode().Perm() != 0o600 {
		t.Errorf("a 0600 table came back %v", fi.Mode().Perm())
	}
	fresh := filepath.Join(dir, "fresh.emb")
	if err := write(fresh, "x", nil); err != nil {
		t.Fatal(err)
	}
	want := fs.FileMode(0o666) &^ umask()
	if fi, _ := os.Stat(fresh); fi.Mode().Perm() != want {
		t.Errorf("new file has mode %v; want %v (0666 minus the umask)", fi.Mode().Perm(), want)
	}
}

func TestNoReplace(t *testing.T) {
	dir := t.TempDir()
	dest := filepath.Join(dir, "t.emb")
	if err := write(dest, "old", nil); err != nil {
		t.Fatal(err)
	}
	if err := write(dest, "new", &Options{NoReplace: true}); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("NoReplace over an existing file: %v; want fs.ErrExist", err)
	}
	// A file that appears while the new one is written is not replaced.
	late := filepath.Join(dir, "late.emb")
	f, err := Create(late, &Options{NoReplace: true})
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("mine")
	os.WriteFile(late, []byte("theirs"), 0o644)
	if err := f.Commit(); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Commit over a file created meanwhile: %v; want fs.ErrExist", err)
	}
	if readString(t, late) != "theirs" || readString(t, dest) != "old" {
		t.Fatal("NoReplace replaced a file")
	}
	onlyNames(t, dir, "late.emb", "t.emb")
	if err := write(filepath.Join(dir, "new.emb"), "x", &Options{NoReplace: true}); err != nil {
		t.Fatalf("NoReplace to a new file: %v", err)
	}
}

// TestSameFile: a destination that is one of the inputs is refused however
// it is named, before anything is written.
func TestSameFile(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.emb")
	if err := write(in, "source", nil); err != nil {
		t.Fatal(err)
	}
	sym := filepath.Join(dir, "sym.emb")
	hard := filepath.Join(dir, "hard.emb")
	os.Symlink("in.emb", sym)
	os.Link(in, hard)
	other := filepath.Join(dir, "other.emb")
	for _, dest := range []string{in, sym, hard, filepath.Join(dir, ".", "in.emb")} {
		if err := write(dest, "oops", &Options{Inputs: []string{other, in}}); !errors.Is(err, ErrSameFile) {
			t.Errorf("%s: %v; want ErrSameFile", dest, err)
		}
	}
	if readString(t, in) != "source" {
		t.Fatal("an input was overwritten")
	}
	if err := write(other, "fine", &Options{Inputs: []string{in}}); err != nil {
		t.Fatal(err)
	}
}

// TestNoSpace: a file larger than the free space fails at Create, before any
// data, leaving nothing behind.
func TestNoSpace(t *testing.T) {
	dir := t.TempDir()
	dest := filepath.Join(dir, "huge.emb")
	start := time.Now()
	_, err := Create(dest, &Options{Size: 1 << 60})
	if err == nil {
		t.Skip("this file system claims an exabyte free")
	}
	if !errors.Is(err, ErrNoSpace) && !strings.Contains(err.Error(), "largest file") {
		t.Fatalf("1 EiB file: %v; want ErrNoSpace", err)
	}
	if !strings.Contains(err.Error(), "1.0 EiB") {
		t.Errorf("message %q does not say how much is needed", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("refusing took %v", time.Since(start))
	}
	onlyNames(t, dir)
}

// TestInterrupt: Interrupt removes the temporary files of live writers and
// no later Commit or Create succeeds.
func TestInterrupt(t *testing.T) {
	defer func() { live.Lock(); live.interrupted = false; live.Unlock() }()
	dir := t.TempDir()
	dest := filepath.Join(dir, "t.emb")
	write(dest, "old", nil)
	a, _ := Create(dest, nil)
	b, _ := Create(filepath.Join(dir, "b.emb"), nil)
	a.WriteString("new")
	Interrupt()
	onlyNames(t, dir, "t.emb")
	if err := a.Commit(); err == nil {
		t.Fatal("Commit after Interrupt succeeded")
	}
	b.Abort()
	if _, err := Create(filepath.Join(dir, "c.emb"), nil); err == nil {
		t.Fatal("Create after Interrupt succeeded")
	}
	if readString(t, dest) != "old" {
		t.Fatal("destination changed")
	}
	onlyNames(t, dir, "t.emb")
}

func TestRemovesStaleTemps(t *testing.T) {
	dir := t.TempDir()
	dest := filepath.Join(dir, "t.emb")
	stale := filepath.Join(dir, ".t.emb"+TempMarker+"0123456789abcdef")
	fresh := filepath.Join(dir, ".u.emb"+TempMarker+"fedcba9876543210")
	other := filepath.Join(dir, "notes.txt")
	for _, p := range []string{stale, fresh, other} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-time.Hour)
	os.Chtimes(stale, old, old)
	os.Chtimes(other, old, old)
	// A live writer's temporary file is locked and must survive.
	live, err := Create(filepath.Join(dir, "live.emb"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Abort()
	os.Chtimes(live.Name(), old, old)

	f, err := Create(dest, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.Abort()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("stale temporary file not removed")
	}
	for _, p := range []string{fresh, other, live.Name()} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s removed: %v", filepath.Base(p), err)
		}
	}
}
