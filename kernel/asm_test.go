package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/testing/fuzzcorpus"
)

// The tests in this file check every kernel level this machine supports
// against the reference, bit for bit, NaN payloads included. Where there is
// no level to compare they skip, saying so; EMBSTORE_KERNEL_LEVELS makes
// levels required (see checkRequiredLevels).

var allDTypes = []format.DType{format.F32, format.F16, format.BF16, format.Int8}

// testDims are the row widths every differential test covers: tiny, around
// the AVX2 and AVX-512 vector widths and their multiples of four, and
// model-sized.
var testDims = []int{1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 31, 32, 33, 48, 63, 64, 65, 100, 127, 128, 129, 255, 256, 257, 300, 513, 768}

// fastLevels returns the supported levels other than the reference.
func fastLevels() []kernelLevel {
	return supportedLevels()[1:]
}

// levelsEnv names the kernel levels a test run requires, comma-separated
// ("avx2,avx512"): CI sets it to the levels the machine's CPU has, so that a
// level that goes missing (a detection or build-tag mistake) fails the run
// instead of leaving the differential tests with less, or nothing, to
// compare.
const levelsEnv = "EMBSTORE_KERNEL_LEVELS"

// checkRequiredLevels fails t if a level named by EMBSTORE_KERNEL_LEVELS is
// not supported by this build on this CPU.
func checkRequiredLevels(t testing.TB) {
	t.Helper()
	have := map[string]bool{}
	for _, l := range supportedLevels() {
		have[l.String()] = true
	}
	for _, name := range strings.Split(os.Getenv(levelsEnv), ",") {
		if name = strings.TrimSpace(name); name != "" && !have[name] {
			t.Fatalf("%s=%q requires kernel level %s; this build on this CPU has %v",
				levelsEnv, os.Getenv(levelsEnv), name, supportedLevels())
		}
	}
}

// diffLevels returns the assembly levels a differential test compares with
// the reference. With none (a -tags noasm build, another architecture, a
// CPU without AVX2) the test is skipped, saying so, rather than passing
// without comparing anything. TestLevels logs the levels there are.
func diffLevels(t testing.TB) []kernelLevel {
	t.Helper()
	checkRequiredLevels(t)
	levels := fastLevels()
	if len(levels) == 0 {
		t.Skipf("no assembly kernel level in this build on this CPU (%s/%s, levels %v): nothing to compare with the reference",
			runtime.GOOS, runtime.GOARCH, supportedLevels())
	}
	return levels
}

// special32 returns a float32 that exercises an edge of the arithmetic:
// signed zeros, subnormals, infinities, NaNs with varied payloads (quiet and
// signalling), the largest finite values.
func special32(rng *rand.Rand) float32 {
	switch rng.IntN(8) {
	case 0:
		return math.Float32frombits(rng.Uint32() & 0x80000000) // ±0
	case 1:
		return math.Float32frombits(rng.Uint32()&0x807fffff | 1) // subnormal
	case 2:
		return math.Float32frombits(rng.Uint32()&0x80000000 | 0x7f800000) // ±Inf
	case 3, 4:
		return math.Float32frombits(rng.Uint32()&0x807fffff | 0x7f800001) // NaN
	case 5:
		return math.Float32frombits(rng.Uint32()&0x80000000 | 0x7f7fffff) // ±max
	}
	return math.Float32frombits(rng.Uint32()) // any bits
}

// value32 returns a float32 for a row: mostly ordinary values, sometimes
// special ones (with probability 1/specialOdds; none when 0).
func value32(rng *rand.Rand, specialOdds int) float32 {
	if specialOdds > 0 && rng.IntN(specialOdds) == 0 {
		return special32(rng)
	}
	return float32(rng.NormFloat64())
}

