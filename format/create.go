package format

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// tempMarker is part of the name of every temporary file a FileWriter
// creates, so that a later write can recognise (and remove) one left behind
// by a killed writer: ".<dest>.embstore-tmp-<random>".
const tempMarker = ".embstore-tmp-"

// staleAge is how old an unlocked temporary file must be before Create
// removes it. The age guards the instant between another writer creating its
// temporary file and locking it.
var staleAge = 2 * time.Second

// A FileWriter writes a table file atomically: rows go to a temporary file in
// the destination's directory, and Commit renames it over the destination
// only once it is complete and synced. Until then the destination is
// untouched; a crash leaves at most the temporary file, which a later Create
// in the same directory removes. A file another process has mapped is never
// rewritten in place. On Linux the kernel is asked to start writing the rows
// to disk as they come (writeback.go), so that Commit's sync waits less.
type FileWriter struct {
	*Writer
	f         *os.File
	tmp, dest string
	done      bool
}

// Create starts writing a table with layout l to path. Use the embedded
// Writer to write rows, then Commit; call Abort (for instance deferred) to
// give up, which removes the temporary file. Create also removes temporary
// files that killed writers left in the directory.
func Create(path string, l Layout) (*FileWriter, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if base == "" {
		return nil, &os.PathError{Op: "create", Path: path, Err: errors.New("not a file name")}
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return nil, &os.PathError{Op: "create", Path: path, Err: errors.New("is a directory")}
	}
	removeStaleTemps(dir)
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(dir, "."+base+tempMarker+hex.EncodeToString(rnd[:]))
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	lockFile(f) // held until the file is closed; tells other writers it is alive
	w, err := NewWriter(&writebackFile{File: f}, l)
	if err == nil {
		// Reserve the table's space now, where the file system can: a disk
		// too small for the table fails here, at once, not after minutes of
		// writing.
		if size, _ := l.Size(0); preallocate(f, size) == errNoSpace {
			err = fmt.Errorf("embstore: write %s: %d bytes needed: %w", path, size, errNoSpace)
		}
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, err
	}
	w.name = path
	return &FileWriter{Writer: w, f: f, tmp: tmp, dest: path}, nil
}

// Commit finishes the table (see Writer.Close), syncs it, renames it to the
// destination path and syncs the directory. On error the temporary file is
// removed and the destination left as it was.
func (fw *FileWriter) Commit() error {
	if fw.done {
		return errWriterClosed
	}
	err := fw.Writer.Close()
	if err == nil {
		if err = fw.f.Sync(); err != nil {
			err = fw.ioErr("sync", err)
		}
	}
	if cerr := fw.f.Close(); err == nil && cerr != nil {
		err = fw.ioErr("close", cerr)
	}
	fw.done = true
	if err == nil {
		err = os.Rename(fw.tmp, fw.dest)
	}
	if err != nil {
		os.Remove(fw.tmp)
		return err
	}
	return syncDir(filepath.Dir(fw.dest))
}

// Abort abandons the table and removes the temporary file. It does nothing
// after Commit, so it can be deferred.
func (fw *FileWriter) Abort() {
	if fw.done {
		return
	}
	fw.done = true
	fw.f.Close()
	os.Remove(fw.tmp)
}

// removeStaleTemps removes temporary files of killed writers from dir: files
// named with tempMarker that no live writer holds locked and that are older
// than staleAge. Errors are ignored: cleaning up is best effort.
func removeStaleTemps(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasPrefix(name, ".") || !strings.Contains(name, tempMarker) {
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
