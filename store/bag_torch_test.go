package store

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/embstore/embstore/format"
)

// torchBags is the layout of testdata/torch/torch-embedding-bag.json (see
// gen_bags.py): a table and torch.nn.functional.embedding_bag's outputs.
type torchBags struct {
	Torch string    `json:"torch"`
	Rows  int64     `json:"rows"`
	Dim   int       `json:"dim"`
	Table []float32 `json:"table"`
	Cases []struct {
		Name              string    `json:"name"`
		IDs               []int64   `json:"ids"`
		Offsets           []int64   `json:"offsets"`
		Mode              string    `json:"mode"`
		IncludeLastOffset bool      `json:"include_last_offset"`
		Weights           []float32 `json:"per_sample_weights"`
		PaddingIdx        *int64    `json:"padding_idx"`
		Output            []float32 `json:"output"`
	} `json:"cases"`
	MaxSpecial struct {
		Table []string `json:"table"`
		Bags  []struct {
			IDs    []int64 `json:"ids"`
			Output string  `json:"output"`
		} `json:"bags"`
	} `json:"max_special"`
}

func loadTorchBags(t *testing.T) *torchBags {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "torch", "torch-embedding-bag.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tb torchBags
	if err := json.Unmarshal(b, &tb); err != nil {
		t.Fatal(err)
	}
	if len(tb.Table) != int(tb.Rows)*tb.Dim || len(tb.Cases) == 0 {
		t.Fatalf("torch-embedding-bag.json: %d values for %d x %d, %d cases", len(tb.Table), tb.Rows, tb.Dim, len(tb.Cases))
	}
	return &tb
}

// writeValues writes an f32 table holding vals.
func writeValues(t *testing.T, rows int64, dim int, vals []float32) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "t.emb")
	fw, err := format.Create(path, format.Layout{Rows: rows, Dim: dim})
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Abort()
	if err := fw.WriteTokens(vals); err != nil {
		t.Fatal(err)
	}
	if err := fw.Commit(); err != nil {
		t.Fatal(err)
	}
	return path
}

// bagTolerance is how far a pooled value may be from torch's when both sum
// the same n terms t_i = w_i * x_i in float32 in different orders (torch's
// order depends on its build): each order is within (n-1) * 2^-24 * sum|t_i|
// of the exact sum, torch rounds each product w_i * x_i where Bag fuses it
// (2^-24 * |t_i| more), and a mean adds one rounding of the result. This is
// the tolerance the README documents.
func bagTolerance(n int, absSum float64, mean bool, want float32) float64 {
	tol := float64(3*n) * 0x1p-24 * absSum
	if mean && n > 0 {
		tol = tol/float64(n) + 0x1p-23*math.Abs(float64(want))
	}
	return tol
}

