package store

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/kernel"
)

// A Table is an open table file, mapped read-only into memory. Its methods
// are safe for concurrent use by multiple goroutines. Close waits for
// lookups in progress to finish; calls after Close return ErrClosed.
type Table struct {
	mu     sync.RWMutex // read-held by every lookup, write-held by Close
	closed bool

	m      *mapping
	ra     io.ReaderAt // the file's bytes, for copy-out reads
	hdr    format.Header
	meta   []byte
	tok    kernel.Table
	pos    kernel.Positions // Data nil if the table has no positional table
	posTab kernel.Table     // the positional table as a table of its own
	copyTo bool             // rows are copied out through ra instead of read in place

	verifyDur time.Duration
	mode      MapMode
	workers   *pool // nil when Threads <= 1
	threads   int
}

// copyOutForTest forces the copy-out read path that platforms without a
// usable mapping take, so that tests can cover it anywhere.
var copyOutForTest = false

// Open opens the table file at path: it validates the header (see the
// format package), maps the file read-only and returns a Table. It does not
// read the rows unless opts.Verify is set, so it costs about the same for a
// table of any size.
func Open(path string, opts *Options) (*Table, error) {
	if opts == nil {
		opts = &Options{}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close() // the mapping outlives the descriptor
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, &os.PathError{Op: "open", Path: path, Err: fmt.Errorf("not a regular file")}
	}
	r, err := format.NewReader(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if opts.Mode < MapLazy || opts.Mode > MapAnonHugePages {
		return nil, fmt.Errorf("embstore: invalid map mode %d", int(opts.Mode))
	}
	if opts.Threads < 0 {
		return nil, fmt.Errorf("embstore: invalid thread count %d", opts.Threads)
	}
	m, err := mapFile(f, st.Size(), opts.Mode)
	if err != nil {
		return nil, err
	}
	t := &Table{m: m, hdr: r.Header, meta: r.Metadata(), mode: opts.Mode, threads: max(1, opts.Threads)}
	if data := m.bytes(); data != nil && !copyOutForTest {
		t.ra = bytes.NewReader(data)
	} else {
		t.copyTo = true
		t.ra = m.readerAt()
	}
	t.tok = kernel.Table{
		Rows: t.hdr.Rows, Dim: t.hdr.Dim, Stride: int(t.hdr.RowStride), DType: t.hdr.DType,
		Scale: t.hdr.TokenScale, ComputeDType: t.hdr.ComputeDType,
	}
	tokSec := t.hdr.Tokens()
	if !t.copyTo {
		t.tok.Data = m.bytes()[tokSec.Offset:tokSec.End()]
	}
	if s, ok := t.hdr.Section(format.SectionPositions); ok {
		// The positional table is small and read on every positional lookup;
		// keep it in place when mapped, else copy it once.
		t.pos = kernel.Positions{Rows: s.Rows, Stride: int(s.RowStride)}
		if !t.copyTo {
			t.pos.Data = m.bytes()[s.Offset:s.End()]
		} else {
			t.pos.Data = make([]byte, s.Length)
			if _, err := t.ra.ReadAt(t.pos.Data, s.Offset); err != nil {
				m.close()
				return nil, fmt.Errorf("%s: read positional table: %w", path, err)
			}
		}
	}
	t.posTab = kernel.Table{Data: t.pos.Data, Rows: t.pos.Rows, Dim: t.hdr.Dim, Stride: t.pos.Stride, DType: format.F32}
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
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		t.verifyDur = time.Since(start)
	}
	if t.threads > 1 {
		spin := opts.WorkerSpin
		if spin == 0 {
			spin = DefaultWorkerSpin
		}
		t.workers = newPool(t.threads-1, spin)
	}
	return t, nil
}

// Close unmaps the table. It waits for lookups in progress to return; later
// calls to any method return ErrClosed. Closing twice returns ErrClosed.
func (t *Table) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	t.closed = true
	if t.workers != nil {
		t.workers.close()
	}
	t.tok.Data, t.pos.Data, t.posTab.Data = nil, nil, nil
	return t.m.close()
}

// Rows returns the number of rows of the token table (the vocabulary size).
func (t *Table) Rows() int64 { return t.hdr.Rows }

// Dim returns the number of values per row.
func (t *Table) Dim() int { return t.hdr.Dim }

// DType returns the storage type of the token rows. Lookups always produce
// float32.
func (t *Table) DType() format.DType { return t.hdr.DType }

// Positions returns the number of rows of the positional table, 0 if there
// is none.
func (t *Table) Positions() int64 { return t.pos.Rows }

// PositionOffset returns the positional row that holds position 0.
func (t *Table) PositionOffset() int64 { return t.hdr.PositionOffset }

// Header returns the file's decoded header. The caller must not modify it.
func (t *Table) Header() *format.Header { return &t.hdr }

// Metadata returns the table's JSON metadata document (provenance), or nil.
// The caller must not modify it.
func (t *Table) Metadata() []byte { return t.meta }

// Threads returns the number of goroutines a large call is split across.
func (t *Table) Threads() int { return t.threads }

// VerifyDuration returns how long Open spent verifying checksums, 0 if
// Options.Verify was not set.
func (t *Table) VerifyDuration() time.Duration { return t.verifyDur }