// fillRow writes one row of dtype d and dim values at row, leaving the
// bytes between the values and the stride as they are.
func fillRow(rng *rand.Rand, row []byte, d format.DType, dim, specialOdds int) {
	switch d {
	case format.F32:
		for i := range dim {
			binary.LittleEndian.PutUint32(row[4*i:], math.Float32bits(value32(rng, specialOdds)))
		}
	case format.F16, format.BF16:
		for i := range dim {
			var h uint16
			if specialOdds > 0 && rng.IntN(specialOdds) == 0 {
				h = uint16(rng.Uint32()) // any pattern: NaNs, infinities, subnormals
			} else if d == format.F16 {
				h = uint16(rng.IntN(0x7800)) | uint16(rng.IntN(2))<<15
			} else {
				h = uint16(math.Float32bits(float32(rng.NormFloat64())) >> 16)
			}
			binary.LittleEndian.PutUint16(row[2*i:], h)
		}
	case format.Int8:
		constant := rng.IntN(10) == 0
		q := byte(rng.Uint32())
		for i := range dim {
			if !constant {
				q = byte(rng.Uint32())
				if rng.IntN(8) == 0 {
					q = 0 // zeros meet an infinite scale
				}
			}
			row[i] = q
		}
		scale, bias := float32(rng.Float64()/100), value32(rng, 0)
		if constant {
			scale = 0
		}
		if specialOdds > 0 && rng.IntN(specialOdds) == 0 {
			scale = special32(rng)
		}
		if specialOdds > 0 && rng.IntN(specialOdds) == 0 {
			bias = special32(rng)
		}
		off := format.Int8ScaleOffset(dim)
		binary.LittleEndian.PutUint32(row[off:], math.Float32bits(scale))
		binary.LittleEndian.PutUint32(row[off+4:], math.Float32bits(bias))
	}
}

// randomTable returns a table of rows rows whose stride is the row size
// plus extra bytes; its data ends at a guard page and the padding holds
// garbage, which no kernel may use.
func randomTable(t testing.TB, rng *rand.Rand, d format.DType, dim int, rows int64, extra, specialOdds int) *Table {
	stride := align4(int(d.RowSize(dim))) + extra
	data := guarded(t, int(rows)*stride)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	for r := range int(rows) {
		fillRow(rng, data[r*stride:], d, dim, specialOdds)
	}
	return tableOf(t, data, TableSpec{Rows: rows, Dim: dim, Stride: stride, DType: d})
}

func align4(n int) int { return (n + 3) &^ 3 }

// randomExtra picks the padding after a row: none (the stride is the row
// size rounded up to 4 bytes), up to the next 64 bytes, or up to 4096 more.
func randomExtra(rng *rand.Rand, d format.DType, dim int) int {
	rowSize := align4(int(d.RowSize(dim)))
	switch rng.IntN(3) {
	case 0:
		return 0
	case 1:
		return (rowSize+63)/64*64 - rowSize
	}
	return 4 * rng.IntN(1025)
}

// randomPositions returns an f32 positional table for dim values whose data
// ends right after its last row's values.
func randomPositions(t testing.TB, rng *rand.Rand, dim, specialOdds int) *posArg {
	rows := int64(1 + rng.IntN(40))
	stride := 4*dim + 4*rng.IntN(20)
	data := guarded(t, int(rows-1)*stride+4*dim)
	for r := range int(rows) {
		for i := range dim {
			binary.LittleEndian.PutUint32(data[r*stride+4*i:], math.Float32bits(value32(rng, specialOdds)))
		}
	}
	seqLen := 1 + rng.IntN(int(rows))
	return &posArg{
		tab: tableOf(t, data, TableSpec{Rows: rows, Dim: dim, Stride: stride, DType: format.F32}),
		seq: Sequence{Start: rng.Int64N(rows - int64(seqLen) + 1), Len: seqLen, Phase: rng.IntN(seqLen)},
	}
}

// randomIDs returns n ids in [0, rows), with the first and last rows and
// repeats well represented.
func randomIDs(rng *rand.Rand, n int, rows int64) []int64 {
	ids := make([]int64, n)
	for i := range ids {
		switch rng.IntN(8) {
		case 0:
			ids[i] = 0
		case 1:
			ids[i] = rows - 1
		case 2:
			if i > 0 {
				ids[i] = ids[rng.IntN(i)]
				continue
			}
			fallthrough
		default:
			ids[i] = rng.Int64N(rows)
		}
	}
	return ids
}

// canary fills the values after a result so that writes past it show.
const canaryLen = 40

