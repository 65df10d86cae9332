package wordvec

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestSimilarFixtures checks the most_similar expectations recorded for the
// neighbour search against a brute-force float64 ranking of the rows this
// package reads, with gensim's semantics (unit vectors, the mean of the
// positives minus the negatives, normalised; inputs excluded; restrict_vocab
// searching the first rows only). It keeps the fixtures honest for the
// search that will use them: same words in the same order, scores within
// 1e-5, where gensim's float32 ranking does not tie.
func TestSimilarFixtures(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(fixtureDir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		Similar []struct {
			File     string            `json:"file"`
			Positive []string          `json:"positive"`
			Negative []string          `json:"negative"`
			TopN     int               `json:"topn"`
			Restrict int               `json:"restrict_vocab"`
			Result   []json.RawMessage `json:"result"`
		} `json:"similar"`
	}
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	if len(e.Similar) < 10 {
		t.Fatalf("%d most_similar cases", len(e.Similar))
	}
	tables := map[string]*table{}
	for _, c := range e.Similar {
		tb := tables[c.File]
		if tb == nil {
			tb = openFixture(t, c.File, nil)
			tables[c.File] = tb
		}
		dim := tb.h.Dim
		unit := func(i int) []float64 {
			v := make([]float64, dim)
			var n float64
			for j, x := range tb.row(i) {
				v[j] = float64(x)
				n += v[j] * v[j]
			}
			for j := range v {
				v[j] /= math.Sqrt(n)
			}
			return v
		}
		mean := make([]float64, dim)
		inputs := map[int]bool{}
		for k, words := range [][]string{c.Positive, c.Negative} {
			for _, w := range words {
				i := tb.find(w)
				if i < 0 {
					t.Fatalf("%s: no word %q", c.File, w)
				}
				inputs[i] = true
				for j, x := range unit(i) {
					mean[j] += x * float64(1-2*k)
				}
			}
		}
		var n float64
		for _, x := range mean {
			n += x * x
		}
		type hit struct {
			i     int
			score float64
		}
		var hits []hit
		end := len(tb.words)
		if c.Restrict > 0 {
			end = c.Restrict
		}
		for i := range end {
			if inputs[i] {
				continue
			}
			var d float64
			for j, x := range unit(i) {
				d += x * mean[j]
			}
			hits = append(hits, hit{i, d / math.Sqrt(n)})
		}
		slices.SortStableFunc(hits, func(a, b hit) int {
			switch {
			case a.score > b.score:
				return -1
			case a.score < b.score:
				return 1
			}
			return 0
		})
		for r, raw := range c.Result {
			var pair [2]any
			if err := json.Unmarshal(raw, &pair); err != nil {
				t.Fatal(err)
			}
			word, score := pair[0].(string), pair[1].(float64)
			got := hits[r]
			if math.Abs(got.score-score) > 1e-5 {
				t.Errorf("%s %v-%v: rank %d score %.7f, gensim %.7f", c.File, c.Positive, c.Negative, r, got.score, score)
			}
			if string(tb.words[got.i]) != word {
				tie := r+1 < len(hits) && math.Abs(hits[r+1].score-got.score) < 1e-5 || r > 0 && math.Abs(hits[r-1].score-got.score) < 1e-5
				if !tie {
					t.Errorf("%s %v-%v: rank %d is %q, gensim %q", c.File, c.Positive, c.Negative, r, tb.words[got.i], word)
				}
			}
		}
	}
}
