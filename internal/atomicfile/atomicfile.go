// Package atomicfile writes files the way every embstore writer must, in one
// place: table files (format.Create) and safetensors files alike.
//
// A File is a temporary file beside the destination. Commit syncs it, gives
// it the destination's mode and renames it over the destination, then syncs
// the directory, so that the destination is at every moment either absent,
// the old file or the complete new one, and a file another process has
// memory-mapped is never rewritten in place. The rules, which format/SPEC.md
// ("Writing") and the README state for users:
//
//   - The destination must be a regular file or not exist. A directory,
//     device, named pipe or socket is refused (ErrNotRegular): renaming over
//     /dev/null or a FIFO would replace the node itself.
//   - A symbolic link is followed, as cp and editors do: the file it points
//     to is replaced and the link kept. A link to a missing file is refused
//     (ErrNotRegular), as cp refuses it.
//   - A hard link is broken: the path written to names the new file, the
//     other names of the old file keep the old bytes. That is what keeps
//     readers that have the old file mapped safe.
//   - Replacing an existing file keeps its permission bits, and its owner
//     and group where the process may set them. A new file gets 0666 minus
//     the umask, as os.Create gives. The temporary file is given the final
//     mode before any data is written to it.
//   - Options.NoReplace refuses an existing destination (an error wrapping
//     fs.ErrExist), atomically: a file that appears while writing is not
//     replaced either.
//   - Options.Inputs names the files the new file is made from; a
//     destination that is the same file as one of them (same device and
//     inode, however it is named: symlink, hard link, another spelling) is
//     refused (ErrSameFile) before anything is written.
//   - Options.Size, when known, is checked against the space the file
//     system has free and reserved (fallocate on Linux) before the first
//     byte is written: a table that cannot fit fails at once (ErrNoSpace),
//     and so does one larger than the file system's largest file (EFBIG).
//   - Temporary files are named ".NAME.embstore-tmp-RANDOM" and locked while
//     their writer lives. One left behind by a killed writer is removed by
//     the next Create in the same directory once it is a few seconds old.
//     Interrupt removes the temporary files of this process, for signal
//     handlers.
package atomicfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/embstore/embstore/internal/regfile"
)

// Errors a destination can be refused with. They come wrapped in an
// *fs.PathError naming the destination.
var (
	// ErrNotRegular is returned for a destination that exists and is not a
	// regular file (or a symbolic link to one).
	ErrNotRegular = regfile.ErrNotRegular
	// ErrSameFile is returned when the destination is one of the inputs.
	ErrSameFile = errors.New("destination is an input of this write")
	// ErrNoSpace is returned when the file system has less free space than
	// the file needs. It wraps the system's ENOSPC where there is one.
	ErrNoSpace = errNoSpace
)

// Options are the optional rules of Create. The zero value replaces an
// existing destination and knows neither the inputs nor the size.
type Options struct {
	// NoReplace refuses a destination that already exists, with an error
	// wrapping fs.ErrExist, when Create is called and again, atomically,
	// when Commit renames the file into place.
	NoReplace bool
	// Inputs are the files the new file is made from. Create refuses a
	// destination that is the same file as any of them. Inputs that do not
	// exist are ignored.
	Inputs []string
	// Size is how many bytes the file will hold, if known (0: unknown). It
	// is checked against the free space of the file system and reserved.
	Size int64
}

// TempMarker is part of the name of every temporary file, so that a later
// write can recognise (and remove) one left behind by a killed writer:
// ".<dest>.embstore-tmp-<random>".
const TempMarker = ".embstore-tmp-"

// staleAge is how old an unlocked temporary file must be before Create
// removes it. The age guards the instant between another writer creating its
// temporary file and locking it.
var staleAge = 2 * time.Second

// A File is a file being written atomically. It is not safe for concurrent
// use.
type File struct {
	*os.File         // the temporary file
	dest      string // the file that Commit replaces (symlinks resolved)
	name      string // the destination as the caller named it, for messages
	noReplace bool
	done      bool
}

// live holds the temporary files of this process that are neither committed
// nor aborted, for Interrupt.
var live struct {
	sync.Mutex
	files       map[*File]struct{}
	interrupted bool
}

// Create starts writing the file path, following the rules in the package
// documentation. Write through the returned File (it is the temporary
// *os.File), then Commit; call Abort (for instance deferred) to give up,
// which removes the temporary file.
func Create(path string, o *Options) (*File, error) {
	if o == nil {
		o = &Options{}
	}
	fail := func(err error) error { return &fs.PathError{Op: "create", Path: path, Err: err} }
	if filepath.Base(path) == "." || strings.HasSuffix(path, string(filepath.Separator)) || path == "" {
		return nil, fail(errors.New("not a file name"))
	}
	dest, fi, err := resolve(path)
	if err != nil {
		return nil, err
	}
	if fi != nil {
		for _, in := range o.Inputs {
			if ifi, err := os.Stat(in); err == nil && os.SameFile(fi, ifi) {
				if filepath.Clean(in) == filepath.Clean(path) {
					return nil, fail(ErrSameFile)
				}
				return nil, fail(fmt.Errorf("%w: the same file as %s", ErrSameFile, in))
			}
		}
		if o.NoReplace {
			return nil, fail(fs.ErrExist)
		}
	}
	dir, base := filepath.Dir(dest), filepath.Base(dest)
	removeStaleTemps(dir)
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(dir, "."+base+TempMarker+hex.EncodeToString(rnd[:]))
	live.Lock()
	if live.interrupted {
		live.Unlock()
		return nil, fail(errors.New("interrupted"))
	}
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		live.Unlock()
		return nil, fail(unwrapPath(err))
	}
	af := &File{File: f, dest: dest, name: path, noReplace: o.NoReplace}
	if live.files == nil {
		live.files = make(map[*File]struct{})
	}
	live.files[af] = struct{}{}
	live.Unlock()
	lockFile(f) // held until the file is closed; tells other writers it is alive
	if fi != nil {
		keepOwnerAndMode(f, fi)
	}
	if o.Size > 0 {
		if err := reserve(f, dir, o.Size); err != nil {
			af.Abort()
			return nil, fail(err)
		}
	}
	return af, nil
}