func withCanary(n int) []float32 {
	buf := make([]float32, n+canaryLen)
	for i := range buf[n:] {
		buf[n+i] = math.Float32frombits(0x7fbadbad)
	}
	return buf[:n]
}

func checkCanary(t *testing.T, what string, dst []float32) {
	t.Helper()
	for i, v := range dst[len(dst) : len(dst)+canaryLen] {
		if math.Float32bits(v) != 0x7fbadbad {
			t.Fatalf("%s: wrote past the output at +%d", what, i)
		}
	}
}

// sameBits reports the first index where got and want differ in bits.
func sameBits(got, want []float32) (int, bool) {
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			return i, false
		}
	}
	return -1, true
}

// gatherAt runs Gather with the kernels of level l.
func gatherAt(l kernelLevel, dst []float32, tab *Table, ids []int64, pos *posArg) error {
	defer useKernels(l)()
	return gatherPos(dst, tab, ids, pos)
}

func bagAt(l kernelLevel, dst []float32, tab *Table, ids, offsets []int64, mode BagMode, weights []float32, pad int64) error {
	defer useKernels(l)()
	return bagOf(dst, tab, ids, offsets, mode, weights, pad)
}

// compareGather gathers ids from tab (with pos, if not nil) with the
// reference and with every fast level, and fails on any difference.
func compareGather(t *testing.T, what string, tab *Table, ids []int64, pos *posArg) {
	t.Helper()
	want := make([]float32, len(ids)*tab.dim)
	if err := gatherAt(levelRef, want, tab, ids, pos); err != nil {
		t.Fatalf("%s: reference Gather: %v", what, err)
	}
	for _, l := range diffLevels(t) {
		got := withCanary(len(want))
		if err := gatherAt(l, got, tab, ids, pos); err != nil {
			t.Fatalf("%s %s: Gather: %v", what, l, err)
		}
		checkCanary(t, fmt.Sprintf("%s %s", what, l), got)
		if i, ok := sameBits(got, want); !ok {
			t.Fatalf("%s %s: id index %d (row %d), value %d: got %#08x, want %#08x",
				what, l, i/tab.dim, ids[i/tab.dim], i%tab.dim, math.Float32bits(got[i]), math.Float32bits(want[i]))
		}
	}
}

func compareBag(t *testing.T, what string, tab *Table, ids, offsets []int64, mode BagMode, weights []float32, pad int64) {
	t.Helper()
	want := make([]float32, len(offsets)*tab.dim)
	if err := bagAt(levelRef, want, tab, ids, offsets, mode, weights, pad); err != nil {
		t.Fatalf("%s: reference Bag: %v", what, err)
	}
	for _, l := range diffLevels(t) {
		got := withCanary(len(want))
		if err := bagAt(l, got, tab, ids, offsets, mode, weights, pad); err != nil {
			t.Fatalf("%s %s: Bag: %v", what, l, err)
		}
		checkCanary(t, fmt.Sprintf("%s %s", what, l), got)
		if i, ok := sameBits(got, want); !ok {
			t.Fatalf("%s %s: bag %d, value %d: got %#08x, want %#08x",
				what, l, i/tab.dim, i%tab.dim, math.Float32bits(got[i]), math.Float32bits(want[i]))
		}
	}
}

func TestLevels(t *testing.T) {
	checkRequiredLevels(t)
	levels := supportedLevels()
	if levels[0] != levelRef {
		t.Fatalf("supportedLevels() = %v; the reference must come first", levels)
	}
	t.Logf("kernel levels on this machine: %v", levels)
	best := levels[len(levels)-1]
	// init installed the best level; after a switch to the reference and
	// back, Gather must still work and agree with the reference.
	restore := useKernels(levelRef)
	restore()
	want := make([]float32, 16)
	got := make([]float32, 16)
	tab := randomTable(t, rand.New(rand.NewPCG(1, 1)), format.F16, 16, 1, 0, 0)
	gatherAt(levelRef, want, tab, []int64{0}, nil)
	if err := Gather(got, tab, []int64{0}); err != nil {
		t.Fatal(err)
	}
	if _, ok := sameBits(got, want); !ok {
		t.Fatalf("level %s differs after restore", best)
	}
}

func TestGatherLevelsMatchReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	dims := append([]int(nil), testDims...)
	for range 12 {
		dims = append(dims, 1+rng.IntN(600))
	}
	for _, d := range allDTypes {
		for _, dim := range dims {
			for _, specialOdds := range []int{0, 7} {
				rows := int64(1 + rng.IntN(300))
				tab := randomTable(t, rng, d, dim, rows, randomExtra(rng, d, dim), specialOdds)
				n := rng.IntN(200)
				if rng.IntN(4) == 0 {
					n = chunkRows(dim)*2 + rng.IntN(50) // several chunks
				}
				ids := randomIDs(rng, n, rows)
				what := fmt.Sprintf("%s dim %d stride %d specials 1/%d", d, dim, tab.stride, specialOdds)
				compareGather(t, what, tab, ids, nil)
				pos := randomPositions(t, rng, dim, specialOdds)
				compareGather(t, what+fmt.Sprintf(" pos %d+(%d+j)%%%d", pos.seq.Start, pos.seq.Phase, pos.seq.Len), tab, ids, pos)
			}
		}
	}
}

// TestGatherScaledTable checks that scaled tables, which the fast levels
// leave to the reference, still agree.
func TestGatherScaledTable(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	for _, d := range allDTypes {
		tab := withSpec(t, randomTable(t, rng, d, 37, 20, 12, 0), func(s *TableSpec) { s.Scale, s.ComputeDType = 8, format.BF16 })
		compareGather(t, d.String()+" scaled", tab, randomIDs(rng, 50, 20), randomPositions(t, rng, 37, 0))
	}
}

func TestBagLevelsMatchReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	dims := append([]int(nil), testDims...)
	for range 8 {
		dims = append(dims, 1+rng.IntN(600))
	}
	for _, d := range allDTypes {
		for _, dim := range dims {
			for _, specialOdds := range []int{0, 5} {
				rows := int64(1 + rng.IntN(200))
				tab := randomTable(t, rng, d, dim, rows, randomExtra(rng, d, dim), specialOdds)
				n := rng.IntN(300)
				if rng.IntN(6) == 0 {
					n = bagStep + 1 + rng.IntN(700) // a bag longer than one inner step
				}
				ids := randomIDs(rng, n, rows)
				offsets := []int64{0}
				for o := int64(0); o < int64(n); {
					o += int64(rng.IntN(40)) // 0: an empty bag
					offsets = append(offsets, min(o, int64(n)))
				}
				if rng.IntN(4) == 0 {
					offsets = append(offsets, int64(n)) // an empty last bag
				}
				pad := int64(-1)
				if rng.IntN(2) == 0 {
					pad = rng.Int64N(rows)
				}
				weights := make([]float32, n)
				for i := range weights {
					weights[i] = value32(rng, 2*specialOdds)
				}
				what := fmt.Sprintf("%s dim %d stride %d specials 1/%d pad %d", d, dim, tab.stride, specialOdds, pad)
				for _, mode := range []BagMode{BagSum, BagMean, BagMax} {
					compareBag(t, what+" "+mode.String(), tab, ids, offsets, mode, nil, pad)
				}
				compareBag(t, what+" weighted", tab, ids, offsets, BagSum, weights, pad)
			}
		}
	}
}