// TestBagMatchesTorch pools the bags of torch-embedding-bag.json with
// Table.Bag, on one thread and through a worker pool, and compares with
// torch's F.embedding_bag: max bit for bit, sum and mean within
// bagTolerance.
func TestBagMatchesTorch(t *testing.T) {
	tb := loadTorchBags(t)
	path := writeValues(t, tb.Rows, tb.Dim, tb.Table)
	dim := tb.Dim
	modes := map[string]BagMode{"sum": BagSum, "mean": BagMean, "max": BagMax}
	for _, threads := range []int{1, 4} {
		tab, err := Open(path, &Options{Threads: threads})
		if err != nil {
			t.Fatal(err)
		}
		identical, total := 0, 0
		var worst float64 // largest error as a fraction of the tolerance
		for _, c := range tb.Cases {
			mode, ok := modes[c.Mode]
			if !ok {
				t.Fatalf("%s: unknown mode %q", c.Name, c.Mode)
			}
			opts := &BagOptions{Mode: mode, IncludeLastOffset: c.IncludeLastOffset, PerSampleWeights: c.Weights}
			pad := int64(-1)
			if c.PaddingIdx != nil {
				opts.PaddingIdx = c.PaddingIdx
				pad = (*c.PaddingIdx + tb.Rows) % tb.Rows
			}
			bags := len(c.Offsets)
			end := int64(len(c.IDs))
			if c.IncludeLastOffset {
				bags--
				end = c.Offsets[bags]
			}
			if len(c.Output) != bags*dim {
				t.Fatalf("%s: torch output has %d values for %d bags", c.Name, len(c.Output), bags)
			}
			got := make([]float32, bags*dim)
			if err := tab.Bag(got, c.IDs, c.Offsets, opts); err != nil {
				t.Fatalf("%s: %v", c.Name, err)
			}
			for b := range bags {
				lo, hi := c.Offsets[b], end
				if b+1 < len(c.Offsets) {
					hi = min(c.Offsets[b+1], end)
				}
				for j := range dim {
					g, w := got[b*dim+j], c.Output[b*dim+j]
					total++
					if math.Float32bits(g) == math.Float32bits(w) {
						identical++
						continue
					}
					if mode == BagMax {
						t.Errorf("threads %d, %s: bag %d value %d = %v, torch %v (max must be exact)", threads, c.Name, b, j, g, w)
						continue
					}
					n, absSum := 0, 0.0
					for k := lo; k < hi; k++ {
						if c.IDs[k] == pad {
							continue
						}
						term := float64(tb.Table[c.IDs[k]*int64(dim)+int64(j)])
						if c.Weights != nil {
							term *= float64(c.Weights[k])
						}
						n++
						absSum += math.Abs(term)
					}
					tol := bagTolerance(n, absSum, mode == BagMean, w)
					diff := math.Abs(float64(g) - float64(w))
					worst = max(worst, diff/tol)
					if !(diff <= tol) {
						t.Errorf("threads %d, %s: bag %d value %d = %v, torch %v: off by %g, tolerance %g (%d ids)",
							threads, c.Name, b, j, g, w, diff, tol, n)
					}
				}
			}
		}
		tab.Close()
		t.Logf("threads %d, torch %s: %d of %d pooled values identical to torch's; the others use at most %.2g of their tolerance",
			threads, tb.Torch, identical, total, worst)
	}
}

// TestBagMaxSpecialsAgainstTorch checks Bag's max against torch's where
// the order of the values decides it: NaN and signed zeros. torch keeps a
// bag's first value and replaces it only with a strictly greater one, so it
// ignores a NaN that follows and keeps the first of +0 and -0; so must Bag,
// bit for bit.
func TestBagMaxSpecialsAgainstTorch(t *testing.T) {
	tb := loadTorchBags(t)
	ms := tb.MaxSpecial
	vals := make([]float32, len(ms.Table))
	for i, s := range ms.Table {
		v, err := strconv.ParseFloat(s, 32)
		if err != nil {
			t.Fatal(err)
		}
		vals[i] = float32(v)
	}
	tab := openTable(t, writeValues(t, int64(len(vals)), 1, vals))
	firstWins := func(ids []int64) float32 { // torch's rule, restated
		out := vals[ids[0]]
		for _, id := range ids[1:] {
			if vals[id] > out {
				out = vals[id]
			}
		}
		return out
	}
	bits := func(v float32) string {
		if v != v {
			return "nan"
		}
		return fmt.Sprint(v) + fmt.Sprintf("(%#08x)", math.Float32bits(v))
	}
	nanOrZero := 0
	for _, b := range ms.Bags {
		torchOut := float32(math.NaN())
		if b.Output != "nan" {
			v, err := strconv.ParseFloat(b.Output, 32)
			if err != nil {
				t.Fatal(err)
			}
			torchOut = float32(v)
		}
		if bits(firstWins(b.IDs)) != bits(torchOut) {
			t.Errorf("ids %v: torch gave %s; the rule the README states for torch gives %s", b.IDs, bits(torchOut), bits(firstWins(b.IDs)))
		}
		got := make([]float32, 1)
		if err := tab.Bag(got, b.IDs, []int64{0}, &BagOptions{Mode: BagMax}); err != nil {
			t.Fatal(err)
		}
		if bits(got[0]) != bits(torchOut) {
			t.Errorf("ids %v (values %v): Bag max = %s, torch %s", b.IDs, vals, bits(got[0]), bits(torchOut))
		}
		if torchOut != torchOut || torchOut == 0 {
			nanOrZero++
		}
	}
	t.Logf("%d bags with NaN or signed zeros, %d of which pool to NaN or a zero, as torch's", len(ms.Bags), nanOrZero)
}
