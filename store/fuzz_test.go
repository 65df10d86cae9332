package store

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/fma32"
	"github.com/embstore/embstore/internal/testing/fuzzcorpus"
	"github.com/embstore/embstore/kernel"
)

var update = flag.Bool("update", false, "rewrite the generated seed corpus in testdata/fuzz/FuzzStoreLookup")

// The operations FuzzStoreLookup calls, chosen by op&0x0f.
const (
	opLookup = iota
	opLookupPositions
	opPositionRows
	opBag
	opCheck
	opView
	numOps
)

// The flag bits of FuzzStoreLookup.
const (
	flagWideIDs     = 1 << 0 // ids are 8-byte integers, else 2-byte
	flagIncludeLast = 1 << 1 // Bag: IncludeLastOffset
	flagWeights     = 1 << 2 // Bag: one weight per id
	flagWeightsOff  = 1 << 3 // Bag: one weight too few
	flagPadding     = 1 << 4 // Bag: PaddingIdx pad
	flagShortDst    = 1 << 5 // the output is one value short
	flagModeShift   = 6      // bits 6-7: the bag mode, 3 being invalid
)

// A fuzzTable is a table FuzzStoreLookup calls, with its rows decoded
// independently of the store, through the format package.
type fuzzTable struct {
	tab       *Table
	rows      int64
	dim       int
	tokens    []float32 // rows x dim, scaled as lookups scale them
	positions []float32 // positional rows x dim
	posOffset int64
	viewable  bool
	compute   format.DType // the table's compute dtype
}

var (
	fuzzTablesOnce sync.Once
	fuzzTablesList []*fuzzTable
	fuzzTablesErr  error
)

// fuzzTables opens the tables once per process: an f32 table of 256 values
// per row with a positional table and a position offset, without and with a
// worker pool (calls of 128 ids or more are split) and on the copy-out path;
// and an int8 table with a token scale rounded to bf16.
func fuzzTables(tb testing.TB) []*fuzzTable {
	fuzzTablesOnce.Do(func() {
		dir, err := os.MkdirTemp("", "embstore-fuzz-")
		if err != nil {
			fuzzTablesErr = err
			return
		}
		f32 := filepath.Join(dir, "f32.emb")
		int8 := filepath.Join(dir, "int8.emb")
		for _, c := range []struct {
			path string
			l    format.Layout
		}{
			{f32, format.Layout{Rows: 300, Dim: 256, Positions: 40, PositionOffset: 2}},
			{int8, format.Layout{Rows: 300, Dim: 5, DType: format.Int8, Positions: 40, PositionOffset: 2, TokenScale: 2.5, ComputeDType: format.BF16}},
		} {
			if fuzzTablesErr = writeFuzzTable(c.path, c.l); fuzzTablesErr != nil {
				return
			}
		}
		for _, c := range []struct {
			path    string
			threads int
			copyOut bool
		}{{f32, 0, false}, {f32, 4, false}, {int8, 2, false}, {f32, 3, true}} {
			ft, err := openFuzzTable(c.path, c.threads, c.copyOut)
			if err != nil {
				fuzzTablesErr = err
				return
			}
			fuzzTablesList = append(fuzzTablesList, ft)
		}
		os.RemoveAll(dir) // the tables stay mapped
	})
	if fuzzTablesErr != nil {
		tb.Fatal(fuzzTablesErr)
	}
	return fuzzTablesList
}

func writeFuzzTable(path string, l format.Layout) error {
	fw, err := format.Create(path, l)
	if err != nil {
		return err
	}
	defer fw.Abort()
	vals := make([]float32, int(l.Rows)*l.Dim)
	for i := range vals {
		vals[i] = float32(i%97)*0.37 - float32(i%13)*1.9
	}
	if err := fw.WriteTokens(vals); err != nil {
		return err
	}
	if l.Positions > 0 {
		if err := fw.WritePositions(vals[:int(l.Positions)*l.Dim]); err != nil {
			return err
		}
	}
	return fw.Commit()
}

