package format

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"syscall"
	"testing"
)

// The tests in this file make the reader's ReaderAt and the writer's
// WriteTarget fail at each of their calls in turn, with the errors a disk
// gives (EIO, ENOSPC), with short transfers, and with io.EOF where the
// io.ReaderAt contract allows it: every failure must come back as an error
// that wraps the cause and says what was being read or written, never as a
// panic, a silent success or wrong data.

// ioErrnos are the errors the faults inject, as *os.File reports them.
var ioErrnos = []syscall.Errno{syscall.EIO, syscall.ENOSPC}

// faultyTarget is an in-memory WriteTarget whose call number failAt (counting
// Write and WriteAt calls from 0) fails: with err (wrapped in an
// *fs.PathError, as *os.File does), after writing half its bytes if short.
// A nil err with short is a short write without an error.
type faultyTarget struct {
	memFile
	calls  int
	failAt int
	err    error
	short  bool
}

func (f *faultyTarget) fault(p []byte) (n int, err error, failed bool) {
	call := f.calls
	f.calls++
	if call != f.failAt {
		return 0, nil, false
	}
	if f.short {
		n = len(p) / 2
	}
	if f.err != nil {
		err = &fs.PathError{Op: "write", Path: "/disk/table", Err: f.err}
	}
	return n, err, true
}

func (f *faultyTarget) Write(p []byte) (int, error) {
	if n, err, failed := f.fault(p); failed {
		f.memFile.Write(p[:n])
		return n, err
	}
	return f.memFile.Write(p)
}

func (f *faultyTarget) WriteAt(p []byte, off int64) (int, error) {
	if n, err, failed := f.fault(p); failed {
		f.memFile.WriteAt(p[:n], off)
		return n, err
	}
	return f.memFile.WriteAt(p, off)
}

// ioLayout is a table large enough for the Writer's 1 MiB buffer to flush
// several times: tokens, positions and metadata.
var ioLayout = Layout{Rows: 3000, Dim: 200, Positions: 64}

// writeSequence writes a whole table with layout l to w, in chunks, and
// returns the error of each step in order (nil for steps that succeeded).
// SetMetadata, which writes nothing, is not a step.
func writeSequence(w WriteTarget, l Layout) (errs []error) {
	tw, err := NewWriter(w, l)
	errs = append(errs, err)
	if err != nil {
		return errs
	}
	tokens := testValues(int(l.Rows)*l.Dim, 1)
	for lo := 0; lo < int(l.Rows); lo += 250 {
		hi := min(int(l.Rows), lo+250)
		errs = append(errs, tw.WriteTokens(tokens[lo*l.Dim:hi*l.Dim]))
	}
	errs = append(errs, tw.WritePositions(testValues(int(l.Positions)*l.Dim, -3)))
	if err := tw.SetMetadata([]byte(testMetadata)); err != nil {
		panic(err) // a valid document
	}
	errs = append(errs, tw.Close())
	errs = append(errs, tw.Close()) // a second Close reports the writer closed
	return errs
}

// TestWriterIOErrors fails each call the Writer makes to its target, with
// EIO and ENOSPC (and each as a short write), and with a short write without
// an error: the first failing step returns an error wrapping the cause and
// naming the write; every later step fails too; Close fails; nothing panics.
func TestWriterIOErrors(t *testing.T) {
	clean := &faultyTarget{failAt: -1}
	errs := writeSequence(clean, ioLayout)
	for i, err := range errs[:len(errs)-1] {
		if err != nil {
			t.Fatalf("clean run: step %d: %v", i, err)
		}
	}
	if last := errs[len(errs)-1]; !errors.Is(last, errWriterClosed) {
		t.Fatalf("clean run: second Close = %v", last)
	}
	calls := clean.calls
	if calls < 4 {
		t.Fatalf("a clean write made %d calls; the layout is too small to test much", calls)
	}
	if _, err := NewReader(bytes.NewReader(clean.b), int64(len(clean.b))); err != nil {
		t.Fatalf("clean run wrote an invalid table: %v", err)
	}
	type fault struct {
		err   error
		short bool
	}
	var faults []fault
	for _, e := range ioErrnos {
		faults = append(faults, fault{e, false}, fault{e, true})
	}
	faults = append(faults, fault{nil, true})
	for k := range calls {
		for _, f := range faults {
			name := fmt.Sprintf("call %d of %d, %v, short %v", k, calls, f.err, f.short)
			target := &faultyTarget{failAt: k, err: f.err, short: f.short}
			errs := writeSequence(target, ioLayout)
			first := -1
			for i, err := range errs {
				if err != nil {
					first = i
					break
				}
			}
			if first < 0 {
				t.Fatalf("%s: no step failed", name)
			}
			err := errs[first]
			want := f.err
			if want == nil {
				want = io.ErrShortWrite
			}
			if !errors.Is(err, want) {
				t.Fatalf("%s: step %d failed with %v; want it to wrap %v", name, first, err, want)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "embstore: write") {
				t.Fatalf("%s: error %q does not say it was writing", name, msg)
			}
			for i, e := range errs[first:] {
				if e == nil {
					t.Fatalf("%s: step %d succeeded after step %d failed", name, first+i, first)
				}
			}
		}
	}
	t.Logf("%d calls per table, each failed %d ways", calls, len(faults))
}

