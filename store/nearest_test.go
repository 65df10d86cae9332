package store

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/embstore/embstore/format"
)

// The tests of Nearest compare it with a brute-force ranking in float64 of
// the rows as Lookup returns them. Nearest computes in float32, so the rule
// is: each score is within tol of the exact one, the results are in order
// of their scores (ties by id), and every row left out has an exact score
// no better than the last one returned, give or take both tolerances. tol
// is the bound on float32 summation of the dot product in the kernels'
// order (about dim/16 + 4 roundings of sum |x_j q_j|) with room for the
// other roundings: the query's scaling, the norm, the product.

// exactRows returns every row of tab as Lookup returns it.
func exactRows(t testing.TB, tab *Table) [][]float32 {
	t.Helper()
	dim := tab.Header().Dim
	ids := make([]int64, tab.Header().Rows)
	for i := range ids {
		ids[i] = int64(i)
	}
	flat := make([]float32, len(ids)*dim)
	if err := tab.Lookup(flat, ids); err != nil {
		t.Fatal(err)
	}
	rows := make([][]float32, len(ids))
	for i := range rows {
		rows[i] = flat[i*dim : (i+1)*dim]
	}
	return rows
}

// oracle is the exact score of a row for a query, higher better (minus the
// squared distance for L2), its tolerance, and whether it has one: ok (it
// must be ranked) or maybe (it may be ranked or not: a cosine whose norm
// is at the edge of what float32 carries).
type oracle struct {
	score, tol float64
	ok, maybe  bool
}

func exactScore(x, q []float32, m Metric) oracle {
	var dot, abs, xx, qq float64
	for j := range x {
		a, b := float64(x[j]), float64(q[j])
		dot += a * b
		abs += math.Abs(a * b)
		xx += a * a
		qq += b * b
	}
	gamma := float64(len(x)/16+9) * 0x1p-24
	switch m {
	case Dot:
		return oracle{score: dot, tol: gamma*abs + 0x1p-140, ok: true}
	case Cosine:
		n := math.Sqrt(xx * qq)
		e := oracle{score: dot / n, tol: 2 * gamma * (abs/n + 1)}
		switch {
		case xx > 0x1p-120 && xx < 0x1p120:
			e.ok = true
		case xx > 0x1p-130 && xx < 0x1p130:
			e.maybe = true
		}
		return e
	}
	var d2 float64
	for j := range x {
		e := float64(x[j]) - float64(q[j])
		d2 += e * e
	}
	return oracle{score: -d2, tol: 2*gamma*(abs+xx+qq) + 0x1p-140, ok: true}
}

// checkNearest checks got (n results of a search of rows for query) against
// the exact ranking.
func checkNearest(t testing.TB, what string, rows [][]float32, query []float32, k int, o *NearestOptions, got []Neighbour) {
	t.Helper()
	limit := int64(len(rows))
	if o.Restrict > 0 {
		limit = min(limit, o.Restrict)
	}
	excluded := map[int64]bool{}
	for _, id := range o.Exclude {
		excluded[id] = true
	}
	ex := make([]oracle, limit)
	candidates, maybe := 0, 0
	for i := range ex {
		if !excluded[int64(i)] {
			ex[i] = exactScore(rows[i], query, o.Metric)
			if ex[i].ok {
				candidates++
			}
			if ex[i].maybe {
				maybe++
			}
		}
	}
	if len(got) < min(k, candidates) || len(got) > min(k, candidates+maybe) {
		t.Fatalf("%s: %d results, want min(k, %d) (%d more rows may be ranked or not)", what, len(got), candidates, maybe)
	}
	in := map[int64]bool{}
	for i, g := range got {
		if g.ID < 0 || g.ID >= limit || excluded[g.ID] || in[g.ID] || !ex[g.ID].ok && !ex[g.ID].maybe {
			t.Fatalf("%s: result %d is row %d: not a candidate, or twice", what, i, g.ID)
		}
		in[g.ID] = true
		e := ex[g.ID]
		if e.maybe {
			continue
		}
		s := float64(g.Score)
		if o.Metric == L2 {
			s = -s * s
		}
		if math.Abs(s-e.score) > e.tol {
			t.Fatalf("%s: row %d scores %v, exactly %v: off by more than %v", what, g.ID, g.Score, e.score, e.tol)
		}
		if i > 0 {
			p := got[i-1]
			better := p.Score > g.Score
			if o.Metric == L2 {
				better = p.Score < g.Score
			}
			if !better && !(p.Score == g.Score && p.ID < g.ID) {
				t.Fatalf("%s: results %d and %d out of order: %+v, %+v", what, i-1, i, p, g)
			}
			if ep := ex[p.ID]; !ep.maybe && ep.score < e.score-ep.tol-e.tol {
				t.Fatalf("%s: row %d (exactly %v) ranked above row %d (exactly %v)", what, p.ID, ep.score, g.ID, e.score)
			}
		}
	}
	if len(got) == 0 {
		return
	}
	last := ex[got[len(got)-1].ID]
	if last.maybe {
		return
	}
	for i, e := range ex {
		if e.ok && !in[int64(i)] && e.score > last.score+last.tol+e.tol {
			t.Fatalf("%s: row %d (exactly %v) left out for row %d (exactly %v)", what, i, e.score, got[len(got)-1].ID, last.score)
		}
	}
}