func openFuzzTable(path string, threads int, copyOut bool) (*fuzzTable, error) {
	copyOutForTest = copyOut
	tab, err := Open(path, &Options{Threads: threads})
	copyOutForTest = false
	if err != nil {
		return nil, err
	}
	f, err := format.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ft := &fuzzTable{tab: tab, rows: f.Rows, dim: f.Dim, posOffset: f.PositionOffset,
		viewable: f.DType == format.F32 && f.TokenScale == 1 && f.ComputeDType == 0 && nativeLittleEndian}
	ft.tokens = make([]float32, f.Rows*int64(f.Dim))
	if err := f.ReadRows(f.Tokens(), 0, f.Rows, ft.tokens); err != nil {
		return nil, err
	}
	ft.compute = f.ComputeDType
	for i, v := range ft.tokens {
		v = kernel.Round(v, f.ComputeDType)
		if f.TokenScale != 1 {
			v = kernel.Round(v*f.TokenScale, f.ComputeDType)
		}
		ft.tokens[i] = v
	}
	if s, ok := f.Section(format.SectionPositions); ok {
		ft.positions = make([]float32, s.Rows*int64(f.Dim))
		if err := f.ReadRows(s, 0, s.Rows, ft.positions); err != nil {
			return nil, err
		}
	}
	return ft, nil
}

// maxFuzzIDs bounds the ids of one call: enough to split a call four ways,
// few enough to keep each call cheap.
const maxFuzzIDs = 1024

// decodeIDs turns fuzz bytes into ids (at most maxFuzzIDs): little-endian
// int64s, or int16s, which land both inside and just outside a 300-row
// table.
func decodeIDs(b []byte, wide bool) []int64 {
	if wide {
		b = b[:min(len(b), 8*maxFuzzIDs)]
	} else {
		b = b[:min(len(b), 2*maxFuzzIDs)]
	}
	var ids []int64
	if wide {
		for ; len(b) >= 8; b = b[8:] {
			ids = append(ids, int64(binary.LittleEndian.Uint64(b)))
		}
		return ids
	}
	for ; len(b) >= 2; b = b[2:] {
		ids = append(ids, int64(int16(binary.LittleEndian.Uint16(b))))
	}
	return ids
}

// An outcome is what a call must return: success, or an error of a kind.
type outcome int

const (
	wantOK outcome = iota
	wantIndexError
	wantPositionError
	wantNoPositions
	wantNoView
	wantArgError // any other error: an argument the call refuses
)

var outcomeNames = []string{"ok", "index error", "position error", "no positions", "no view", "argument error"}

func (o outcome) String() string { return outcomeNames[o] }

// classify returns the outcome an error is, and the index an *IndexError
// names.
func classify(err error) (outcome, int) {
	var ie *IndexError
	var pe *PositionError
	switch {
	case err == nil:
		return wantOK, -1
	case errors.As(err, &ie):
		return wantIndexError, ie.Index
	case errors.As(err, &pe):
		return wantPositionError, -1
	case errors.Is(err, ErrNoPositions):
		return wantNoPositions, -1
	case errors.Is(err, ErrNoView):
		return wantNoView, -1
	}
	return wantArgError, -1
}

// firstBad returns the index of the first id outside [0, n), or -1.
func firstBad(ids []int64, n int64) int {
	for i, id := range ids {
		if id < 0 || id >= n {
			return i
		}
	}
	return -1
}

// A fuzzCall is one decoded FuzzStoreLookup input, with the outcome the
// rules of the store's documentation give for it and the output that goes
// with success.
type fuzzCall struct {
	ft      *fuzzTable
	op      int
	ids     []int64
	offsets []int64
	seqLen  int
	start   int64
	opts    BagOptions
	dstLen  int

	want    outcome
	wantIdx int       // with wantIndexError
	out     []float32 // with wantOK
}

