package torchinit

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"sync"
	"testing"
)

// lanesFile is the layout of torch-lanes.json (see gen_lanes.py).
type lanesFile struct {
	Pairs  int    `json:"pairs"`
	Mult   uint64 `json:"mult"`
	Offset uint64 `json:"offset"`
	Paths  map[string]struct {
		SHA  string    `json:"sha256_f32le"`
		Head []float64 `json:"head"`
	} `json:"paths"`
}

// TestEveryUniformLanes runs the 16-value Box-Muller kernel of each math path
// on an arrangement of blocks in which each of the 2^24 float uniforms occurs
// once in a logarithm lane and once in a sine/cosine lane, and compares the
// SHA-256 of all results with torch's, so the log, sin and cos kernels
// match torch on every input they can receive.
func TestEveryUniformLanes(t *testing.T) {
	var f lanesFile
	readJSON(t, "torch-lanes.json", &f)
	if f.Pairs != 1<<24 || f.Mult%2 == 0 {
		t.Fatalf("unexpected arrangement: %+v", f)
	}
	for _, path := range paths {
		ref, ok := f.Paths[path.String()]
		if !ok {
			t.Fatalf("no reference for %v", path)
		}
		t.Run(path.String(), func(t *testing.T) {
			transform := normal16AVX2
			if path == MathDefault {
				transform = normal16Default
			}
			// Blocks are computed in chunks by two workers and hashed
			// in order.
			const blocksPerChunk = 1 << 14
			nBlocks := f.Pairs / 8
			h := sha256.New()
			var head []float32
			out := [2][]float32{make([]float32, 16*blocksPerChunk), make([]float32, 16*blocksPerChunk)}
			bytes := make([]byte, 4*16*blocksPerChunk)
			for first := 0; first < nBlocks; first += 2 * blocksPerChunk {
				var wg sync.WaitGroup
				for w := range 2 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						b0 := first + w*blocksPerChunk
						for b := range blocksPerChunk {
							var d [16]float32
							for j := range 8 {
								i := uint64(8*(b0+b) + j)
								k2 := (i*f.Mult + f.Offset) % (1 << 24)
								d[j] = float32(i) * 0x1p-24
								d[j+8] = float32(k2) * 0x1p-24
							}
							transform(&d, 0, 1)
							copy(out[w][16*b:], d[:])
						}
					}()
				}
				wg.Wait()
				for w := range 2 {
					for i, v := range out[w] {
						binary.LittleEndian.PutUint32(bytes[4*i:], math.Float32bits(v))
					}
					h.Write(bytes)
					if head == nil {
						head = append(head, out[w][:32]...)
					}
				}
			}
			compareValues(t, "head", head, ref.Head)
			if got := hex.EncodeToString(h.Sum(nil)); got != ref.SHA {
				t.Errorf("sha256 of all lanes %s, want %s", got, ref.SHA)
			}
		})
	}
}