// TestBagNaNAndZeroOrder pins the cases where the order of operands
// decides the result: NaNs meeting NaNs in sums and maxima, ±0 in maxima,
// infinite weights meeting zero values and zero weights meeting infinite
// ones, an infinite int8 scale meeting a zero code and a NaN bias.
func TestBagNaNAndZeroOrder(t *testing.T) {
	nan := func(bits uint32) float32 { return math.Float32frombits(bits) }
	inf := float32(math.Inf(1))
	negZero := math.Float32frombits(0x80000000)
	values := []float32{0, negZero, 1, -1, inf, -inf, nan(0x7fc00001), nan(0xffc00002), nan(0x7f800003), nan(0xff800004)}
	for _, dim := range []int{len(values), 16 + len(values), 8 + 4 + 3} {
		// Row r holds values rotated by r, so that each column meets every
		// value in every order across the rows.
		data := make([]byte, len(values)*4*dim)
		for r := range values {
			for i := range dim {
				v := values[(r+i)%len(values)]
				binary.LittleEndian.PutUint32(data[(r*dim+i)*4:], math.Float32bits(v))
			}
		}
		tab := tableOf(t, data, TableSpec{Rows: int64(len(values)), Dim: dim, Stride: 4 * dim, DType: format.F32})
		var ids []int64
		var offsets []int64
		for a := range values {
			for b := range values {
				offsets = append(offsets, int64(len(ids)))
				ids = append(ids, int64(a), int64(b), int64(a))
			}
		}
		weights := make([]float32, len(ids))
		for i := range weights {
			weights[i] = values[(i*7)%len(values)]
		}
		for _, mode := range []BagMode{BagSum, BagMax} {
			compareBag(t, fmt.Sprintf("dim %d %s", dim, mode), tab, ids, offsets, mode, nil, -1)
		}
		compareBag(t, fmt.Sprintf("dim %d weighted", dim), tab, ids, offsets, BagSum, weights, -1)
		pos := &posArg{tab: tab, seq: Sequence{Len: len(values), Phase: 3}}
		compareGather(t, fmt.Sprintf("dim %d pos", dim), tab, ids, pos)
	}
	// int8: every scale and bias from values, codes 0 and 7.
	const dim = 19
	rowSize := int(format.Int8.RowSize(dim))
	data := make([]byte, len(values)*len(values)*rowSize)
	for s := range values {
		for b := range values {
			row := data[(s*len(values)+b)*rowSize:]
			for i := range dim {
				row[i] = byte(7 * (i % 2))
			}
			binary.LittleEndian.PutUint32(row[format.Int8ScaleOffset(dim):], math.Float32bits(values[s]))
			binary.LittleEndian.PutUint32(row[format.Int8ScaleOffset(dim)+4:], math.Float32bits(values[b]))
		}
	}
	tab := tableOf(t, data, TableSpec{Rows: int64(len(values) * len(values)), Dim: dim, Stride: rowSize, DType: format.Int8})
	ids := make([]int64, tab.rows)
	for i := range ids {
		ids[i] = int64(i)
	}
	compareGather(t, "int8 specials", tab, ids, nil)
	compareBag(t, "int8 specials", tab, ids, []int64{0, 3, 50}, BagSum, nil, -1)
}

// TestAsmRejectsBadIDs checks the kernels' own range check (the backstop
// of "Who checks what"): the inner functions return the index of the
// first id outside the table rather than read outside it, at every level.
func TestAsmRejectsBadIDs(t *testing.T) {
	tab := randomTable(t, rand.New(rand.NewPCG(41, 42)), format.F32, 20, 4, 0, 0)
	pos := &posArg{tab: tab, seq: Sequence{Len: 2}}
	for _, l := range supportedLevels() {
		for _, bad := range []int64{4, -1, math.MaxInt64, math.MinInt64} {
			func() {
				defer useKernels(l)()
				if got := gatherChunk(make([]float32, 3*20), tab, []int64{0, bad, 1}, nil, Sequence{}); got != 1 {
					t.Errorf("%s: gather of id %d returned %d, want 1", l, bad, got)
				}
				if got := gatherChunk(make([]float32, 3*20), tab, []int64{0, bad, 1}, pos.tab, pos.seq); got != 1 {
					t.Errorf("%s: positional gather of id %d returned %d, want 1", l, bad, got)
				}
				for _, mode := range []BagMode{BagSum, BagMax} {
					if got := bagChunk(make([]float32, 20), tab, []int64{0, bad, 1}, nil, mode, math.MinInt64+1); got != 1 {
						t.Errorf("%s: %s bag of id %d returned %d, want 1", l, mode, bad, got)
					}
				}
				if got := bagChunk(make([]float32, 20), tab, []int64{0, bad, 1}, []float32{1, 1, 1}, BagSum, math.MinInt64+1); got != 1 {
					t.Errorf("%s: weighted bag of id %d returned %d, want 1", l, bad, got)
				}
			}()
		}
	}
}