// model decodes a fuzz input and states what the call must do.
func model(tables []*fuzzTable, op, flags byte, idBytes, offBytes []byte, seqLen int, start, pad int64) *fuzzCall {
	ft := tables[int(op>>4)%len(tables)]
	c := &fuzzCall{ft: ft, op: int(op&0x0f) % numOps, ids: decodeIDs(idBytes, flags&flagWideIDs != 0),
		offsets: decodeIDs(offBytes, false), seqLen: seqLen, start: start, wantIdx: -1}
	dim, short := ft.dim, 0
	if flags&flagShortDst != 0 && c.op != opCheck {
		short = 1
	}
	hasPos := ft.positions != nil
	posRows := int64(len(ft.positions) / dim)
	switch c.op {
	case opLookup, opCheck:
		c.dstLen = max(0, len(c.ids)*dim-short)
		bad := firstBad(c.ids, ft.rows)
		switch {
		case c.op == opLookup && c.dstLen != len(c.ids)*dim:
			c.want = wantArgError
		case bad >= 0:
			c.want, c.wantIdx = wantIndexError, bad
		default:
			c.out = c.gather(nil, 0)
		}
	case opLookupPositions:
		c.dstLen = max(0, len(c.ids)*dim-short)
		avail := posRows - ft.posOffset
		switch {
		case seqLen <= 0 || len(c.ids)%seqLen != 0:
			c.want = wantArgError
		case !hasPos:
			c.want = wantNoPositions
		case start < 0 || start >= avail || int64(seqLen) > avail-start:
			c.want = wantPositionError
		case c.dstLen != len(c.ids)*dim:
			c.want = wantArgError
		case firstBad(c.ids, ft.rows) >= 0:
			c.want, c.wantIdx = wantIndexError, firstBad(c.ids, ft.rows)
		default:
			c.out = c.gather(ft.positions, ft.posOffset+start)
		}
	case opPositionRows:
		c.dstLen = max(0, len(c.ids)*dim-short)
		switch {
		case !hasPos:
			c.want = wantNoPositions
		case c.dstLen != len(c.ids)*dim:
			c.want = wantArgError
		case firstBad(c.ids, posRows) >= 0:
			c.want, c.wantIdx = wantIndexError, firstBad(c.ids, posRows)
		default:
			c.out = make([]float32, 0, len(c.ids)*dim)
			for _, r := range c.ids {
				c.out = append(c.out, ft.positions[r*int64(dim):(r+1)*int64(dim)]...)
			}
		}
	case opBag:
		c.modelBag(flags, pad, short)
	case opView:
		switch {
		case len(c.ids) < 2:
			c.want = wantArgError // the fuzz call itself needs two ids
		case !ft.viewable:
			c.want = wantNoView
		case c.ids[0] < 0 || c.ids[0] >= ft.rows:
			c.want, c.wantIdx = wantIndexError, -1 // a single id, not an index into a slice
		case !hasPos:
			c.want = wantNoPositions
		case c.ids[1] < 0 || c.ids[1] >= posRows:
			c.want, c.wantIdx = wantIndexError, -1
		default:
			c.out = append(append([]float32{}, ft.tokens[c.ids[0]*int64(dim):(c.ids[0]+1)*int64(dim)]...),
				ft.positions[c.ids[1]*int64(dim):(c.ids[1]+1)*int64(dim)]...)
		}
	}
	return c
}

// gather returns the rows of c.ids, with positional row start+i%seqLen of
// positions added when positions is not nil.
func (c *fuzzCall) gather(positions []float32, start int64) []float32 {
	dim := c.ft.dim
	out := make([]float32, len(c.ids)*dim)
	for i, id := range c.ids {
		row := out[i*dim : (i+1)*dim]
		copy(row, c.ft.tokens[id*int64(dim):])
		if positions != nil {
			p := (start + int64(i%c.seqLen)) * int64(dim)
			for j := range row {
				c := c.ft.compute
				row[j] = kernel.Round(row[j]+kernel.Round(positions[p+int64(j)], c), c)
			}
		}
	}
	return out
}

