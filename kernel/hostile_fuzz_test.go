package kernel_test

import (
	"encoding/binary"
	"errors"
	"flag"
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

var updateSeeds = flag.Bool("update-hostile-seeds", false, "rewrite the seed corpus in testdata/fuzz/FuzzKernelHostileIDs")

// The bits of FuzzKernelHostileIDs's op argument.
const (
	hopBag        = 1 << 0 // Bag, else Gather
	hopWideIDs    = 1 << 1 // ids are 8-byte integers, else 2-byte
	hopExtra      = 1 << 2 // Gather: add positions; Bag: per-sample weights
	hopWeightsOff = 1 << 3 // Bag: one weight too few
	hopModeShift  = 4      // bits 4-5: the bag mode, 3 being invalid
	hopShortDst   = 1 << 6 // the output is one value short
	hopRowsClaim  = 1 << 7 // the Table claims one row more than its data holds
)

// The bits of the geom argument: the table gathered from.
var (
	hostileDTypes = []format.DType{format.F32, format.F16, format.BF16, format.Int8} // bits 0-1
	hostileDims   = []int{1, 3, 8, 17, 64, 100, 256, 300}                            // bits 2-4
	hostileRows   = []int64{0, 1, 7, 300}                                            // bits 5-6
	// bit 7: a token scale, rounded to bf16 or f16
)

const hostilePositions = 40 // rows of the positional table

// A hostileTable is a valid table and positional table of one geometry,
// with every row decoded (and scaled) by the format package.
type hostileTable struct {
	data []byte
	spec kernel.TableSpec
	pos  *kernel.Table
	rows [][]float32
	posR [][]float32
}

var (
	hostileMu     sync.Mutex
	hostileTables = map[byte]*hostileTable{}
)

func tableFor(geom byte) *hostileTable {
	hostileMu.Lock()
	defer hostileMu.Unlock()
	if ht, ok := hostileTables[geom]; ok {
		return ht
	}
	d, dim, rows := hostileDTypes[geom&3], hostileDims[(geom>>2)&7], hostileRows[(geom>>5)&3]
	stride := format.RowStride(d, dim)
	ht := &hostileTable{data: make([]byte, rows*stride), spec: kernel.TableSpec{Rows: rows, Dim: dim, Stride: int(stride), DType: d}}
	if geom&0x80 != 0 {
		ht.spec.Scale, ht.spec.ComputeDType = 2.5, format.BF16
		if dim%2 == 1 {
			ht.spec.ComputeDType = format.F16
		}
	}
	src := make([]float32, dim)
	for r := range rows {
		for i := range src {
			src[i] = float32((int(r)*31+i*7)%23)*0.43 - 4.1
		}
		row := ht.data[r*stride:]
		if _, err := format.EncodeRow(row, src, d); err != nil {
			panic(err)
		}
		got := make([]float32, dim)
		format.DecodeRow(got, row, d)
		if s := ht.spec.Scale; s != 0 && s != 1 {
			c := ht.spec.ComputeDType
			for i, v := range got {
				got[i] = kernel.Round(kernel.Round(v, c)*s, c)
			}
		}
		ht.rows = append(ht.rows, got)
	}
	pstride := format.RowStride(format.F32, dim)
	pdata := make([]byte, hostilePositions*pstride)
	for r := range int64(hostilePositions) {
		vals := make([]float32, dim)
		for i := range vals {
			vals[i] = float32(r) + float32(i)/128
			binary.LittleEndian.PutUint32(pdata[r*pstride+int64(4*i):], math.Float32bits(vals[i]))
		}
		ht.posR = append(ht.posR, vals)
	}
	pos, err := kernel.NewTable(pdata, kernel.TableSpec{Rows: hostilePositions, Dim: dim, Stride: int(pstride), DType: format.F32})
	if err != nil {
		panic(err)
	}
	ht.pos = pos
	hostileTables[geom] = ht
	return ht
}

func hostileIDs(b []byte, wide bool) []int64 {
	const maxIDs = 1024
	var ids []int64
	if wide {
		for ; len(b) >= 8 && len(ids) < maxIDs; b = b[8:] {
			ids = append(ids, int64(binary.LittleEndian.Uint64(b)))
		}
		return ids
	}
	for ; len(b) >= 2 && len(ids) < maxIDs; b = b[2:] {
		ids = append(ids, int64(int16(binary.LittleEndian.Uint16(b))))
	}
	return ids
}

// A hostileCall is one decoded input and what the kernel must return for it:
// an error (wantErr), an *IDError for the first bad id (wantBad >= 0; the
// rows, or bags, before it written, nothing after), or out.
type hostileCall struct {
	ht      *hostileTable
	spec    kernel.TableSpec
	bag     bool
	ids     []int64
	offsets []int64
	seq     *kernel.Sequence
	mode    kernel.BagMode
	weights []float32
	pad     int64
	dstLen  int

	wantErr bool
	wantBad int
	out     []float32
}

func firstOutside(ids []int64, n int64) int {
	for i, id := range ids {
		if id < 0 || id >= n {
			return i
		}
	}
	return -1
}

// call makes the call c describes into dst: NewTable, then Gather,
// GatherPositions, or NewBags and Bag.
func (c *hostileCall) call(dst []float32) error {
	tab, err := kernel.NewTable(c.ht.data, c.spec)
	if err != nil {
		return err
	}
	switch {
	case c.bag:
		b, err := kernel.NewBags(c.ids, c.offsets, c.weights)
		if err != nil {
			return err
		}
		return kernel.Bag(dst, tab, b, c.mode, c.pad)
	case c.seq != nil:
		return kernel.GatherPositions(dst, tab, c.ids, c.ht.pos, *c.seq)
	}
	return kernel.Gather(dst, tab, c.ids)
}

// hostileModel decodes an input and states, from the kernel's documentation,
// what Gather or Bag must return.
func hostileModel(op, geom byte, idBytes, offBytes []byte, start int64, seqLen, phase int, pad int64) *hostileCall {
	ht := tableFor(geom)
	c := &hostileCall{ht: ht, spec: ht.spec, bag: op&hopBag != 0, ids: hostileIDs(idBytes, op&hopWideIDs != 0),
		offsets: hostileIDs(offBytes, false), pad: pad, wantBad: -1}
	dim := c.spec.Dim
	if op&hopRowsClaim != 0 {
		c.spec.Rows++
	}
	short := 0
	if op&hopShortDst != 0 {
		short = 1
	}
	if c.spec.Rows > int64(len(ht.data))/int64(c.spec.Stride) {
		c.wantErr = true // NewTable: the rows do not fit in the data
	}
	if !c.bag {
		c.dstLen = max(0, len(c.ids)*dim-short)
		if op&hopExtra != 0 {
			c.seq = &kernel.Sequence{Start: start, Len: seqLen, Phase: phase}
			if seqLen <= 0 || phase < 0 || phase >= seqLen || start < 0 || start > hostilePositions-int64(seqLen) {
				c.wantErr = true
			}
		}
		if c.wantErr || c.dstLen != len(c.ids)*dim {
			c.wantErr = true
			return c
		}
		c.wantBad = firstOutside(c.ids, c.spec.Rows)
		c.out = make([]float32, 0, len(c.ids)*dim)
		for j, id := range c.ids {
			if j == c.wantBad {
				break
			}
			row := append([]float32{}, ht.rows[id]...)
			if c.seq != nil {
				pr := ht.posR[start+int64((phase+j)%seqLen)]
				for i := range row {
					cd := ht.spec.ComputeDType
					row[i] = kernel.Round(row[i]+kernel.Round(pr[i], cd), cd)
				}
			}
			c.out = append(c.out, row...)
		}
		return c
	}

	c.mode = kernel.BagMode(op >> hopModeShift & 3)
	if op&hopExtra != 0 {
		n := len(c.ids)
		if op&hopWeightsOff != 0 {
			n = max(0, n-1)
		}
		c.weights = make([]float32, n)
		for i := range c.weights {
			c.weights[i] = float32(i%5)*0.5 - 1
		}
	}
	c.dstLen = max(0, len(c.offsets)*dim-short)
	switch {
	case c.mode > kernel.BagMax, c.dstLen != len(c.offsets)*dim,
		c.weights != nil && (c.mode != kernel.BagSum || len(c.weights) != len(c.ids)),
		len(c.offsets) > 0 && c.offsets[0] < 0:
		c.wantErr = true
	}
	for i := 1; i < len(c.offsets); i++ {
		if c.offsets[i] < c.offsets[i-1] || c.offsets[i]-c.offsets[0] > int64(len(c.ids)) {
			c.wantErr = true
		}
	}
	if c.wantErr {
		return c
	}
	c.out = make([]float32, len(c.offsets)*dim)
	for b := range c.offsets {
		lo, hi := c.offsets[b]-c.offsets[0], int64(len(c.ids))
		if b+1 < len(c.offsets) {
			hi = c.offsets[b+1] - c.offsets[0]
		}
		out := c.out[b*dim : (b+1)*dim]
		n := 0
		for k := lo; k < hi; k++ {
			if id := c.ids[k]; id < 0 || id >= c.spec.Rows {
				// The bags before this one are written, this one is not
				// finished, the ones after it are not touched. An id
				// outside the table is one even if it equals pad: a pad
				// outside the table means none.
				c.wantBad = int(k)
				c.out = c.out[:b*dim]
				return c
			}
			if c.ids[k] == pad {
				continue
			}
			n++
			for i, v := range ht.rows[c.ids[k]] {
				switch {
				case c.mode == kernel.BagMax && n == 1: // the first row starts the maximum
					out[i] = v
				case c.mode == kernel.BagMax: // torch: only a greater value replaces it
					if v > out[i] {
						out[i] = v
					}
				case c.weights != nil:
					out[i] = fma32.FMA(c.weights[k], v, out[i])
				default:
					out[i] += v
				}
			}
		}
		switch {
		case n == 0:
			clear(out)
		case c.mode == kernel.BagMean:
			inv := 1 / float32(n)
			for i := range out {
				out[i] *= inv
			}
		}
	}
	return c
}

// FuzzKernelHostileIDs calls Gather and Bag with hostile ids (negative, at
// the row count, 2^63-1, -2^63), offsets, positions, phases, weights,
// padding ids, output sizes and row counts, on tables of every dtype, with
// and without a scale, and checks each call against what the package
// documents: an error for invalid arguments, an *IDError for the first bad
// id with the rows (or bags) before it written and nothing after, or the
// rows the format package decodes, bit for bit. Seeds: testdata/fuzz/FuzzKernelHostileIDs, one input per rule
// (TestFuzzKernelHostileIDsSeeds generates and checks them).
func FuzzKernelHostileIDs(f *testing.F) {
	for _, s := range hostileSeeds() {
		f.Add(s.op, s.geom, s.ids, s.offsets, s.start, s.seqLen, s.phase, s.pad)
	}
	for _, a := range loadHostileCorpus(f) {
		f.Add(a[0].(byte), a[1].(byte), a[2].([]byte), a[3].([]byte), a[4].(int64), a[5].(int), a[6].(int), a[7].(int64))
	}
	f.Fuzz(func(t *testing.T, op, geom byte, ids, offsets []byte, start int64, seqLen, phase int, pad int64) {
		c := hostileModel(op, geom, ids, offsets, start, seqLen, phase, pad)
		dst := make([]float32, c.dstLen)
		for i := range dst {
			dst[i] = -777
		}
		err := c.call(dst)
		var ie *kernel.IDError
		switch {
		case c.wantErr:
			if err == nil {
				t.Fatalf("bag=%v: accepted invalid arguments", c.bag)
			}
			return
		case c.wantBad >= 0:
			if !errors.As(err, &ie) || ie.Index != c.wantBad || ie.ID != c.ids[c.wantBad] || ie.Rows != c.spec.Rows {
				t.Fatalf("bag=%v: %v; the first id outside the table is at %d", c.bag, err, c.wantBad)
			}
			// What comes after the written part is untouched, but for
			// the bag the bad id is in.
			rest := dst[len(c.out):]
			if c.bag {
				rest = rest[c.spec.Dim:]
			}
			for i, v := range rest {
				if v != -777 {
					t.Fatalf("bag=%v: bad id at %d, but dst[%d] was written", c.bag, c.wantBad, len(dst)-len(rest)+i)
				}
			}
		case err != nil:
			t.Fatalf("bag=%v: %v", c.bag, err)
		}
		for i := range c.out {
			if math.Float32bits(dst[i]) != math.Float32bits(c.out[i]) {
				t.Fatalf("bag=%v %s dim %d: dst[%d] = %v, want %v", c.bag, c.spec.DType, c.spec.Dim, i, dst[i], c.out[i])
			}
		}
	})
}

// A hostileSeed is one FuzzKernelHostileIDs input, named for its rule.
type hostileSeed struct {
	name      string
	op, geom  byte
	ids       []byte
	offsets   []byte
	start     int64
	seqLen    int
	phase     int
	pad       int64
	want      string // "ok", "bad" or "error"
	wantBadAt int
}

func h16(vs ...int64) []byte {
	b := make([]byte, 0, 2*len(vs))
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint16(b, uint16(int16(v)))
	}
	return b
}

