package server

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
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

// benchHandler serves requests to a Server in-process (no sockets), to
// separate the handler's cost from HTTP's.
func benchHandler(b *testing.B, path, ctype string, body []byte, accept string) {
	dir := b.TempDir()
	s, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.AddTable("t", seeded(b, dir, "t", 50257, 256, 0)); err != nil {
		b.Fatal(err)
	}
	h := s.Handler()
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("%d %s", rec.Code, rec.Body.Bytes())
		}
	}
}

func ids16() []int64 {
	r := rand.New(rand.NewPCG(7, 8))
	ids := make([]int64, 16)
	for i := range ids {
		ids[i] = r.Int64N(50257)
	}
	return ids
}

func BenchmarkHandlerLookup16Binary(b *testing.B) {
	benchHandler(b, "/v1/lookup?table=t", ctypeOctet, le64(ids16()), ctypeOctet)
}

func BenchmarkHandlerLookup16JSON(b *testing.B) {
	body, _ := json.Marshal(map[string]any{"table": "t", "ids": ids16()})
	benchHandler(b, "/v1/lookup", ctypeJSON, body, "")
}

func BenchmarkHandlerLookup16Base64(b *testing.B) {
	body, _ := json.Marshal(map[string]any{"table": "t", "ids": ids16(), "encoding_format": "base64"})
	benchHandler(b, "/v1/lookup", ctypeJSON, body, "")
}