// nearTieValues returns rows for a table of dtype d in which many rows
// nearly tie or tie exactly for any query: exact copies of earlier rows,
// copies scaled by 2 (the same cosine, to the bit), copies with one value
// moved by a few ulps, and rows of zeros.
func nearTieValues(rng *rand.Rand, d format.DType, rows, dim int) []float32 {
	v := make([]float32, rows*dim)
	for r := range rows {
		row := v[r*dim : (r+1)*dim]
		if r < 4 || rng.IntN(3) == 0 {
			for j := range row {
				row[j] = float32(rng.NormFloat64())
			}
			continue
		}
		src := v[rng.IntN(r)*dim:][:dim]
		switch rng.IntN(5) {
		case 0, 1:
			copy(row, src)
		case 2:
			for j := range row {
				row[j] = 2 * src[j]
			}
		case 3:
			copy(row, src)
			j := rng.IntN(dim)
			bits := math.Float32bits(row[j]) + uint32(1+rng.IntN(3))
			if d == format.F16 || d == format.BF16 {
				bits += 1 << 16 // survive the rounding to 16 bits
			}
			row[j] = math.Float32frombits(bits)
		case 4:
			if d != format.Int8 {
				clear(row)
			}
		}
	}
	return v
}

// writeSearchTable writes a table of the given layout and values.
func writeSearchTable(t testing.TB, l format.Layout, values []float32) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "search.emb")
	fw, err := format.Create(path, l)
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Abort()
	if err := fw.WriteTokens(values); err != nil {
		t.Fatal(err)
	}
	if err := fw.Commit(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestNearestMatchesExactRanking(t *testing.T) {
	rng := rand.New(rand.NewPCG(71, 72))
	type layout struct {
		d       format.DType
		scale   float32
		compute format.DType
	}
	layouts := []layout{{format.F32, 1, 0}, {format.F16, 1, 0}, {format.BF16, 1, 0}, {format.Int8, 1, 0},
		{format.F32, 8, format.BF16}, {format.F16, 1, format.F16}, {format.Int8, 0.5, 0}}
	for _, ly := range layouts {
		for _, dim := range []int{1, 5, 16, 17, 64, 300, 301} {
			nrows := 1 + rng.IntN(900)
			// Half the tables have a norms section, which searches use
			// when no norms are given.
			sectionNorms := rng.IntN(2) == 0
			l := format.Layout{Rows: int64(nrows), Dim: dim, DType: ly.d, TokenScale: ly.scale, ComputeDType: ly.compute, Norms: sectionNorms}
			path := writeSearchTable(t, l, nearTieValues(rng, ly.d, nrows, dim))
			for _, threads := range []int{1, 3} {
				for _, copyOut := range []bool{false, true} {
					if copyOut && threads == 3 {
						continue
					}
					copyOutForTest = copyOut
					tab, err := Open(path, &Options{Threads: threads})
					copyOutForTest = false
					if err != nil {
						t.Fatal(err)
					}
					rows := exactRows(t, tab)
					for _, m := range []Metric{Cosine, Dot, L2} {
						nq := 1 + rng.IntN(12)
						queries := make([]float32, nq*dim)
						for i := range queries {
							queries[i] = float32(rng.NormFloat64())
						}
						if rng.IntN(2) == 0 {
							copy(queries, rows[rng.IntN(nrows)]) // a row of the table: exact ties at the top
							if m == Cosine && slices.Max(queries[:dim]) == 0 && slices.Min(queries[:dim]) == 0 {
								queries[0] = 1
							}
						}
						k := []int{1, 3, 10, 50, nrows, nrows + 7}[rng.IntN(6)]
						o := &NearestOptions{Metric: m}
						if rng.IntN(3) == 0 {
							o.Restrict = rng.Int64N(int64(nrows) + 5)
						}
						for range rng.IntN(4) {
							o.Exclude = append(o.Exclude, rng.Int64N(int64(nrows)+3)-1)
						}
						dst := make([]Neighbour, nq*k)
						counts := make([]int, nq)
						if err := tab.NearestBatch(dst, counts, queries, k, o); err != nil {
							t.Fatal(err)
						}
						what := fmt.Sprintf("%s scale %g compute %s norms section %v dim %d rows %d threads %d copy-out %v %s k %d restrict %d exclude %v",
							ly.d, ly.scale, ly.compute, sectionNorms, dim, nrows, threads, copyOut, m, k, o.Restrict, o.Exclude)
						for q := range nq {
							res := dst[q*k : q*k+counts[q]]
							checkNearest(t, fmt.Sprintf("%s query %d", what, q), rows, queries[q*dim:(q+1)*dim], k, o, res)
							checkDuplicates(t, what, rows, res, o)
							for _, g := range dst[q*k+counts[q] : (q+1)*k] {
								if g.ID != -1 {
									t.Fatalf("%s: unused slot holds %+v", what, g)
								}
							}
						}
						// One query alone gives what it gave in the batch.
						one := make([]Neighbour, k)
						n, err := tab.Nearest(one, queries[:dim], k, o)
						if err != nil {
							t.Fatal(err)
						}
						if !slices.Equal(one[:n], dst[:counts[0]]) {
							t.Fatalf("%s: Nearest alone differs from its batch", what)
						}
					}
					tab.Close()
				}
			}
		}
	}
}

// checkDuplicates checks the tie rule on rows that are exact copies of each
// other (the same scores, to the bit): if one is returned, every copy with
// a lower id that may be returned is returned before it.
func checkDuplicates(t testing.TB, what string, rows [][]float32, got []Neighbour, o *NearestOptions) {
	t.Helper()
	pos := map[int64]int{}
	for i, g := range got {
		pos[g.ID] = i
	}
	excluded := map[int64]bool{}
	for _, id := range o.Exclude {
		excluded[id] = true
	}
	for i, g := range got {
		for id := int64(0); id < g.ID; id++ {
			if excluded[id] || !slices.Equal(rows[id], rows[g.ID]) {
				continue
			}
			if p, ok := pos[id]; !ok || p > i {
				t.Fatalf("%s: row %d returned (rank %d) but its copy, row %d, is not before it", what, g.ID, i, id)
			}
		}
	}
}

// TestNearestNorms: norms given as a slice or a function give the ranking
// of norms computed in the pass, to float32 rounding; a function's error
// stops the search.
func TestNearestNorms(t *testing.T) {
	rng := rand.New(rand.NewPCG(73, 74))
	const nrows, dim = 500, 40
	path := writeSearchTable(t, format.Layout{Rows: nrows, Dim: dim, DType: format.BF16}, nearTieValues(rng, format.BF16, nrows, dim))
	tab, err := Open(path, &Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	rows := exactRows(t, tab)
	norms := make(NormSlice, nrows)
	for i, r := range rows {
		norms[i] = norm32(r)
	}
	query := make([]float32, dim)
	for i := range query {
		query[i] = float32(rng.NormFloat64())
	}
	dst := make([]Neighbour, 20)
	for _, m := range []Metric{Cosine, L2} {
		for _, src := range []NormSource{norms, NormFunc(norms.RowNorms)} {
			o := &NearestOptions{Metric: m, Norms: src, Restrict: 450}
			n, err := tab.Nearest(dst, query, 20, o)
			if err != nil {
				t.Fatal(err)
			}
			checkNearest(t, fmt.Sprintf("%s %T", m, src), rows, query, 20, o, dst[:n])
		}
		if _, err := tab.Nearest(dst, query, 20, &NearestOptions{Metric: m, Norms: norms[:449], Restrict: 450}); err == nil {
			t.Errorf("%s: 449 norms for 450 rows: no error", m)
		}
		boom := errors.New("boom")
		_, err := tab.Nearest(dst, query, 20, &NearestOptions{Metric: m, Norms: NormFunc(func([]float32, int64) error { return boom })})
		if !errors.Is(err, boom) {
			t.Errorf("%s: a failing NormFunc: %v", m, err)
		}
	}
}

func TestNearestArguments(t *testing.T) {
	path, _, _ := writeTable(t, format.Layout{Rows: 10, Dim: 4})
	tab := openTable(t, path)
	q := []float32{1, 2, 3, 4}
	dst := make([]Neighbour, 20)
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, c := range []struct {
		what  string
		dst   []Neighbour
		query []float32
		k     int
		o     *NearestOptions
	}{
		{"k 0", dst, q, 0, nil},
		{"k -1", dst, q, -1, nil},
		{"short output", dst[:2], q, 3, nil},
		{"short query", dst, q[:3], 3, nil},
		{"long query", dst, append(q, 5), 3, nil},
		{"NaN query", dst, []float32{1, nan, 3, 4}, 3, nil},
		{"infinite query", dst, []float32{1, 2, -inf, 4}, 3, &NearestOptions{Metric: Dot}},
		{"zero query for cosine", dst, []float32{0, 0, 0, 0}, 3, nil},
		{"bad metric", dst, q, 3, &NearestOptions{Metric: 3}},
		{"negative metric", dst, q, 3, &NearestOptions{Metric: -1}},
		{"negative restrict", dst, q, 3, &NearestOptions{Restrict: -1}},
	} {
		if n, err := tab.Nearest(c.dst, c.query, c.k, c.o); err == nil {
			t.Errorf("%s: no error (%d results)", c.what, n)
		}
	}
	if n, err := tab.Nearest(dst, []float32{0, 0, 0, 0}, 3, &NearestOptions{Metric: L2}); err != nil || n != 3 {
		t.Errorf("zero query for l2: %d, %v", n, err)
	}
	if n, err := tab.Nearest(dst, q, 20, &NearestOptions{Metric: Dot, Restrict: 1 << 40}); err != nil || n != 10 {
		t.Errorf("k past the rows, restrict past the rows: %d, %v", n, err)
	}
	if n, err := tab.Nearest(dst, q, 5, &NearestOptions{Exclude: []int64{9, 0, 1, 2, 3, 4, 5, 6, 7, 8}}); err != nil || n != 0 {
		t.Errorf("every row excluded: %d, %v", n, err)
	}
	counts := make([]int, 2)
	for _, c := range []struct {
		what    string
		counts  []int
		queries []float32
	}{
		{"no queries", counts, nil},
		{"a partial query", counts, append(q, 1)},
		{"short counts", counts[:1], append(q, q...)},
	} {
		if err := tab.NearestBatch(dst, c.counts, c.queries, 3, nil); err == nil {
			t.Errorf("batch, %s: no error", c.what)
		}
	}
	tab.Close()
	if _, err := tab.Nearest(dst, q, 3, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}

func TestParseMetric(t *testing.T) {
	for _, m := range []Metric{Cosine, Dot, L2} {
		if got, err := ParseMetric(m.String()); err != nil || got != m {
			t.Errorf("ParseMetric(%q) = %v, %v", m.String(), got, err)
		}
	}
	if _, err := ParseMetric("euclid"); err == nil {
		t.Error("ParseMetric(euclid): no error")
	}
}

func TestNearestDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop what is put back: searches recycled through it allocate")
	}
	rng := rand.New(rand.NewPCG(75, 76))
	const nrows, dim = 3000, 300
	values := nearTieValues(rng, format.F16, nrows, dim)
	plain := writeSearchTable(t, format.Layout{Rows: nrows, Dim: dim, DType: format.F16}, values)
	withNorms := writeSearchTable(t, format.Layout{Rows: nrows, Dim: dim, DType: format.F16, Norms: true}, values)
	for _, threads := range []int{1, 2, -1, -2} { // -1: one thread, copy-out; -2: two threads, a norms section
		path := plain
		if threads == -2 {
			path = withNorms
		}
		copyOutForTest = threads == -1
		tab, err := Open(path, &Options{Threads: max(1, threads)})
		copyOutForTest = false
		if err != nil {
			t.Fatal(err)
		}
		queries := make([]float32, 9*dim)
		for i := range queries {
			queries[i] = float32(rng.NormFloat64())
		}
		dst := make([]Neighbour, 9*10)
		counts := make([]int, 9)
		o := &NearestOptions{Exclude: []int64{5, 3}}
		if n := testing.AllocsPerRun(20, func() {
			if _, err := tab.Nearest(dst, queries[:dim], 10, o); err != nil {
				t.Fatal(err)
			}
			if err := tab.NearestBatch(dst, counts, queries, 10, o); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("threads %d: Nearest and NearestBatch allocate %v times per call", threads, n)
		}
		tab.Close()
	}
}

// TestNearestUsesNormsSection: without NearestOptions.Norms, a table with a
// norms section is searched with the section's norms (the same results, to
// the bit, as passing them as a NormSlice), not norms computed in the pass
// (which round differently: the section's are summed in float64).
func TestNearestUsesNormsSection(t *testing.T) {
	rng := rand.New(rand.NewPCG(77, 78))
	const nrows, dim = 700, 301
	values := nearTieValues(rng, format.F32, nrows, dim)
	with := writeSearchTable(t, format.Layout{Rows: nrows, Dim: dim, DType: format.F32, Norms: true}, values)
	without := writeSearchTable(t, format.Layout{Rows: nrows, Dim: dim, DType: format.F32}, values)
	for _, copyOut := range []bool{false, true} {
		copyOutForTest = copyOut
		tw, err := Open(with, &Options{Threads: 2})
		if err != nil {
			t.Fatal(err)
		}
		tn, err := Open(without, &Options{Threads: 2})
		copyOutForTest = false
		if err != nil {
			t.Fatal(err)
		}
		norms := make(NormSlice, nrows)
		if err := tw.ReadNorms(norms, 0); err != nil {
			t.Fatal(err)
		}
		differs := false
		for _, m := range []Metric{Cosine, L2} {
			for range 20 {
				q := make([]float32, dim)
				for i := range q {
					q[i] = float32(rng.NormFloat64())
				}
				const k = nrows
				def, given, pass := make([]Neighbour, k), make([]Neighbour, k), make([]Neighbour, k)
				if _, err := tw.Nearest(def, q, k, &NearestOptions{Metric: m}); err != nil {
					t.Fatal(err)
				}
				if _, err := tn.Nearest(given, q, k, &NearestOptions{Metric: m, Norms: norms}); err != nil {
					t.Fatal(err)
				}
				if _, err := tn.Nearest(pass, q, k, &NearestOptions{Metric: m}); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(def, given) {
					t.Fatalf("copy-out %v %s: the section's norms give other results than the same norms given", copyOut, m)
				}
				if !slices.Equal(def, pass) {
					differs = true
				}
			}
		}
		if !differs {
			t.Errorf("copy-out %v: the section's norms never changed a score: the test cannot tell them from the pass's", copyOut)
		}
		tw.Close()
		tn.Close()
	}
}