// modelBag states what Bag does with the decoded arguments, as its
// documentation and torch's embedding_bag say, and computes the pooled rows
// with the kernel's arithmetic (float32 sums in id order, fused
// multiply-adds for weights, the sum times 1/n for means).
func (c *fuzzCall) modelBag(flags byte, pad int64, short int) {
	ft, dim := c.ft, c.ft.dim
	o := &c.opts
	o.Mode = BagMode(flags >> flagModeShift)
	o.IncludeLastOffset = flags&flagIncludeLast != 0
	if flags&flagWeights != 0 {
		n := len(c.ids)
		if flags&flagWeightsOff != 0 {
			n = max(0, n-1)
		}
		o.PerSampleWeights = make([]float32, n)
		for i := range o.PerSampleWeights {
			o.PerSampleWeights[i] = float32(i%7)*0.75 - 2
		}
	}
	if flags&flagPadding != 0 {
		o.PaddingIdx = new(pad)
	}
	bags := len(c.offsets)
	if o.IncludeLastOffset {
		bags = max(0, bags-1)
	}
	c.dstLen = max(0, bags*dim-short)

	ids, offsets, weights := c.ids, c.offsets, o.PerSampleWeights
	c.want = wantArgError
	if o.IncludeLastOffset {
		if len(offsets) == 0 {
			return
		}
		last := offsets[bags]
		if last < 0 || last > int64(len(ids)) || (bags > 0 && last < offsets[bags-1]) {
			return
		}
		ids, offsets = ids[:last], offsets[:bags]
		if weights != nil && len(weights) >= int(last) {
			weights = weights[:last]
		}
	}
	// The mode and the weights' mode are arguments of the call, checked
	// whatever the bags: torch refuses weights with mean or max even for no
	// bags.
	if o.Mode > BagMax || (weights != nil && o.Mode != BagSum) {
		return
	}
	if bags > 0 && offsets[0] != 0 || c.dstLen != bags*dim || (weights != nil && len(weights) != len(ids)) {
		return
	}
	for i := 1; i < bags; i++ {
		if offsets[i] < offsets[i-1] || offsets[i] > int64(len(ids)) {
			return
		}
	}
	padRow := int64(-1)
	if o.PaddingIdx != nil {
		if pad < -ft.rows || pad >= ft.rows {
			return
		}
		padRow = pad
		if padRow < 0 {
			padRow += ft.rows
		}
	}
	if bad := firstBad(ids, ft.rows); bad >= 0 {
		c.want, c.wantIdx = wantIndexError, bad
		return
	}
	if bags == 0 {
		c.want, c.out = wantOK, []float32{}
		return
	}
	c.want = wantOK
	c.out = make([]float32, bags*dim)
	for b := range bags {
		lo, hi := offsets[b], int64(len(ids))
		if b+1 < bags {
			hi = offsets[b+1]
		}
		out := c.out[b*dim : (b+1)*dim]
		n := 0
		for k := lo; k < hi; k++ {
			if ids[k] == padRow {
				continue
			}
			n++
			row := ft.tokens[ids[k]*int64(dim):]
			for i := range out {
				switch {
				case o.Mode == BagMax && n == 1: // torch: the first row starts the maximum
					out[i] = row[i]
				case o.Mode == BagMax: // and only a greater value replaces it
					if row[i] > out[i] {
						out[i] = row[i]
					}
				case weights != nil:
					out[i] = fma32.FMA(weights[k], row[i], out[i])
				default:
					out[i] += row[i]
				}
			}
		}
		switch {
		case n == 0:
			clear(out)
		case o.Mode == BagMean:
			inv := 1 / float32(n)
			for i := range out {
				out[i] *= inv
			}
		}
	}
}

