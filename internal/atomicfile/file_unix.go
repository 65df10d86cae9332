//go:build unix

package atomicfile

import (
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// lockFile takes an exclusive advisory lock on f, released when f is closed
// or the process dies.
func lockFile(f *os.File) { _ = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) }

// tryLockFile reports whether an exclusive lock on f could be taken, that is,
// whether no live process holds one.
func tryLockFile(f *os.File) bool {
	return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil
}

// syncDir fsyncs a directory so that a rename in it is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// keepOwnerAndMode gives the temporary file f the owner, group and
// permission bits of the file it will replace. Changing the owner needs
// privileges most processes lack, and the group needs membership: what
// cannot be kept is left as created. The mode is set after the owner,
// because chown clears set-id bits.
func keepOwnerAndMode(f *os.File, old fs.FileInfo) {
	if st, ok := old.Sys().(*syscall.Stat_t); ok {
		if cur, err := f.Stat(); err == nil {
			if c, ok := cur.Sys().(*syscall.Stat_t); ok && (c.Uid != st.Uid || c.Gid != st.Gid) {
				if f.Chown(int(st.Uid), int(st.Gid)) != nil {
					_ = f.Chown(-1, int(st.Gid))
				}
			}
		}
	}
	_ = f.Chmod(old.Mode().Perm())
}

// errNoSpace is the error of a write to a full file system.
var errNoSpace error = unix.ENOSPC

// linkNoReplace renames old to new unless new exists, atomically, with a
// hard link: link fails with EEXIST if new exists. Where the file system
// has no hard links it falls back to a check and a rename, which a file
// created in between would lose to.
func linkNoReplace(old, new string) error {
	err := os.Link(old, new)
	if err == nil {
		return os.Remove(old)
	}
	if os.IsExist(err) {
		return &fs.PathError{Op: "rename", Path: new, Err: fs.ErrExist}
	}
	if _, serr := os.Lstat(new); serr == nil {
		return &fs.PathError{Op: "rename", Path: new, Err: fs.ErrExist}
	}
	return os.Rename(old, new)
}