// resolve follows path to the file a write must replace: path itself, or the
// target of the symbolic link(s) it names. It returns the file's info, or nil
// if it does not exist, and refuses what is not a regular file.
func resolve(path string) (string, fs.FileInfo, error) {
	fail := func(err error) (string, fs.FileInfo, error) {
		return "", nil, &fs.PathError{Op: "create", Path: path, Err: err}
	}
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return path, nil, nil
	}
	if err != nil {
		return fail(unwrapPath(err))
	}
	dest := path
	if fi.Mode()&fs.ModeSymlink != 0 {
		target, err := filepath.EvalSymlinks(path)
		if errors.Is(err, fs.ErrNotExist) {
			return fail(fmt.Errorf("%w: a symbolic link to a missing file", ErrNotRegular))
		}
		if err != nil {
			return fail(unwrapPath(err))
		}
		if fi, err = os.Stat(target); err != nil {
			return fail(unwrapPath(err))
		}
		dest = target
	}
	if !fi.Mode().IsRegular() {
		return fail(regfile.NotRegular(fi.Mode()))
	}
	return dest, fi, nil
}

// unwrapPath returns the cause of a *fs.PathError, whose path (often the
// temporary file's) would only confuse a message that names the
// destination.
func unwrapPath(err error) error {
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		return pe.Err
	case errors.As(err, &le):
		return le.Err
	}
	return err
}

// Commit syncs and closes the file, renames it over the destination and
// syncs the directory. On error the temporary file is removed and the
// destination left as it was. After Interrupt, Commit fails and renames
// nothing.
func (f *File) Commit() error {
	if f.done {
		return &fs.PathError{Op: "commit", Path: f.name, Err: os.ErrClosed}
	}
	f.done = true
	err := f.File.Sync()
	if cerr := f.File.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		f.forget()
		return &fs.PathError{Op: "write", Path: f.name, Err: unwrapPath(err)}
	}
	live.Lock()
	if live.interrupted {
		live.Unlock()
		return &fs.PathError{Op: "write", Path: f.name, Err: errors.New("interrupted")}
	}
	if f.noReplace {
		err = renameNoReplace(f.Name(), f.dest)
	} else {
		err = os.Rename(f.Name(), f.dest)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	delete(live.files, f)
	live.Unlock()
	if err != nil {
		return &fs.PathError{Op: "write", Path: f.name, Err: unwrapPath(err)}
	}
	if err := syncDir(filepath.Dir(f.dest)); err != nil {
		return &fs.PathError{Op: "sync directory of", Path: f.name, Err: unwrapPath(err)}
	}
	return nil
}

// Abort abandons the file and removes the temporary file. It does nothing
// after Commit, so it can be deferred.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.File.Close()
	f.forget()
}

// forget removes the temporary file and drops it from the live set.
func (f *File) forget() {
	live.Lock()
	os.Remove(f.Name())
	delete(live.files, f)
	live.Unlock()
}

// WriteFile writes b to path through Create and Commit: the small-file
// case (a manifest), with the same rules as every table. Options.Size is
// set to len(b).
func WriteFile(path string, b []byte, o *Options) error {
	var opts Options
	if o != nil {
		opts = *o
	}
	opts.Size = int64(len(b))
	f, err := Create(path, &opts)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := f.Write(b); err != nil {
		return err
	}
	return f.Commit()
}

// Dest returns the file Commit replaces: the destination with symbolic
// links resolved.
func (f *File) Dest() string { return f.dest }

// Interrupt removes the temporary file of every File of this process that
// is neither committed nor aborted, and makes every later Create and Commit
// fail, so that none is renamed into place. It is for a signal handler that
// is about to exit the process; it returns, once the files are removed, how
// many there were.
func Interrupt() int {
	live.Lock()
	defer live.Unlock()
	live.interrupted = true
	n := len(live.files)
	for f := range live.files {
		os.Remove(f.Name())
		delete(live.files, f)
	}
	return n
}

// removeStaleTemps removes temporary files of killed writers from dir: files
// named with TempMarker that no live writer holds locked and that are older
// than staleAge. Errors are ignored: cleaning up is best effort.
func removeStaleTemps(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasPrefix(name, ".") || !strings.Contains(name, TempMarker) {
			continue
		}
		info, err := e.Info()
		if err != nil || time.Since(info.ModTime()) < staleAge {
			continue
		}
		p := filepath.Join(dir, name)
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			continue
		}
		if tryLockFile(f) {
			os.Remove(p)
		}
		f.Close()
	}
}

// humanBytes formats a byte count for messages.
func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	v, i := float64(n), 0
	for v >= unit && i < 6 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTPE"[i-1])
}
