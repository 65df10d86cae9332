package store

import (
	"encoding/binary"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/testing/fuzzcorpus"
)

var updateNearestSeeds = flag.Bool("update-nearest-seeds", false, "rewrite the seed corpus in testdata/fuzz/FuzzNearestArguments")

// The flag bits of FuzzNearestArguments.
const (
	nfMetricMask = 3      // bits 0-1: the metric, 3 being invalid
	nfTableShift = 2      // bits 2-3: which of nearestFuzzTables
	nfBatch      = 1 << 4 // NearestBatch, else Nearest
	nfShortDst   = 1 << 5 // the output is one neighbour short
	nfNorms      = 1 << 6 // norms given as a NormSlice
	nfNormFunc   = 1 << 7 // ... or as a NormFunc
)

// nearestMaxK bounds the output FuzzNearestArguments allocates: a larger k
// gets an output of nq*nearestMaxK neighbours, which is too short.
const nearestMaxK = 4096

// A nearestFuzzTable is a table FuzzNearestArguments searches, with its
// rows as Lookup returns them and their norms.
type nearestFuzzTable struct {
	tab   *Table
	rows  [][]float32
	norms NormSlice
}

var (
	nearestFuzzOnce   sync.Once
	nearestFuzzList   []*nearestFuzzTable
	nearestFuzzErr    error
	nearestFuzzLayout = []struct {
		l       format.Layout
		threads int
		copyOut bool
	}{
		{format.Layout{Rows: 50, Dim: 7}, 1, false},
		{format.Layout{Rows: 300, Dim: 33, DType: format.BF16}, 3, false},
		{format.Layout{Rows: 200, Dim: 16, DType: format.Int8}, 2, true},
		{format.Layout{Rows: 120, Dim: 300, DType: format.F16, TokenScale: 3, ComputeDType: format.F16}, 2, false},
	}
)

// nearestFuzzTables opens the tables once per process: f32, bf16 with a
// worker pool, int8 on the copy-out path, f16 with a token scale and a
// compute dtype; rows with near ties and exact copies.
func nearestFuzzTables(tb testing.TB) []*nearestFuzzTable {
	nearestFuzzOnce.Do(func() {
		dir, err := os.MkdirTemp("", "embstore-nearest-fuzz-")
		if err != nil {
			nearestFuzzErr = err
			return
		}
		defer os.RemoveAll(dir) // the tables stay mapped
		rng := rand.New(rand.NewPCG(81, 82))
		for i, c := range nearestFuzzLayout {
			path := filepath.Join(dir, string(rune('a'+i))+".emb")
			fw, err := format.Create(path, c.l)
			if err != nil {
				nearestFuzzErr = err
				return
			}
			err = fw.WriteTokens(nearTieValues(rng, c.l.DType, int(c.l.Rows), c.l.Dim))
			if err == nil {
				err = fw.Commit()
			}
			fw.Abort()
			if err != nil {
				nearestFuzzErr = err
				return
			}
			copyOutForTest = c.copyOut
			tab, err := Open(path, &Options{Threads: c.threads})
			copyOutForTest = false
			if err != nil {
				nearestFuzzErr = err
				return
			}
			ft := &nearestFuzzTable{tab: tab, rows: exactRows(tb, tab)}
			for _, r := range ft.rows {
				ft.norms = append(ft.norms, norm32(r))
			}
			nearestFuzzList = append(nearestFuzzList, ft)
		}
	})
	if nearestFuzzErr != nil {
		tb.Fatal(nearestFuzzErr)
	}
	return nearestFuzzList
}

// nearestQuery decodes query values: little-endian float32s, finite values
// beyond ±1e4 folded back into range (so that the exact ranking stays
// within float32's range), NaN and infinities kept.
func nearestQuery(b []byte) []float32 {
	q := make([]float32, len(b)/4)
	for i := range q {
		v := math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		if !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) && math.Abs(float64(v)) > 1e4 {
			v = float32(math.Mod(float64(v), 1e4))
		}
		q[i] = v
	}
	return q
}

