package torchinit

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// refDir holds the reference files made by PyTorch.
var refDir = filepath.Join("..", "..", "testdata", "torch")

// refTable is one table of a reference file: its initialisation, shape,
// the SHA-256 of all its values as little-endian float32, and either every
// value or the first and last 32.
type refTable struct {
	Init   string             `json:"init"`
	Seed   uint64             `json:"seed"` // shared files: per case
	Rows   int64              `json:"rows"`
	Dim    int64              `json:"dim"`
	Params map[string]float64 `json:"params"`
	SHA    string             `json:"sha256_f32le"`
	Values []float64          `json:"values"`
	Head   []float64          `json:"head"`
	Tail   []float64          `json:"tail"`
}

func (rt refTable) numel() int64 { return rt.Rows * rt.Dim }

// init converts the reference's init name and parameters.
func (rt refTable) init(t *testing.T) Init {
	t.Helper()
	param := func(name string) float64 {
		v, ok := rt.Params[name]
		if !ok {
			t.Fatalf("reference %s table lacks parameter %q", rt.Init, name)
		}
		return v
	}
	switch rt.Init {
	case "embedding":
		return Embedding()
	case "normal":
		return Normal(param("mean"), param("std"))
	case "uniform":
		return Uniform(param("a"), param("b"))
	}
	t.Fatalf("unknown init %q", rt.Init)
	return Init{}
}

func (rt refTable) String() string {
	return fmt.Sprintf("%s%v %dx%d", rt.Init, rt.Params, rt.Rows, rt.Dim)
}

func readJSON(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(refDir, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// digest accumulates a table streamed in chunks: its SHA-256 as
// little-endian float32, its first and last 32 values, and optionally all
// of them.
type digest struct {
	h      hash.Hash
	buf    []byte
	n      int64
	head   []float32
	tail   [32]float32 // ring buffer of the last values
	all    []float32
	keep   bool
	onData func(pos int64, v []float32)
}

func newDigest(keepAll bool) *digest { return &digest{h: sha256.New(), keep: keepAll} }

func (d *digest) add(v []float32) {
	if d.onData != nil {
		d.onData(d.n, v)
	}
	d.buf = d.buf[:0]
	for _, x := range v {
		d.buf = binary.LittleEndian.AppendUint32(d.buf, math.Float32bits(x))
		if len(d.head) < 32 {
			d.head = append(d.head, x)
		}
		d.tail[d.n%32] = x
		d.n++
	}
	d.h.Write(d.buf)
	if d.keep {
		d.all = append(d.all, v...)
	}
}

func (d *digest) sum() string { return hex.EncodeToString(d.h.Sum(nil)) }

func (d *digest) last() []float32 {
	k := min(d.n, 32)
	out := make([]float32, 0, k)
	for i := d.n - k; i < d.n; i++ {
		out = append(out, d.tail[i%32])
	}
	return out
}

// stream drains tensor t through Fill in chunks of the given size into d.
func stream(t *testing.T, ten *Tensor, chunk int, d *digest) {
	t.Helper()
	buf := make([]float32, chunk)
	for {
		n := ten.Fill(buf)
		if n == 0 {
			break
		}
		d.add(buf[:n])
	}
	if d.n != ten.Len() || ten.Remaining() != 0 {
		t.Fatalf("streamed %d values of %d, %d remaining", d.n, ten.Len(), ten.Remaining())
	}
}

// checkTable generates a table from g and compares it with the reference.
// onData, if not nil, sees the values as they stream.
func checkTable(t *testing.T, g *Generator, rt refTable, path MathPath, chunk int, onData func(int64, []float32)) {
	t.Helper()
	ten, err := g.NewTensor(rt.numel(), rt.init(t), path)
	if err != nil {
		t.Fatalf("%v: %v", rt, err)
	}
	d := newDigest(rt.Values != nil)
	d.onData = onData
	stream(t, ten, chunk, d)
	if rt.Values != nil {
		compareValues(t, rt.String()+" values", d.all, rt.Values)
	}
	if rt.Head != nil || rt.Tail != nil {
		compareValues(t, rt.String()+" head", d.head, rt.Head)
		compareValues(t, rt.String()+" tail", d.last(), rt.Tail)
	}
	if got := d.sum(); got != rt.SHA {
		t.Errorf("%v: sha256 %s, want %s", rt, got, rt.SHA)
	}
}

// compareValues compares float32 results bit for bit with reference values
// printed by Python (float32 values as round-tripping decimals).
func compareValues(t *testing.T, what string, got []float32, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d values, want %d", what, len(got), len(want))
		return
	}
	bad := 0
	for i := range want {
		w := float32(want[i])
		if float64(w) != want[i] {
			t.Fatalf("%s[%d]: reference value %v is not a float32", what, i, want[i])
		}
		if math.Float32bits(got[i]) != math.Float32bits(w) {
			if bad < 5 {
				t.Errorf("%s[%d] = %v (%#08x), want %v (%#08x)", what, i,
					got[i], math.Float32bits(got[i]), w, math.Float32bits(w))
			}
			bad++
		}
	}
	if bad > 5 {
		t.Errorf("%s: %d of %d values differ", what, bad, len(want))
	}
}

// chunkSizes are the Fill sizes the reference tests cycle through, so that
// block boundaries, the recomputed tail and single values all fall at chunk
// edges somewhere.
var chunkSizes = []int{4096, 1, 7, 16, 17, 1000, 65536, 3}
