package server

import (
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// row256 is a row of 256 values drawn like torch's nn.Embedding init
// (standard normal), the shape the encoding benchmarks use.
func row256() []float32 {
	r := rand.New(rand.NewPCG(1, 2))
	v := make([]float32, 256)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// The encoding benchmarks report MB/s of encoded output and, through
// ns/op, the cost of one 256-value row.

func BenchmarkEncodeRowFloat(b *testing.B) {
	row := row256()
	buf, _ := appendFloatRow(nil, row)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = appendFloatRow(buf[:0], row)
	}
}

func BenchmarkEncodeRowFloatStdlib(b *testing.B) {
	row := row256()
	out, _ := json.Marshal(row)
	b.SetBytes(int64(len(out)))
	b.ReportAllocs()
	for b.Loop() {
		json.Marshal(row)
	}
}

func BenchmarkEncodeRowBase64(b *testing.B) {
	row := row256()
	buf := appendBase64Row(nil, row)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = appendBase64Row(buf[:0], row)
	}
}

func BenchmarkEncodeRowBase64Stdlib(b *testing.B) {
	row := row256()
	raw := float32Bytes(row)
	out, _ := json.Marshal(base64.StdEncoding.EncodeToString(raw))
	b.SetBytes(int64(len(out)))
	b.ReportAllocs()
	for b.Loop() {
		json.Marshal(base64.StdEncoding.EncodeToString(raw))
	}
}

func BenchmarkDecodeOpenAI64x32(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	inputs := make([][]int64, 64)
	for i := range inputs {
		for range 32 {
			inputs[i] = append(inputs[i], r.Int64N(50257))
		}
	}
	body, _ := json.Marshal(map[string]any{"model": "t", "input": inputs})
	lim := batchLimits{maxInputs: DefaultMaxInputs, maxTokens: DefaultMaxTokens, status: 400}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeOpenAI(body, lim); err != nil {
			b.Fatal(err)
		}
	}
}
