package torchinit

import (
	"fmt"
	"math"
	"testing"
)

// sharedFile is the layout of torch-init-shared-{avx2,default}.json.
type sharedFile struct {
	Torch         string     `json:"torch"`
	CPUCapability string     `json:"cpu_capability"`
	Cases         []refTable `json:"cases"`
	Pipeline      struct {
		Seed            uint64    `json:"seed"`
		Rows            int64     `json:"rows"`
		Dim             int64     `json:"dim"`
		Positions       int64     `json:"positions"`
		IDs             []int64   `json:"ids"`
		TokenSHA        string    `json:"token_sha256_f32le"`
		PositionSHA     string    `json:"position_sha256_f32le"`
		TokenEmbeddings []float64 `json:"token_embeddings"`
		InputEmbeddings []float64 `json:"input_embeddings"`
	} `json:"seed_doc_pipeline"`
}

// extraFile is the layout of torch-init-extra.json (see gen_extra.py).
type extraFile struct {
	Torch string `json:"torch"`
	Paths map[string][]struct {
		Name   string     `json:"name"`
		Seed   uint64     `json:"seed"`
		Tables []refTable `json:"tables"`
	} `json:"paths"`
}

// chunkFor picks the Fill size for the i-th table: small chunks only where
// the table is small enough for that to stay fast.
func chunkFor(i int, numel int64) int {
	c := chunkSizes[i%len(chunkSizes)]
	if numel > 1<<16 && c < 1000 {
		c = 4093
	}
	return c
}

var paths = []MathPath{MathAVX2, MathDefault}

// TestSharedReferences checks every case of the shared reference files: the
// whole-table SHA-256, and every value or the first and last 32.
func TestSharedReferences(t *testing.T) {
	for _, path := range paths {
		t.Run(path.String(), func(t *testing.T) {
			var f sharedFile
			readJSON(t, "torch-init-shared-"+path.String()+".json", &f)
			if f.CPUCapability != path.String() || len(f.Cases) == 0 {
				t.Fatalf("file is for %q with %d cases", f.CPUCapability, len(f.Cases))
			}
			for i, rc := range f.Cases {
				name := fmt.Sprintf("%s_seed%d_%dx%d", rc.Init, rc.Seed, rc.Rows, rc.Dim)
				t.Run(name, func(t *testing.T) {
					checkTable(t, NewGenerator(rc.Seed), rc, path, chunkFor(i, rc.numel()), nil)
				})
			}
		})
	}
}

// TestSeedDocPipeline checks the canonical example of both shared files:
// one generator draws a token table and then a positional table; the test
// looks up ids in the token table (streaming, without keeping the table)
// and adds the positional rows in float32.
func TestSeedDocPipeline(t *testing.T) {
	for _, path := range paths {
		t.Run(path.String(), func(t *testing.T) {
			var f sharedFile
			readJSON(t, "torch-init-shared-"+path.String()+".json", &f)
			p := f.Pipeline
			if p.Rows == 0 || len(p.IDs) == 0 || int64(len(p.IDs)) > p.Positions {
				t.Fatalf("bad pipeline reference: %+v", p)
			}
			dim := p.Dim
			g := NewGenerator(p.Seed)

			// Token table: keep only the rows of the ids.
			tokens := make([]float32, int64(len(p.IDs))*dim)
			capture := func(pos int64, v []float32) {
				for i, id := range p.IDs {
					lo, hi := id*dim, (id+1)*dim
					for k := max(lo, pos); k < min(hi, pos+int64(len(v))); k++ {
						tokens[int64(i)*dim+k-lo] = v[k-pos]
					}
				}
			}
			tok := refTable{Init: "embedding", Rows: p.Rows, Dim: dim, SHA: p.TokenSHA}
			checkTable(t, g, tok, path, 1<<16, capture)

			// Positional table, from the same generator.
			pos := refTable{Init: "embedding", Rows: p.Positions, Dim: dim, SHA: p.PositionSHA}
			var posValues []float32
			checkTable(t, g, pos, path, 100, func(_ int64, v []float32) { posValues = append(posValues, v...) })

			compareValues(t, "token_embeddings", tokens, p.TokenEmbeddings)
			input := make([]float32, len(tokens))
			for i := range p.IDs {
				for k := range dim {
					j := int64(i)*dim + k
					input[j] = tokens[j] + posValues[j]
				}
			}
			compareValues(t, "input_embeddings", input, p.InputEmbeddings)
		})
	}
}

// TestExtraReferences checks the cases of torch-init-extra.json: several
// tables per generator, seeds above 2^32, all sizes up to 64, empty tables,
// and normal_/uniform_ parameters.
func TestExtraReferences(t *testing.T) {
	var f extraFile
	readJSON(t, "torch-init-extra.json", &f)
	for _, path := range paths {
		cases := f.Paths[path.String()]
		if len(cases) == 0 {
			t.Fatalf("no cases for %v", path)
		}
		t.Run(path.String(), func(t *testing.T) {
			for ci, c := range cases {
				t.Run(c.Name, func(t *testing.T) {
					g := NewGenerator(c.Seed)
					for ti, rt := range c.Tables {
						checkTable(t, g, rt, path, chunkFor(ci+ti, rt.numel()), nil)
					}
				})
			}
		})
	}
}

// TestSeedUsesLow32Bits: torch seeds the engine with the low 32 bits only.
func TestSeedUsesLow32Bits(t *testing.T) {
	a, b := NewGenerator(67280421310721), NewGenerator(67280421310721&math.MaxUint32)
	for i := range 2000 {
		if x, y := a.random(), b.random(); x != y {
			t.Fatalf("output %d: %d != %d", i, x, y)
		}
	}
}