// nearestCall runs one FuzzNearestArguments input and checks it against the
// documented rules: an error exactly when an argument breaks one (with dst
// untouched), else the exact ranking within float32 rounding.
func nearestCall(t *testing.T, tables []*nearestFuzzTable, flags byte, k int, restrict int64, exclude, query []byte) {
	ft := tables[int(flags>>nfTableShift)&3]
	dim := ft.tab.Header().Dim
	q := nearestQuery(query)
	o := &NearestOptions{Metric: Metric(flags & nfMetricMask), Restrict: restrict}
	for i := 0; i+8 <= len(exclude) && i < 8*64; i += 8 {
		o.Exclude = append(o.Exclude, int64(binary.LittleEndian.Uint64(exclude[i:])))
	}
	switch {
	case flags&nfNorms != 0:
		o.Norms = ft.norms
	case flags&nfNormFunc != 0:
		o.Norms = NormFunc(ft.norms.RowNorms)
	}
	nq := 1
	if flags&nfBatch != 0 && len(q) >= dim {
		nq = len(q) / dim
	}
	size := nq * min(max(k, 0), nearestMaxK)
	if flags&nfShortDst != 0 && size > 0 {
		size--
	}
	dst := make([]Neighbour, size)
	for i := range dst {
		dst[i] = Neighbour{ID: -7}
	}
	counts := make([]int, nq)

	wantErr := false
	if flags&nfBatch != 0 {
		wantErr = len(q) == 0 || len(q)%dim != 0
	} else {
		wantErr = len(q) != dim
	}
	wantErr = wantErr || o.Metric > L2 || k <= 0 || len(dst)/k < nq || restrict < 0
	if !wantErr {
		for i := range nq {
			var n2 float64
			for _, v := range q[i*dim : (i+1)*dim] {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					wantErr = true
				}
				n2 += float64(v) * float64(v)
			}
			wantErr = wantErr || o.Metric == Cosine && n2 == 0
		}
	}

	var err error
	if flags&nfBatch != 0 {
		err = ft.tab.NearestBatch(dst, counts, q, k, o)
	} else {
		counts[0], err = ft.tab.Nearest(dst, q, k, o)
	}
	if wantErr != (err != nil) {
		t.Fatalf("flags %#x k %d restrict %d exclude %v, %d query values for rows of %d: error %v, want an error: %v",
			flags, k, restrict, o.Exclude, len(q), dim, err, wantErr)
	}
	if err != nil {
		for i, g := range dst {
			if g.ID != -7 {
				t.Fatalf("failed with %v but wrote dst[%d]", err, i)
			}
		}
		return
	}
	for i := range nq {
		res := dst[i*k : i*k+counts[i]]
		checkNearest(t, "fuzz", ft.rows, q[i*dim:(i+1)*dim], k, o, res)
		checkDuplicates(t, "fuzz", ft.rows, res, o)
		for j, g := range dst[i*k+counts[i] : (i+1)*k] {
			if g.ID != -1 {
				t.Fatalf("query %d: unused slot %d holds %+v", i, counts[i]+j, g)
			}
		}
	}
}

// A nearestSeed is one FuzzNearestArguments input, named for the rule it
// exercises.
type nearestSeed struct {
	name     string
	flags    byte
	k        int
	restrict int64
	exclude  []byte
	query    []byte
}

// floats encodes float32 values as FuzzNearestArguments's query bytes.
func floats(vs ...float32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

// seedQuery returns n normal values drawn from seed, as query bytes.
func seedQuery(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return floats(v...)
}

func ids64(vs ...int64) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
	}
	return b
}