// FuzzGatherMatchesReference builds a table from the fuzzer's bytes (so
// that it explores bit patterns: NaN payloads, subnormals, int8 scales)
// and checks gathers, positional gathers and bags at every level against
// the reference. Seeds: the cases below and the corpus in
// testdata/fuzz/FuzzGatherMatchesReference.
func FuzzGatherMatchesReference(f *testing.F) {
	diffLevels(f)
	f.Add(uint8(1), uint16(7), uint16(0), uint64(1), []byte{0, 0, 0x80, 0x7f, 1, 0, 0xc0, 0xff})
	f.Add(uint8(2), uint16(17), uint16(30), uint64(2), []byte{0x00, 0x7c, 0x01, 0x7c, 0x00, 0xfe, 0x01, 0x00})
	f.Add(uint8(3), uint16(33), uint16(64), uint64(3), []byte{0x80, 0x7f, 0xc1, 0xff, 0x00, 0x80})
	f.Add(uint8(4), uint16(9), uint16(4), uint64(4), []byte{0, 255, 0, 0, 0x80, 0x7f, 0, 0, 0xc0, 0x7f, 3})
	f.Add(uint8(4), uint16(300), uint16(4000), uint64(5), []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	f.Add(uint8(1), uint16(768), uint16(0), uint64(6), []byte{0x01, 0x00, 0x80, 0xff})
	corpus, err := fuzzcorpus.Load(fuzzcorpus.Dir(1, "FuzzGatherMatchesReference"))
	if err != nil {
		f.Fatal(err)
	}
	for _, a := range corpus {
		dt, err1 := fuzzcorpus.Arg[uint8](a, 0)
		dim, err2 := fuzzcorpus.Arg[uint16](a, 1)
		extra, err3 := fuzzcorpus.Arg[uint16](a, 2)
		seed, err4 := fuzzcorpus.Arg[uint64](a, 3)
		data, err5 := fuzzcorpus.Arg[[]byte](a, 4)
		if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
			f.Fatal(err)
		}
		f.Add(dt, dim, extra, seed, data)
	}
	f.Fuzz(func(t *testing.T, dt uint8, dim uint16, extra uint16, seed uint64, data []byte) {
		d := allDTypes[int(dt)%len(allDTypes)]
		dimN := 1 + int(dim)%800
		if len(data) == 0 {
			data = []byte{0}
		}
		rng := rand.New(rand.NewPCG(seed, uint64(len(data))))
		rows := int64(1 + rng.IntN(16))
		stride := align4(int(d.RowSize(dimN))) + 4*(int(extra)%1025)
		tdata := guarded(t, int(rows)*stride)
		for i := range tdata {
			tdata[i] = data[i%len(data)] ^ byte(i/len(data))
		}
		tab := tableOf(t, tdata, TableSpec{Rows: rows, Dim: dimN, Stride: stride, DType: d})
		ids := randomIDs(rng, rng.IntN(3*chunkRows(dimN)), rows)
		compareGather(t, "fuzz", tab, ids, nil)
		pos := &posArg{tab: tab, seq: Sequence{Len: 1 + rng.IntN(int(rows))}}
		if d == format.F32 {
			pos.seq.Phase = rng.IntN(pos.seq.Len)
			compareGather(t, "fuzz pos", tab, ids, pos)
		}
		offsets := []int64{0}
		for o := int64(0); o < int64(len(ids)); {
			o += int64(rng.IntN(20))
			offsets = append(offsets, min(o, int64(len(ids))))
		}
		weights := make([]float32, len(ids))
		for i := range weights {
			weights[i] = math.Float32frombits(binary.LittleEndian.Uint32(append(data[i%len(data):], 0, 0, 0, 0)))
		}
		pad := rng.Int64N(rows+1) - 1
		for _, mode := range []BagMode{BagSum, BagMean, BagMax} {
			compareBag(t, "fuzz "+mode.String(), tab, ids, offsets, mode, nil, pad)
		}
		compareBag(t, "fuzz weighted", tab, ids, offsets, BagSum, weights, pad)
	})
}
