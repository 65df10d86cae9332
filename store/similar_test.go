package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/wordvec"
)

// wordTable reads a word-vector fixture of testdata/wordvec with
// internal/wordvec, writes its rows to a table, and returns the table and
// the vocabulary.
func wordTable(t *testing.T, name string) (*Table, *wordvec.Vocab) {
	t.Helper()
	r, err := wordvec.Open(filepath.Join("..", "testdata", "wordvec", name), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var vecs []float32
	for {
		b, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		vecs = append(vecs, b.Vectors...)
	}
	dim := r.Header().Dim
	path := writeSearchTable(t, format.Layout{Rows: int64(len(vecs) / dim), Dim: dim}, vecs)
	return openTable(t, path), r.Vocab()
}

// TestMostSimilarMatchesGensim runs the most_similar cases recorded from
// gensim 4.2 (testdata/wordvec/expected.json, made by gen_fixtures.py):
// single words, analogies (positive and negative), restrict_vocab, on
// word2vec and fastText vectors. The words must be gensim's, in its order,
// with scores within 1e-5, except where gensim's scores tie to that
// precision (its order among them is numpy's, arbitrary).
func TestMostSimilarMatchesGensim(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "testdata", "wordvec", "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		Similar []struct {
			File     string            `json:"file"`
			Positive []string          `json:"positive"`
			Negative []string          `json:"negative"`
			TopN     int               `json:"topn"`
			Restrict int64             `json:"restrict_vocab"`
			Result   []json.RawMessage `json:"result"`
		} `json:"similar"`
	}
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	if len(e.Similar) < 10 {
		t.Fatalf("%d most_similar cases", len(e.Similar))
	}
	type fixture struct {
		tab   *Table
		vocab *wordvec.Vocab
	}
	fixtures := map[string]fixture{}
	for _, c := range e.Similar {
		fx, ok := fixtures[c.File]
		if !ok {
			fx.tab, fx.vocab = wordTable(t, c.File)
			fixtures[c.File] = fx
		}
		terms := func(words []string) []Term {
			var ts []Term
			for _, w := range words {
				id, ok := fx.vocab.ID([]byte(w))
				if !ok {
					t.Fatalf("%s: no word %q", c.File, w)
				}
				ts = append(ts, Term{ID: int64(id)})
			}
			return ts
		}
		what := fmt.Sprintf("%s %v - %v restrict %d", c.File, c.Positive, c.Negative, c.Restrict)
		for _, threads := range []int{1, 3} {
			tab := fx.tab
			if threads > 1 {
				var err error
				if tab, err = Open(fx.tab.f.Name(), &Options{Threads: threads}); err != nil {
					t.Fatal(err)
				}
			}
			dst := make([]Neighbour, c.TopN)
			n, err := tab.MostSimilar(dst, terms(c.Positive), terms(c.Negative), c.TopN, &SimilarOptions{Restrict: c.Restrict})
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if n != len(c.Result) {
				t.Fatalf("%s: %d results, gensim %d", what, n, len(c.Result))
			}
			scores := make([]float64, len(c.Result))
			words := make([]string, len(c.Result))
			for r, raw := range c.Result {
				var pair [2]any
				if err := json.Unmarshal(raw, &pair); err != nil {
					t.Fatal(err)
				}
				words[r], scores[r] = pair[0].(string), pair[1].(float64)
			}
			for r := range n {
				got := dst[r]
				if d := math.Abs(float64(got.Score) - scores[r]); d > 1e-5 {
					t.Errorf("%s: rank %d scores %.7f, gensim %.7f", what, r, got.Score, scores[r])
				}
				if w := string(fx.vocab.Word(int(got.ID))); w != words[r] {
					tie := r+1 < n && math.Abs(scores[r+1]-scores[r]) < 1e-5 || r > 0 && math.Abs(scores[r-1]-scores[r]) < 1e-5
					if !tie {
						t.Errorf("%s: rank %d is %q, gensim %q", what, r, w, words[r])
					}
				}
			}
			if threads > 1 {
				tab.Close()
			}
		}
	}
}

func TestMostSimilarArguments(t *testing.T) {
	path, _, _ := writeTable(t, format.Layout{Rows: 10, Dim: 4})
	tab := openTable(t, path)
	dst := make([]Neighbour, 5)
	var ie *IndexError
	if _, err := tab.MostSimilar(dst, []Term{{ID: 1}}, []Term{{ID: 10}}, 5, nil); !errors.As(err, &ie) || ie.Arg != "negative" || ie.Index != 0 {
		t.Errorf("an id past the table: %v", err)
	}
	for _, c := range []struct {
		what     string
		pos, neg []Term
		topn     int
	}{
		{"no inputs", nil, nil, 5},
		{"k 0", []Term{{ID: 1}}, nil, 0},
		{"a short vector", []Term{{Vector: []float32{1, 2, 3}}}, nil, 5},
		{"a zero vector", []Term{{Vector: []float32{0, 0, 0, 0}}}, nil, 5},
		{"a NaN vector", []Term{{Vector: []float32{1, float32(math.NaN()), 0, 0}}}, nil, 5},
		{"inputs that cancel", []Term{{ID: 3}}, []Term{{ID: 3}}, 5},
		{"a short output", []Term{{ID: 3}}, nil, 6},
	} {
		if n, err := tab.MostSimilar(dst, c.pos, c.neg, c.topn, nil); err == nil {
			t.Errorf("%s: no error (%d results)", c.what, n)
		}
	}
	// A vector input is a query, not a row: nothing is left out for it.
	row := make([]float32, 4)
	if err := tab.Lookup(row, []int64{3}); err != nil {
		t.Fatal(err)
	}
	n, err := tab.MostSimilar(dst, []Term{{Vector: row}}, nil, 5, nil)
	if err != nil || n != 5 {
		t.Fatalf("a vector input: %d, %v", n, err)
	}
	n2, err := tab.MostSimilar(dst[:], []Term{{ID: 3}}, nil, 5, nil)
	if err != nil || n2 != 5 {
		t.Fatalf("an id input: %d, %v", n2, err)
	}
	for _, g := range dst[:n2] {
		if g.ID == 3 {
			t.Errorf("the input row 3 is among its own most similar rows")
		}
	}
	if raceEnabled {
		return // sync.Pool drops what is put back under the race detector
	}
	if a := testing.AllocsPerRun(20, func() {
		tab.MostSimilar(dst, []Term{{ID: 1}, {ID: 2}}, []Term{{ID: 7}}, 5, nil)
	}); a != 0 {
		t.Errorf("MostSimilar allocates %v times per call", a)
	}
}