func h64(vs ...int64) []byte {
	b := make([]byte, 0, 8*len(vs))
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
	}
	return b
}

// geom returns the geom byte for a dtype, a dim index, a rows index and a
// scale.
func geom(d, dim, rows int, scaled bool) byte {
	g := byte(d) | byte(dim)<<2 | byte(rows)<<5
	if scaled {
		g |= 0x80
	}
	return g
}

func hostileSeeds() []hostileSeed {
	g := geom(0, 2, 3, false) // f32, 8 values, 300 rows
	many := make([]int64, 700)
	for i := range many {
		many[i] = int64(i*13) % 300
	}
	mode := func(m kernel.BagMode) byte { return hopBag | byte(m)<<hopModeShift }
	seeds := []hostileSeed{
		{name: "gather", geom: g, ids: h16(2, 3, 5, 1), want: "ok"},
		{name: "gather-many-chunks", geom: geom(0, 0, 3, false), ids: h16(many...), want: "ok"},
		{name: "gather-negative", geom: g, ids: h16(2, -1), want: "bad", wantBadAt: 1},
		{name: "gather-equal-to-rows", geom: g, ids: h16(299, 300), want: "bad", wantBadAt: 1},
		{name: "gather-max-int64", op: hopWideIDs, geom: g, ids: h64(math.MaxInt64), want: "bad"},
		{name: "gather-min-int64", op: hopWideIDs, geom: g, ids: h64(0, math.MinInt64), want: "bad", wantBadAt: 1},
		{name: "gather-2-pow-32", op: hopWideIDs, geom: g, ids: h64(1 << 32), want: "bad"},
		{name: "gather-empty-table", geom: geom(0, 2, 0, false), ids: h16(0), want: "bad"},
		{name: "gather-empty-batch", geom: g, want: "ok"},
		{name: "gather-short-output", op: hopShortDst, geom: g, ids: h16(1, 2), want: "error"},
		{name: "gather-rows-past-data", op: hopRowsClaim, geom: g, ids: h16(1), want: "error"},
		{name: "gather-positions", op: hopExtra, geom: g, ids: h16(1, 2, 3, 4, 5), start: 3, seqLen: 4, phase: 2, want: "ok"},
		{name: "gather-positions-last", op: hopExtra, geom: g, ids: h16(1, 2), start: 38, seqLen: 2, want: "ok"},
		{name: "gather-positions-past-table", op: hopExtra, geom: g, ids: h16(1), start: 39, seqLen: 2, want: "error"},
		{name: "gather-positions-start-negative", op: hopExtra, geom: g, ids: h16(1), start: -1, seqLen: 1, want: "error"},
		{name: "gather-positions-start-max-int64", op: hopExtra, geom: g, ids: h16(1), start: math.MaxInt64, seqLen: 1, want: "error"},
		{name: "gather-positions-seqlen-0", op: hopExtra, geom: g, ids: h16(1), want: "error"},
		{name: "gather-positions-seqlen-huge", op: hopExtra, geom: g, ids: h16(1), seqLen: math.MaxInt, want: "error"},
		{name: "gather-positions-phase-negative", op: hopExtra, geom: g, ids: h16(1), seqLen: 2, phase: -1, want: "error"},
		{name: "gather-positions-phase-seqlen", op: hopExtra, geom: g, ids: h16(1), seqLen: 2, phase: 2, want: "error"},
		{name: "gather-positions-bad-id", op: hopExtra, geom: g, ids: h16(1, -5), seqLen: 2, want: "bad", wantBadAt: 1},
		{name: "gather-f16-scaled", geom: geom(1, 3, 3, true), ids: h16(0, 299), want: "ok"},
		{name: "gather-bf16-scaled-positions", op: hopExtra, geom: geom(2, 6, 3, true), ids: h16(7, 8), seqLen: 1, start: 10, want: "ok"},
		{name: "gather-int8-wide", geom: geom(3, 7, 3, false), ids: h16(1, 2, 299), want: "ok"},
		{name: "gather-int8-bad", geom: geom(3, 1, 2, false), ids: h16(1, 7), want: "bad", wantBadAt: 1},
		{name: "bag-sum", op: mode(kernel.BagSum), geom: g, ids: h16(1, 2, 3), offsets: h16(0, 1), want: "ok"},
		{name: "bag-mean", op: mode(kernel.BagMean), geom: g, ids: h16(1, 2, 3), offsets: h16(0, 3), want: "ok"},
		{name: "bag-max", op: mode(kernel.BagMax), geom: geom(3, 3, 3, true), ids: h16(1, 2, 3), offsets: h16(0), want: "ok"},
		{name: "bag-weighted", op: mode(kernel.BagSum) | hopExtra, geom: g, ids: h16(1, 2, 3), offsets: h16(0, 2), want: "ok"},
		{name: "bag-padding", op: mode(kernel.BagMean), geom: g, ids: h16(4, 4, 5), offsets: h16(0, 2), pad: 4, want: "ok"},
		{name: "bag-partial-list", op: mode(kernel.BagSum), geom: g, ids: h16(1, 2, 3), offsets: h16(5, 6, 8), want: "ok"},
		{name: "bag-many-ids", op: mode(kernel.BagSum), geom: geom(1, 0, 3, false), ids: h16(many...), offsets: h16(0, 1, 650), want: "ok"},
		{name: "bag-empty-bags", op: mode(kernel.BagMax), geom: g, offsets: h16(0, 0, 0), want: "ok"},
		{name: "bag-bad-id", op: mode(kernel.BagSum), geom: g, ids: h16(1, 2, 3000), offsets: h16(0), want: "bad", wantBadAt: 2},
		{name: "bag-bad-id-min-int64", op: mode(kernel.BagSum) | hopWideIDs, geom: g, ids: h64(1, math.MinInt64), offsets: h16(0), want: "bad", wantBadAt: 1},
		{name: "bag-invalid-mode", op: hopBag | 3<<hopModeShift, geom: g, ids: h16(1), offsets: h16(0), want: "error"},
		{name: "bag-weights-mean", op: mode(kernel.BagMean) | hopExtra, geom: g, ids: h16(1), offsets: h16(0), want: "error"},
		{name: "bag-weights-short", op: mode(kernel.BagSum) | hopExtra | hopWeightsOff, geom: g, ids: h16(1, 2), offsets: h16(0), want: "error"},
		{name: "bag-first-offset-negative", op: mode(kernel.BagSum), geom: g, ids: h16(1), offsets: h16(-1), want: "error"},
		{name: "bag-decreasing-offsets", op: mode(kernel.BagSum), geom: g, ids: h16(1, 2), offsets: h16(0, 2, 1), want: "error"},
		{name: "bag-offset-past-ids", op: mode(kernel.BagSum), geom: g, ids: h16(1, 2), offsets: h16(0, 3), want: "error"},
		{name: "bag-short-output", op: mode(kernel.BagSum) | hopShortDst, geom: g, ids: h16(1), offsets: h16(0), want: "error"},
		{name: "bag-rows-past-data", op: mode(kernel.BagSum) | hopRowsClaim, geom: g, ids: h16(1), offsets: h16(0), want: "error"},
	}
	return seeds
}