func nearestSeeds() []nearestSeed {
	const (
		t0 = 0 << nfTableShift // f32, 7 values
		t1 = 1 << nfTableShift // bf16, 33, threads
		t2 = 2 << nfTableShift // int8, 16, copy-out
		t3 = 3 << nfTableShift // f16, 300, scaled
	)
	cos, dot, l2 := byte(Cosine), byte(Dot), byte(L2)
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	return []nearestSeed{
		{"ok-cosine", t0 | cos, 10, 0, nil, seedQuery(7, 1)},
		{"ok-dot-batch", t1 | dot | nfBatch, 5, 0, nil, seedQuery(3*33, 2)},
		{"ok-l2-copy-out", t2 | l2, 4, 0, nil, seedQuery(16, 3)},
		{"ok-scaled-batch", t3 | cos | nfBatch, 3, 0, nil, seedQuery(2*300, 4)},
		{"norm-slice", t1 | cos | nfNorms, 7, 200, nil, seedQuery(33, 5)},
		{"norm-func-l2", t1 | l2 | nfNormFunc | nfBatch, 2, 0, nil, seedQuery(66, 6)},
		{"k-zero", t0 | cos, 0, 0, nil, seedQuery(7, 7)},
		{"k-negative", t0 | dot, -3, 0, nil, seedQuery(7, 8)},
		{"k-past-rows", t0 | dot, 60, 0, nil, seedQuery(7, 9)},
		{"k-huge", t0 | dot, math.MaxInt, 0, nil, seedQuery(7, 10)},
		{"short-dst", t0 | cos | nfShortDst, 4, 0, nil, seedQuery(7, 11)},
		{"short-dst-batch", t1 | cos | nfShortDst | nfBatch, 4, 0, nil, seedQuery(66, 12)},
		{"nan-query", t0 | dot, 3, 0, nil, floats(1, 2, nan, 4, 5, 6, 7)},
		{"inf-query-batch", t0 | l2 | nfBatch, 3, 0, nil, floats(1, 2, 3, 4, 5, 6, 7, 1, 1, 1, 1, -inf, 1, 1)},
		{"zero-query-cosine", t0 | cos, 3, 0, nil, floats(0, 0, 0, 0, 0, 0, 0)},
		{"zero-query-l2", t0 | l2, 3, 0, nil, floats(0, 0, 0, 0, 0, 0, 0)},
		{"subnormal-query", t0 | cos, 3, 0, nil, floats(1e-45, 0, 0, 0, 0, 0, -1e-40)},
		{"short-query", t0 | cos, 3, 0, nil, seedQuery(6, 13)},
		{"long-query", t0 | cos, 3, 0, nil, seedQuery(8, 14)},
		{"partial-batch", t1 | dot | nfBatch, 3, 0, nil, seedQuery(40, 15)},
		{"empty-batch", t1 | dot | nfBatch, 3, 0, nil, nil},
		{"bad-metric", t0 | 3, 3, 0, nil, seedQuery(7, 16)},
		{"restrict-negative", t0 | cos, 3, -1, nil, seedQuery(7, 17)},
		{"restrict-past-rows", t0 | cos, 3, 1 << 40, nil, seedQuery(7, 18)},
		{"restrict-one", t1 | dot, 3, 1, nil, seedQuery(33, 19)},
		{"exclude-out-of-range", t0 | cos, 5, 0, ids64(-1, 50, math.MaxInt64, math.MinInt64, 3), seedQuery(7, 20)},
		{"exclude-everything", t0 | dot, 5, 10, ids64(9, 8, 7, 6, 5, 4, 3, 2, 1, 0), seedQuery(7, 21)},
		{"exclude-sorted", t1 | cos | nfBatch, 5, 0, ids64(0, 1, 2, 10, 20, 299), seedQuery(66, 22)},
	}
}

var nearestCorpusDir = fuzzcorpus.Dir(1, "FuzzNearestArguments")

func marshalNearestSeed(s nearestSeed) []byte {
	return fuzzcorpus.Marshal(s.flags, s.k, s.restrict, s.exclude, s.query)
}

// FuzzNearestArguments calls Nearest and NearestBatch with hostile
// arguments (k <= 0, k past the rows or past any output, NaN and infinite
// queries, zero queries, wrong lengths, bad metrics, restrictions and
// excluded ids out of range, outputs one short, norms given) on tables of
// each dtype, with a worker pool, on the copy-out path and with scaled
// rows. Each call must fail exactly when an argument breaks a documented
// rule, leaving dst alone, and otherwise return the exact ranking within
// float32 rounding (checkNearest). Seeds: testdata/fuzz/FuzzNearestArguments,
// one input per rule (TestFuzzNearestSeeds writes and checks them).
func FuzzNearestArguments(f *testing.F) {
	tables := nearestFuzzTables(f)
	for _, s := range nearestSeeds() {
		f.Add(s.flags, s.k, s.restrict, s.exclude, s.query)
	}
	corpus, err := fuzzcorpus.Load(nearestCorpusDir)
	if err != nil {
		f.Fatal(err)
	}
	for _, a := range corpus {
		f.Add(a[0].(byte), a[1].(int), a[2].(int64), a[3].([]byte), a[4].([]byte))
	}
	f.Fuzz(func(t *testing.T, flags byte, k int, restrict int64, exclude, query []byte) {
		nearestCall(t, tables, flags, k, restrict, exclude, query)
	})
}

// TestFuzzNearestSeeds keeps testdata/fuzz/FuzzNearestArguments in step with
// the seeds (-update-nearest-seeds rewrites them; entries a fuzzing run
// added are left alone).
func TestFuzzNearestSeeds(t *testing.T) {
	for _, s := range nearestSeeds() {
		p := filepath.Join(nearestCorpusDir, s.name)
		b := marshalNearestSeed(s)
		if *updateNearestSeeds {
			if err := os.MkdirAll(nearestCorpusDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if got, err := os.ReadFile(p); err != nil || string(got) != string(b) {
			t.Errorf("%s is missing or stale (run go test ./store/ -run %s -update-nearest-seeds): %v", p, t.Name(), err)
		}
	}
}