// run makes the call and returns its error and output.
func (c *fuzzCall) run() (error, []float32) {
	t := c.ft.tab
	dst := make([]float32, c.dstLen)
	for i := range dst {
		dst[i] = -12345 // a call that fails must leave it alone
	}
	var err error
	switch c.op {
	case opLookup:
		err = t.Lookup(dst, c.ids)
	case opLookupPositions:
		err = t.LookupPositions(dst, c.ids, c.seqLen, c.start)
	case opPositionRows:
		err = t.LookupPositionRows(dst, c.ids)
	case opBag:
		err = t.Bag(dst, c.ids, c.offsets, &c.opts)
	case opCheck:
		err = t.CheckIDs(c.ids)
		if err == nil {
			err = t.Lookup(dst, c.ids)
		}
	case opView:
		if len(c.ids) < 2 {
			return errors.New("two ids needed"), nil
		}
		err = t.View(func(v View) error {
			a, err := v.Row(c.ids[0])
			if err != nil {
				return err
			}
			b, err := v.PositionRow(c.ids[1])
			if err != nil {
				return err
			}
			dst = append(append([]float32{}, a...), b...)
			return nil
		})
	}
	return err, dst
}

// FuzzStoreLookup makes lookups, positional lookups, positional row
// lookups, bags and views with hostile ids, offsets, positions, weights,
// padding indexes and output sizes, on tables with and without a worker
// pool, on the copy-out path, and with converted rows. Each call must do
// what the store's documentation says: the exact rows, or the error that the
// first broken rule calls for (an *IndexError naming the first bad id, a
// *PositionError, ...) with the output left alone; never a panic. Seeds:
// testdata/fuzz/FuzzStoreLookup, one input per rule
// (TestFuzzStoreLookupSeeds generates and checks them).
func FuzzStoreLookup(f *testing.F) {
	tables := fuzzTables(f)
	for _, s := range storeSeeds() {
		f.Add(s.op, s.flags, s.ids, s.offsets, s.seqLen, s.start, s.pad)
	}
	for _, a := range loadStoreCorpus(f) {
		f.Add(a[0].(byte), a[1].(byte), a[2].([]byte), a[3].([]byte), a[4].(int), a[5].(int64), a[6].(int64))
	}
	f.Fuzz(func(t *testing.T, op, flags byte, ids, offsets []byte, seqLen int, start, pad int64) {
		c := model(tables, op, flags, ids, offsets, seqLen, start, pad)
		err, dst := c.run()
		got, idx := classify(err)
		if got != c.want {
			t.Fatalf("op %d on %d-value rows: %v (%s); want %s", c.op, c.ft.dim, err, got, c.want)
		}
		switch {
		case got == wantIndexError && idx != c.wantIdx:
			t.Fatalf("op %d: %v names index %d; the first bad one is %d", c.op, err, idx, c.wantIdx)
		case got == wantOK && !sameBits(dst, c.out):
			t.Fatalf("op %d: output differs from the rows", c.op)
		case got != wantOK && c.op != opView:
			for i, v := range dst {
				if v != -12345 {
					t.Fatalf("op %d failed with %v but wrote dst[%d]", c.op, err, i)
				}
			}
		}
	})
}

// A storeSeed is one FuzzStoreLookup input, named for the rule it exercises.
type storeSeed struct {
	name          string
	op, flags     byte
	ids, offsets  []byte
	seqLen        int
	start, pad    int64
	table         int // index into fuzzTables, also in op's high bits
	wantOutcome   outcome
	wantSplitting bool // large enough to be split across the pool
}

func le16(vs ...int64) []byte {
	b := make([]byte, 0, 2*len(vs))
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint16(b, uint16(int16(v)))
	}
	return b
}

