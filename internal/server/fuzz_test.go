package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/embstore/embstore/internal/testing/fuzzcorpus"
)

// FuzzServerDecoders feeds arbitrary bytes to every request decoder: none may
// panic, and what they accept must respect the limits.
func FuzzServerDecoders(f *testing.F) {
	for _, s := range []string{
		`{"model": "t", "input": [[1, 2], [3]]}`, `{"model": "t", "input": "héllo\u00e9"}`, `{"model": "t", "input": ["a", "b\n"]}`,
		`{"model": "t", "input": [1, -2, 99999999999999999999]}`, `{"inputs": [1, 2], "normalize": false}`,
		`{"table": "t", "ids": [[1], [2, 3]], "positions": true, "start": 1}`,
		`{"table": "t", "ids": [1, 2, 3], "offsets": [0, 1], "mode": "sum", "per_sample_weights": [1.5, -2e10, 3]}`,
		`{"table": "t", "ids": [1, 2], "offsets": [0, 2], "include_last_offset": true}`,
		`[1, 2]`, `{"input": [1e5, 2.0]}`, `{"model": "t", "input": [[[1]]]}`,
	} {
		f.Add([]byte(s), "table=t&mode=sum&offsets=1")
	}
	f.Add([]byte("\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"), "table=t&positions=1&seq_len=1")
	addCorpus(f, "FuzzServerDecoders")
	f.Fuzz(func(t *testing.T, body []byte, query string) {
		lim := batchLimits{maxInputs: 16, maxTokens: 64, status: http.StatusRequestEntityTooLarge}
		checkBatch := func(b *batch) {
			if b == nil {
				return
			}
			if len(b.ids) > lim.maxTokens || b.inputs() > lim.maxInputs {
				t.Fatalf("accepted %d ids in %d inputs over the limits", len(b.ids), b.inputs())
			}
			for i := 1; i < len(b.starts); i++ {
				if b.starts[i] < b.starts[i-1] || b.starts[i] > int64(len(b.ids)) {
					t.Fatalf("bad starts %v for %d ids", b.starts, len(b.ids))
				}
			}
		}
		if q, err := decodeOpenAI(body, lim); err == nil {
			checkBatch(q.batch)
		} else if err.status < 400 || err.status > 499 {
			t.Fatalf("status %d", err.status)
		}
		if q, err := decodeTEI(body, lim); err == nil {
			checkBatch(q.batch)
		}
		if q, err := decodeLookupJSON(body, lim); err == nil {
			checkBatch(q.ids)
		}
		if q, err := decodeBagJSON(body, lim); err == nil {
			checkBag(t, q)
		}
		if q, err := decodeLookupBinary(body, query, lim); err == nil {
			checkBatch(q.ids)
			putIDs(q.pooled)
		}
		if q, err := decodeBagBinary(body, query, lim); err == nil {
			checkBag(t, q)
		}
		// The scanner alone, on bytes encoding/json has not seen.
		for _, l := range []batchLimits{lim, {maxInputs: 4, maxTokens: 8, status: 413, allowText: true, allowNested: true}} {
			if b, err := parseBatch(body, "input", l); err == nil {
				if len(b.ids) > l.maxTokens {
					t.Fatal("scanner passed the token limit")
				}
			}
		}
		parseFloats(body, "w", 8)
	})
}

func checkBag(t *testing.T, q *bagQuery) {
	for i, o := range q.offsets {
		if o < 0 || o > int64(len(q.ids)) || (i > 0 && o < q.offsets[i-1]) || (i == 0 && o != 0) {
			t.Fatalf("accepted offsets %v for %d ids", q.offsets, len(q.ids))
		}
	}
	if w := q.opts.PerSampleWeights; w != nil && len(w) != len(q.ids) {
		t.Fatalf("accepted %d weights for %d ids", len(w), len(q.ids))
	}
}

// FuzzServerRoutes posts arbitrary bodies to every POST route of a real handler:
// every answer is 200 or a 4xx with a JSON error body, never a 5xx or a
// panic.
func FuzzServerRoutes(f *testing.F) {
	dir := f.TempDir()
	path := seeded(f, dir, "t", 50, 4, 3)
	s, err := New(Config{MaxInputs: 8, MaxTokens: 32, MaxBody: 4096})
	if err != nil {
		f.Fatal(err)
	}
	if err := s.AddTable("t", path); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(s.Close)
	h := s.Handler()
	routes := []string{"/v1/embeddings", "/v1/lookup", "/v1/bag", "/embed", "/embed_all"}
	for _, seed := range []string{
		`{"model": "t", "input": [[1, 2], [3]]}`, `{"inputs": [[1, 49]]}`, `{"table": "t", "ids": [[1], [2, 3]], "positions": true, "start": 1}`,
		`{"table": "t", "ids": [1, 2, 3], "offsets": [0, 1], "mode": "sum", "per_sample_weights": [1.5, -2, 3], "padding_idx": -1}`,
		`{"table": "t", "ids": [0, 1], "section": "positions", "encoding_format": "base64"}`,
	} {
		for i := range routes {
			f.Add(uint8(i), []byte(seed), false, "")
		}
	}
	f.Add(uint8(1), []byte("\x01\x00\x00\x00\x00\x00\x00\x00"), true, "table=t&positions=true&start=2")
	f.Add(uint8(2), []byte("\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"), true, "table=t&offsets=1&padding_idx=1")
	addCorpus(f, "FuzzServerRoutes")
	f.Fuzz(func(t *testing.T, route uint8, body []byte, binary bool, query string) {
		target := routes[int(route)%len(routes)]
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.URL.Path = target
		req.URL.RawQuery = query
		if binary {
			req.Header.Set("Content-Type", ctypeOctet)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 && (rec.Code < 400 || rec.Code > 499) {
			t.Fatalf("%s %q: status %d: %s", target, body, rec.Code, rec.Body.Bytes())
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %q: %d with a body that is not JSON: %q", target, body, rec.Code, rec.Body.Bytes())
		}
	})
}

// addCorpus adds the corpus the repository keeps for fuzz target name in
// testdata/fuzz/<name> at its root (grown by long -fuzz runs).
func addCorpus(f *testing.F, name string) {
	corpus, err := fuzzcorpus.Load(fuzzcorpus.Dir(2, name))
	if err != nil {
		f.Fatal(err)
	}
	for _, args := range corpus {
		f.Add(args...)
	}
}
