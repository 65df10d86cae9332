package store

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"time"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/errctx"
	"github.com/embstore/embstore/internal/regfile"
	"github.com/embstore/embstore/kernel"
)

// A Table is an open table file, mapped read-only into memory. Its methods
// are safe for concurrent use by multiple goroutines, and take no lock:
// see "Concurrency and lifetimes" in the package documentation. Close waits
// for calls in progress to finish; calls after Close return ErrClosed.
type Table struct {
	rd *readers // every call enters and leaves; Close waits for them

	f        *os.File    // the file mapped, kept open for CheckFile
	openInfo fs.FileInfo // its size and modification time at Open
	hdrBytes []byte      // its first HeaderSize bytes at Open

	m      *mapping
	ra     io.ReaderAt // the file's bytes, for copy-out reads
	hdr    format.Header
	bounds Bounds // what arguments are checked against
	meta   []byte
	tok    *kernel.Table // the token table (no bytes when copyTo)
	pos    *kernel.Table // the positional table, nil if the table has none
	copyTo bool          // rows are copied out through ra instead of read in place
	// The bytes of the token and positional tables, for View: nil when
	// copied out (for the positional table, its copy).
	tokData, posData []byte

	sec sections // the optional sections of format 1.1 (sections.go)

	verifyDur time.Duration
	mode      MapMode
	workers   *pool // nil when Threads <= 1
	threads   int
	pf        *prefetcher // nil without Options.Prefetch
	hot       *hotLocker  // nil without Options.LockHot or LockHotIDs
}

// copyOutForTest forces the copy-out read path that platforms without a
// usable mapping take, so that tests can cover it anywhere.
var copyOutForTest = false

// Open opens the table file at path: it validates the header (see the
// format package), maps the file read-only and returns a Table. It does not
// read the rows unless opts.Verify is set, so it costs about the same for a
// table of any size. A path that is not a regular file (a directory, device
// or named pipe) is refused at once, without blocking. The file stays open
// until Close, for CheckFile.
func Open(path string, opts *Options) (*Table, error) {
	if opts == nil {
		opts = &Options{}
	}
	if opts.Mode < MapLazy || opts.Mode > MapAnonHugePages {
		return nil, fmt.Errorf("embstore: open %s: Options.Mode %d is not a map mode", path, int(opts.Mode))
	}
	if limit := MaxThreads(); opts.Threads < 0 || opts.Threads > limit {
		return nil, fmt.Errorf("embstore: open %s: Options.Threads %d out of range [0, %d] (4 per GOMAXPROCS, at least %d)",
			path, opts.Threads, limit, minMaxThreads)
	}
	if err := checkColdOptions(path, opts); err != nil {
		return nil, err
	}
	f, st, err := regfile.Open(path) // refuses a FIFO or device without blocking on it
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
		}
	}()
	r, err := format.NewReader(f, st.Size())
	if err != nil {
		return nil, errctx.In("embstore", path, err)
	}
	hdrBytes := make([]byte, format.HeaderSize)
	if _, err := f.ReadAt(hdrBytes, 0); err != nil {
		return nil, errctx.In("embstore", "read header of "+path, err)
	}
	m, err := mapFile(f, st.Size(), opts.Mode)
	if err != nil {
		return nil, err
	}
	t := &Table{rd: newReaders(), f: f, openInfo: st, hdrBytes: hdrBytes,
		m: m, hdr: r.Header, bounds: BoundsOf(&r.Header), meta: r.Metadata(), mode: opts.Mode, threads: max(1, opts.Threads)}
	if data := m.bytes(); data != nil && !copyOutForTest {
		t.ra = bytes.NewReader(data)
	} else {
		t.copyTo = true
		t.ra = m.readerAt()
	}
	// The kernel tables, built and checked once (kernel.NewTable): the
	// token table in place, or, copied out, its spec (the copy-out path
	// builds tables over the rows it copies); the positional table, which
	// is small and read on every positional lookup, in place when mapped,
	// else copied once.
	tokSec := t.hdr.Tokens()
	spec := kernel.TableSpec{Rows: t.hdr.Rows, Dim: t.hdr.Dim, Stride: int(t.hdr.RowStride), DType: t.hdr.DType,
		Scale: t.hdr.TokenScale, ComputeDType: t.hdr.ComputeDType}
	var tokData []byte
	if !t.copyTo {
		tokData = m.bytes()[tokSec.Offset:tokSec.End()]
	} else {
		spec.Rows = 0
	}
	t.tokData = tokData
	if t.tok, err = kernel.NewTable(tokData, spec); err != nil {
		m.close()
		return nil, errctx.In("embstore", path, err)
	}
	if s, ok := t.hdr.Section(format.SectionPositions); ok {
		var data []byte
		if !t.copyTo {
			data = m.bytes()[s.Offset:s.End()]
		} else {
			data = make([]byte, s.Length)
			if _, err := t.ra.ReadAt(data, s.Offset); err != nil {
				m.close()
				return nil, errctx.In("embstore", "read positional table of "+path, err)
			}
		}
		t.posData = data
		t.pos, err = kernel.NewTable(data, kernel.TableSpec{Rows: s.Rows, Dim: t.hdr.Dim, Stride: int(s.RowStride), DType: format.F32})
		if err != nil {
			m.close()
			return nil, errctx.In("embstore", path, err)
		}
	}
	if err := t.openSections(r); err != nil {
		m.close()
		return nil, errctx.In("embstore", path, err)
	}
	if opts.Verify {
		start := time.Now()
		err := guard(func() error {
			vr, err := format.NewReader(t.ra, st.Size())
			if err == nil {
				_, err = vr.Verify()
			}
			return err
		})
		if err != nil {
			m.close()
			return nil, errctx.In("embstore", path, err)
		}
		t.verifyDur = time.Since(start)
	}
	if err := t.startCold(path, opts); err != nil {
		m.close()
		return nil, err
	}
	if t.threads > 1 {
		spin := opts.WorkerSpin
		if spin == 0 {
			spin = DefaultWorkerSpin
		}
		t.workers = newPool(t.threads-1, spin)
	}
	ok = true
	return t, nil
}

// minMaxThreads is the least MaxThreads returns.
const minMaxThreads = 64

// MaxThreads returns the largest Options.Threads Open accepts: 4 per
// GOMAXPROCS, and at least 64. More goroutines than cores only add
// contention, and each worker costs memory and, while it polls, CPU time.
func MaxThreads() int { return max(minMaxThreads, 4*runtime.GOMAXPROCS(0)) }

// Close unmaps the table. It waits for calls in progress (lookups, bags,
// View callbacks) to return; calls that start after Close has begun, nested
// calls inside a View callback included, return ErrClosed. Closing twice
// returns ErrClosed. Close must not be called from inside a View callback of
// the same table: it would wait for that callback forever.
func (t *Table) Close() error {
	if !t.rd.close() {
		return ErrClosed
	}
	if t.workers != nil {
		t.workers.close()
	}
	t.stopCold()
	t.tok, t.pos, t.tokData, t.posData = nil, nil, nil, nil
	t.closeSections()
	err := t.m.close()
	if cerr := t.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Header returns the file's decoded header: the table's shape (Rows, Dim),
// storage dtype, positional table (Positions()), position offset, token
// scale and compute dtype. The caller must not modify it.
func (t *Table) Header() *format.Header { return &t.hdr }

// Metadata returns the table's JSON metadata document (provenance), or nil.
// The caller must not modify it.
func (t *Table) Metadata() []byte { return t.meta }
