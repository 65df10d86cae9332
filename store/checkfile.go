package store

import (
	"bytes"
	"errors"
	"fmt"
	"unsafe"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/errctx"
)

// ErrModified is wrapped by the error CheckFile returns when the file a
// Table maps has been written to in place since Open.
var ErrModified = errors.New("embstore: table file modified in place while open")

// CheckFile reports whether the file the table maps is still the file Open
// validated: the same size and modification time, and the same header
// bytes. It returns nil if so, and an error wrapping ErrModified if another
// program has written into the file in place (cp over it, a program opening
// it for writing). Lookups then read whatever bytes the file holds now,
// possibly a mix of old and new rows, while Header and Metadata still
// describe the file as it was; the table should be closed and reopened.
//
// A file replaced by rename (as embpack and format.Create publish tables) is
// not modified: the table keeps the old file, whose bytes do not change, and
// CheckFile returns nil. Reopen the path to see the new table.
//
// CheckFile costs a stat call and a 4 KiB comparison: cheap enough to call
// after each batch of work, too dear for every lookup.
func (t *Table) CheckFile() error {
	s := t.rd.enter()
	if s == nil {
		return ErrClosed
	}
	defer s.leave()
	name := t.f.Name()
	fi, err := t.f.Stat()
	if err != nil {
		return errctx.In("embstore", "check "+name, err)
	}
	modified := func(format string, args ...any) error {
		return errctx.In("embstore", name, fmt.Errorf("%w: "+format, append([]any{ErrModified}, args...)...))
	}
	switch {
	case fi.Size() != t.openInfo.Size():
		return modified("now %d bytes, %d when opened", fi.Size(), t.openInfo.Size())
	case !fi.ModTime().Equal(t.openInfo.ModTime()):
		return modified("modification time %s, %s when opened",
			fi.ModTime().Format("2006-01-02T15:04:05.000000000Z07:00"), t.openInfo.ModTime().Format("2006-01-02T15:04:05.000000000Z07:00"))
	}
	cur := make([]byte, format.HeaderSize)
	if err := guard(func() error { _, err := t.ra.ReadAt(cur, 0); return err }); err != nil {
		return modified("reading the header page: %v", err)
	}
	if !bytes.Equal(cur, t.hdrBytes) {
		return modified("the header differs from the one validated at open")
	}
	return nil
}

// diagnose fills in what most likely caused fault fe: a read of a page the
// file no longer has (it was truncated), a write into the read-only mapping
// (a row from View modified), or an address outside the table's mapping.
// The file's size is the first evidence: some platforms (s390x under
// emulation among them) report fault addresses that cannot be trusted.
func (t *Table) diagnose(fe *FaultError) {
	fe.OpenSize = t.openInfo.Size()
	if fi, err := t.f.Stat(); err == nil {
		fe.Size = fi.Size()
		if fe.Size < fe.OpenSize {
			fe.Cause = FaultTruncated
			return
		}
	}
	if data := t.m.bytes(); data != nil {
		lo := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
		if fe.Addr < lo || fe.Addr-lo >= uintptr(len(data)) {
			fe.Cause = FaultOutside
			return
		}
	}
	if fe.Size == 0 {
		return // the file could not be examined
	}
	// Every page of the mapping is backed by the file, which is still
	// whole: a read there cannot fault, so it was a write (or an I/O error
	// reading the page).
	fe.Cause = FaultWrite
}