func le64(vs ...int64) []byte {
	b := make([]byte, 0, 8*len(vs))
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
	}
	return b
}

func seqIDs(n int, mod int64) []int64 {
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = int64(i*37) % mod
	}
	return ids
}

// storeSeeds returns one input per rule of each call, on the plain table,
// and the large ones also on the pooled, copy-out and int8 tables.
func storeSeeds() []storeSeed {
	big := le16(seqIDs(256, 300)...)
	bigBad := le16(append(seqIDs(200, 300), 300)...)
	mode := func(m BagMode) byte { return byte(m) << flagModeShift }
	s := []storeSeed{
		{name: "lookup", op: opLookup, ids: le16(2, 3, 5, 1), wantOutcome: wantOK},
		{name: "lookup-empty", op: opLookup, wantOutcome: wantOK},
		{name: "lookup-id-negative", op: opLookup, ids: le16(2, -1, 5), wantOutcome: wantIndexError},
		{name: "lookup-id-equal-to-rows", op: opLookup, ids: le16(2, 299, 300), wantOutcome: wantIndexError},
		{name: "lookup-id-max-int64", op: opLookup, flags: flagWideIDs, ids: le64(0, math.MaxInt64), wantOutcome: wantIndexError},
		{name: "lookup-id-min-int64", op: opLookup, flags: flagWideIDs, ids: le64(math.MinInt64, 0), wantOutcome: wantIndexError},
		{name: "lookup-id-2-pow-32", op: opLookup, flags: flagWideIDs, ids: le64(1 << 32), wantOutcome: wantIndexError},
		{name: "lookup-short-output", op: opLookup, flags: flagShortDst, ids: le16(1, 2), wantOutcome: wantArgError},
		{name: "lookup-large", op: opLookup, ids: big, wantOutcome: wantOK, wantSplitting: true},
		{name: "lookup-large-last-id-bad", op: opLookup, ids: bigBad, wantOutcome: wantIndexError, wantSplitting: true},
		{name: "check-ids-bad", op: opCheck, ids: le16(4, 400), wantOutcome: wantIndexError},
		{name: "positions", op: opLookupPositions, ids: le16(1, 2, 3, 4, 5, 6), seqLen: 3, start: 5, wantOutcome: wantOK},
		{name: "positions-last-position", op: opLookupPositions, ids: le16(1, 2), seqLen: 2, start: 36, wantOutcome: wantOK},
		{name: "positions-past-table", op: opLookupPositions, ids: le16(1, 2), seqLen: 2, start: 37, wantOutcome: wantPositionError},
		{name: "positions-start-negative", op: opLookupPositions, ids: le16(1), seqLen: 1, start: -1, wantOutcome: wantPositionError},
		{name: "positions-start-max-int64", op: opLookupPositions, ids: le16(1), seqLen: 1, start: math.MaxInt64, wantOutcome: wantPositionError},
		{name: "positions-seqlen-0", op: opLookupPositions, ids: le16(1), seqLen: 0, wantOutcome: wantArgError},
		{name: "positions-seqlen-negative", op: opLookupPositions, ids: le16(1), seqLen: -3, wantOutcome: wantArgError},
		{name: "positions-seqlen-huge", op: opLookupPositions, ids: le16(1), seqLen: math.MaxInt, wantOutcome: wantArgError},
		{name: "positions-not-whole-sequences", op: opLookupPositions, ids: le16(1, 2, 3), seqLen: 2, wantOutcome: wantArgError},
		{name: "positions-id-bad", op: opLookupPositions, ids: le16(1, 300), seqLen: 2, wantOutcome: wantIndexError},
		{name: "positions-short-output", op: opLookupPositions, flags: flagShortDst, ids: le16(1, 2), seqLen: 2, wantOutcome: wantArgError},
		{name: "positions-large", op: opLookupPositions, ids: big, seqLen: 32, start: 4, wantOutcome: wantOK, wantSplitting: true},
		{name: "position-rows", op: opPositionRows, ids: le16(0, 39, 7), wantOutcome: wantOK},
		{name: "position-rows-bad", op: opPositionRows, ids: le16(0, 40), wantOutcome: wantIndexError},
		{name: "position-rows-negative", op: opPositionRows, ids: le16(-40), wantOutcome: wantIndexError},
		{name: "bag-sum", op: opBag, ids: le16(1, 2, 3, 4, 5), offsets: le16(0, 2, 2), wantOutcome: wantOK},
		{name: "bag-mean", op: opBag, flags: mode(BagMean), ids: le16(1, 2, 3, 4, 5), offsets: le16(0, 3), wantOutcome: wantOK},
		{name: "bag-max", op: opBag, flags: mode(BagMax), ids: le16(1, 2, 3, 4, 5), offsets: le16(0, 1), wantOutcome: wantOK},
		{name: "bag-weighted", op: opBag, flags: flagWeights, ids: le16(1, 2, 3, 4, 5), offsets: le16(0, 4), wantOutcome: wantOK},
		{name: "bag-padding", op: opBag, flags: flagPadding | mode(BagMean), ids: le16(1, 2, 2, 2), offsets: le16(0, 1), pad: 2, wantOutcome: wantOK},
		{name: "bag-padding-negative", op: opBag, flags: flagPadding, ids: le16(1, 299), offsets: le16(0), pad: -1, wantOutcome: wantOK},
		{name: "bag-include-last", op: opBag, flags: flagIncludeLast, ids: le16(1, 2, 3, 400), offsets: le16(0, 1, 3), wantOutcome: wantOK},
		{name: "bag-empty", op: opBag, offsets: le16(0, 0), wantOutcome: wantOK},
		{name: "bag-large", op: opBag, ids: big, offsets: le16(0, 10, 100, 101, 200, 255), wantOutcome: wantOK, wantSplitting: true},
		{name: "bag-large-weighted", op: opBag, flags: flagWeights, ids: big, offsets: le16(0, 64, 128, 192), wantOutcome: wantOK, wantSplitting: true},
		{name: "bag-first-offset-not-0", op: opBag, ids: le16(1, 2), offsets: le16(1), wantOutcome: wantArgError},
		{name: "bag-decreasing-offsets", op: opBag, ids: big, offsets: le16(0, 200, 100, 250), wantOutcome: wantArgError, wantSplitting: true},
		{name: "bag-offset-past-ids", op: opBag, ids: big, offsets: le16(0, 300, 70, 10), wantOutcome: wantArgError, wantSplitting: true},
		{name: "bag-offset-negative", op: opBag, ids: le16(1, 2), offsets: le16(0, -1), wantOutcome: wantArgError},
		{name: "bag-include-last-no-offsets", op: opBag, flags: flagIncludeLast, ids: le16(1), wantOutcome: wantArgError},
		{name: "bag-include-last-past-ids", op: opBag, flags: flagIncludeLast, ids: le16(1, 2), offsets: le16(0, 3), wantOutcome: wantArgError},
		{name: "bag-include-last-before-previous", op: opBag, flags: flagIncludeLast, ids: le16(1, 2), offsets: le16(0, 2, 1), wantOutcome: wantArgError},
		{name: "bag-weights-short", op: opBag, flags: flagWeights | flagWeightsOff, ids: big, offsets: le16(0, 64, 128, 192), wantOutcome: wantArgError, wantSplitting: true},
		{name: "bag-weights-with-mean", op: opBag, flags: flagWeights | mode(BagMean), ids: le16(1, 2), offsets: le16(0), wantOutcome: wantArgError},
		{name: "bag-invalid-mode", op: opBag, flags: 3 << flagModeShift, ids: le16(1, 2), offsets: le16(0), wantOutcome: wantArgError},
		{name: "bag-padding-out-of-range", op: opBag, flags: flagPadding, ids: le16(1), offsets: le16(0), pad: 300, wantOutcome: wantArgError},
		{name: "bag-padding-below-range", op: opBag, flags: flagPadding, ids: le16(1), offsets: le16(0), pad: -301, wantOutcome: wantArgError},
		{name: "bag-short-output", op: opBag, flags: flagShortDst, ids: le16(1), offsets: le16(0), wantOutcome: wantArgError},
		{name: "bag-id-bad", op: opBag, ids: le16(1, 2, -7), offsets: le16(0, 1), wantOutcome: wantIndexError},
		{name: "bag-id-past-last-offset-ignored", op: opBag, flags: flagIncludeLast, ids: le16(1, -7), offsets: le16(0, 1), wantOutcome: wantOK},
		{name: "view", op: opView, ids: le16(299, 39), wantOutcome: wantOK},
		{name: "view-row-bad", op: opView, ids: le16(300, 0), wantOutcome: wantIndexError},
		{name: "view-position-row-bad", op: opView, ids: le16(0, 40), wantOutcome: wantIndexError},
		{name: "view-converted-rows", op: opView, ids: le16(0, 0), table: 2, wantOutcome: wantNoView},
	}
	// The large calls again on the pooled table, the copy-out table and the
	// int8 table.
	for _, base := range s {
		if base.wantSplitting {
			for _, tab := range []int{1, 2, 3} {
				c := base
				c.name, c.table = fmt.Sprintf("%s-table%d", base.name, tab), tab
				s = append(s, c)
			}
		}
	}
	for i := range s {
		s[i].op |= byte(s[i].table << 4)
	}
	return s
}