// faultyReaderAt reads from b; call number failAt fails with err (wrapped
// as *os.File wraps it), after reading half the bytes if short. eofAtEnd
// makes every read that reaches the end of b return io.EOF with its bytes,
// which the io.ReaderAt contract allows.
type faultyReaderAt struct {
	b        []byte
	calls    int
	failAt   int
	err      error
	short    bool
	eofAtEnd bool
}

func (r *faultyReaderAt) ReadAt(p []byte, off int64) (int, error) {
	call := r.calls
	r.calls++
	if off < 0 || off > int64(len(r.b)) {
		return 0, io.EOF
	}
	n := copy(p, r.b[off:])
	if call == r.failAt {
		if r.short {
			n /= 2
		} else {
			n = 0
		}
		return n, &fs.PathError{Op: "read", Path: "/disk/table", Err: r.err}
	}
	if n < len(p) || (r.eofAtEnd && off+int64(n) == int64(len(r.b))) {
		return n, io.EOF
	}
	return n, nil
}

// readSequence opens a table through r, reads every row of every row
// section in chunks and verifies it: the reader's every kind of read. It
// returns the error of each step, and what was read.
func readSequence(r io.ReaderAt, size int64) (errs []error, rows [][]float32) {
	rd, err := NewReader(r, size)
	errs = append(errs, err)
	if err != nil {
		return errs, nil
	}
	for _, s := range rd.Sections {
		if !s.Kind.IsRows() {
			continue
		}
		dst := make([]float32, s.Rows*int64(rd.Dim))
		for first := int64(0); first < s.Rows; first += 1000 {
			n := min(1000, s.Rows-first)
			errs = append(errs, rd.ReadRows(s, first, n, dst[first*int64(rd.Dim):]))
		}
		rows = append(rows, dst)
	}
	checks, err := rd.Verify()
	errs = append(errs, err)
	for _, c := range checks {
		if c.Err != nil {
			errs = append(errs, fmt.Errorf("check %s: %w", c.Name, c.Err))
		}
	}
	return errs, rows
}

// TestReaderIOErrors fails each ReadAt call the Reader makes while opening,
// reading rows and verifying a table, with EIO and ENOSPC, whole and short:
// the step that made the call returns an error wrapping the cause and
// saying what it read; earlier steps succeed. A ReaderAt that returns io.EOF
// with a complete read at the end of its input reads the table as well as
// one that returns nil.
func TestReaderIOErrors(t *testing.T) {
	file, tokens, positions := buildTable(t, ioLayout, []byte(testMetadata))
	size := int64(len(file))
	clean := &faultyReaderAt{b: file, failAt: -1}
	errs, rows := readSequence(clean, size)
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("clean run: %v", err)
	}
	if len(rows) != 2 || !equalBits(rows[0], tokens) || !equalBits(rows[1], positions) {
		t.Fatal("clean run read other values than were written")
	}
	calls := clean.calls

	eof := &faultyReaderAt{b: file, failAt: -1, eofAtEnd: true}
	errs, rows = readSequence(eof, size)
	if err := errors.Join(errs...); err != nil {
		t.Errorf("a ReaderAt returning io.EOF with the last bytes: %v", err)
	} else if !equalBits(rows[0], tokens) || !equalBits(rows[1], positions) {
		t.Error("a ReaderAt returning io.EOF with the last bytes: other values read")
	}

	for k := range calls {
		for _, e := range ioErrnos {
			for _, short := range []bool{false, true} {
				name := fmt.Sprintf("call %d of %d, %v, short %v", k, calls, e, short)
				errs, _ := readSequence(&faultyReaderAt{b: file, failAt: k, err: e, short: short}, size)
				failed := 0
				for _, err := range errs {
					if err == nil {
						continue
					}
					failed++
					if !errors.Is(err, e) {
						t.Fatalf("%s: %v does not wrap %v", name, err, e)
					}
					msg := err.Error()
					if !strings.HasPrefix(msg, "embstore: read ") {
						t.Fatalf("%s: error %q does not say what it was reading", name, msg)
					}
				}
				if failed != 1 {
					t.Fatalf("%s: %d steps failed, want exactly the one that made the call: %v", name, failed, errs)
				}
			}
		}
	}
	t.Logf("%d ReadAt calls to open, read and verify the table, each failed 4 ways", calls)
}