var hostileCorpusDir = fuzzcorpus.Dir(1, "FuzzKernelHostileIDs")

// TestFuzzKernelHostileIDsSeeds checks that every seed exercises the rule
// it is named for, and keeps testdata/fuzz/FuzzKernelHostileIDs in step with
// the seeds (-update-hostile-seeds rewrites them; entries a fuzzing run
// added are left alone).
func TestFuzzKernelHostileIDsSeeds(t *testing.T) {
	for _, s := range hostileSeeds() {
		c := hostileModel(s.op, s.geom, s.ids, s.offsets, s.start, s.seqLen, s.phase, s.pad)
		got := "ok"
		switch {
		case c.wantErr:
			got = "error"
		case c.wantBad >= 0:
			got = "bad"
		}
		if got != s.want || (got == "bad" && c.wantBad != s.wantBadAt) {
			t.Errorf("seed %s: the rules say %s (first bad id at %d); the seed is for %s at %d", s.name, got, c.wantBad, s.want, s.wantBadAt)
		}
		p := filepath.Join(hostileCorpusDir, s.name)
		b := fuzzcorpus.Marshal(s.op, s.geom, s.ids, s.offsets, s.start, s.seqLen, s.phase, s.pad)
		if *updateSeeds {
			if err := os.MkdirAll(hostileCorpusDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if old, err := os.ReadFile(p); err != nil || string(old) != string(b) {
			t.Errorf("%s is missing or stale (run go test ./kernel/ -run %s -update-hostile-seeds): %v", p, t.Name(), err)
		}
	}
}

// loadHostileCorpus reads testdata/fuzz/FuzzKernelHostileIDs: files in the
// format `go test -fuzz` writes, with FuzzKernelHostileIDs's arguments.
func loadHostileCorpus(tb testing.TB) [][]any {
	tb.Helper()
	out, err := fuzzcorpus.Load(hostileCorpusDir)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}