// storeCorpusDir is where FuzzStoreLookup's seed corpus lives.
var storeCorpusDir = fuzzcorpus.Dir(1, "FuzzStoreLookup")

// TestFuzzStoreLookupSeeds checks that every seed exercises the rule it is
// named for, and keeps testdata/fuzz/FuzzStoreLookup in step with the seeds
// (-update rewrites them; entries a fuzzing run added are left alone).
func TestFuzzStoreLookupSeeds(t *testing.T) {
	tables := fuzzTables(t)
	for _, s := range storeSeeds() {
		c := model(tables, s.op, s.flags, s.ids, s.offsets, s.seqLen, s.start, s.pad)
		if !nativeLittleEndian && c.op == opView && s.wantOutcome != wantArgError {
			s.wantOutcome = wantNoView // big-endian machines view no rows
		}
		if c.want != s.wantOutcome {
			t.Errorf("seed %s: the rules say %s, the seed is for %s", s.name, c.want, s.wantOutcome)
		}
		if s.wantSplitting && len(c.ids) < 2*64 {
			t.Errorf("seed %s: %d ids are too few to be split", s.name, len(c.ids))
		}
		if s.table == 1 && s.wantSplitting && c.ft.tab.workers == nil {
			t.Errorf("seed %s: table %d has no worker pool", s.name, s.table)
		}
		p := filepath.Join(storeCorpusDir, s.name)
		b := marshalStoreCorpus(s)
		if *update {
			if err := os.MkdirAll(storeCorpusDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if got, err := os.ReadFile(p); err != nil || string(got) != string(b) {
			t.Errorf("%s is missing or stale (run go test ./store/ -run %s -update): %v", p, t.Name(), err)
		}
	}
}

func marshalStoreCorpus(s storeSeed) []byte {
	return fuzzcorpus.Marshal(s.op, s.flags, s.ids, s.offsets, s.seqLen, s.start, s.pad)
}

// loadStoreCorpus reads testdata/fuzz/FuzzStoreLookup: files in the format
// `go test -fuzz` writes, with FuzzStoreLookup's arguments.
func loadStoreCorpus(tb testing.TB) [][]any {
	tb.Helper()
	out, err := fuzzcorpus.Load(storeCorpusDir)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}
