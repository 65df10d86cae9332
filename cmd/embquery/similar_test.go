package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/cli"
	"github.com/embstore/embstore/internal/wordvec"
	"github.com/embstore/embstore/pack"
	"github.com/embstore/embstore/store"
)

// wordTable writes the word vectors of a fixture of testdata/wordvec (read
// with internal/wordvec) to a table with a vocabulary, and a norms section
// when norms is set, and returns its path and words.
func wordTable(t *testing.T, name string, norms bool) (string, []string) {
	t.Helper()
	r, err := wordvec.Open(filepath.Join("..", "..", "testdata", "wordvec", name), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var vecs []float32
	var words []string
	for {
		b, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		vecs = append(vecs, b.Vectors...)
		for i := range b.Len() {
			words = append(words, string(b.Word(i)))
		}
	}
	dim := r.Header().Dim
	path := filepath.Join(t.TempDir(), "w.emb")
	fw, err := format.Create(path, format.Layout{Rows: int64(len(words)), Dim: dim, Vocabulary: true, Norms: norms})
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Abort()
	if err := fw.WriteTokens(vecs); err != nil {
		t.Fatal(err)
	}
	for _, w := range words {
		if err := fw.WriteStrings([]byte(w)); err != nil {
			t.Fatal(err)
		}
	}
	if err := fw.Commit(); err != nil {
		t.Fatal(err)
	}
	return path, words
}

type similarResult struct {
	ID    int64   `json:"id"`
	Word  *string `json:"word"`
	Score float64 `json:"score"`
}

// parseSimilarJSON parses similar's json output: one array per line.
func parseSimilarJSON(t *testing.T, out string) [][]similarResult {
	t.Helper()
	var all [][]similarResult
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var res []similarResult
		if err := json.Unmarshal([]byte(line), &res); err != nil {
			t.Fatalf("json output %q: %v", line, err)
		}
		all = append(all, res)
	}
	return all
}

// importWordVectors imports a fixture of testdata/wordvec (gzip-compressed
// when it exists so) as embpack import does: a table with a vocabulary, a
// norms section and, from a fastText .bin, subwords.
func importWordVectors(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join("..", "..", "testdata", "wordvec", name)
	if _, err := os.Stat(src + ".gz"); err == nil {
		src += ".gz"
	}
	path := filepath.Join(t.TempDir(), "i.emb")
	if _, err := pack.ImportWordVectors(context.Background(), path, pack.WordVectorSpec{Src: src}, nil); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSimilarMatchesGensim runs gensim 4.2's most_similar cases
// (testdata/wordvec/expected.json) through the command: single words with
// --exclude-query, analogies, restrict_vocab; the words must be gensim's, in
// its order, with scores within 1e-5 (ties to that precision aside): on
// tables written here without norms (computed in the pass) and with a norms
// section, and on the tables pack.ImportWordVectors makes of the .gz
// sources (embpack import's path from a .vec.gz to similar).
func TestSimilarMatchesGensim(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "wordvec", "expected.json"))
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
	cases := 0
	for _, how := range []string{"pass", "section", "import"} {
		paths := map[string]string{}
		for _, c := range e.Similar {
			path, ok := paths[c.File]
			if !ok {
				if how == "import" {
					path = importWordVectors(t, c.File)
				} else {
					path, _ = wordTable(t, c.File, how == "section")
				}
				paths[c.File] = path
			}
			args := []string{"similar", path, "-k", strconv.Itoa(c.TopN), "--format", "json"}
			if len(c.Positive) == 1 && len(c.Negative) == 0 {
				args = append(args, "--word", c.Positive[0], "--exclude-query")
			} else {
				args = append(args, "--positive", strings.Join(c.Positive, ","))
				if len(c.Negative) > 0 {
					args = append(args, "--negative", strings.Join(c.Negative, ","))
				}
			}
			if c.Restrict > 0 {
				args = append(args, "--restrict", strconv.FormatInt(c.Restrict, 10))
			}
			code, out, stderr := runCmd(t, "", args...)
			if code != 0 {
				t.Fatalf("%v: exit %d: %s", args, code, stderr)
			}
			got := parseSimilarJSON(t, out)
			if len(got) != 1 || len(got[0]) != len(c.Result) {
				t.Fatalf("%v: %s; gensim has %d results", args, out, len(c.Result))
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
			for r, g := range got[0] {
				if d := math.Abs(g.Score - scores[r]); d > 1e-5 {
					t.Errorf("%v: rank %d scores %.7f, gensim %.7f", args, r, g.Score, scores[r])
				}
				if g.Word == nil {
					t.Fatalf("%v: no word in %s", args, out)
				}
				if *g.Word != words[r] {
					tie := r+1 < len(scores) && math.Abs(scores[r+1]-scores[r]) < 1e-5 || r > 0 && math.Abs(scores[r-1]-scores[r]) < 1e-5
					if !tie {
						t.Errorf("%v: rank %d is %q, gensim %q", args, r, *g.Word, words[r])
					}
				}
			}
			cases++
		}
	}
	if cases < 30 {
		t.Fatalf("only %d cases", cases)
	}
}

// TestSimilarQueries checks the query kinds against the library: --id,
// --vector, ids, words and vectors from standard input (answered in passes
// of --batch), the metrics, --restrict, --exclude-query, and the text
// format.
func TestSimilarQueries(t *testing.T) {
	path, words := wordTable(t, "w2v.txt", false)
	tab, err := store.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	dim := tab.Header().Dim
	row := func(id int64) []float32 {
		v := make([]float32, dim)
		if err := tab.Lookup(v, []int64{id}); err != nil {
			t.Fatal(err)
		}
		return v
	}
	nearest := func(q []float32, k int, o *store.NearestOptions, own int64) []store.Neighbour {
		dst := make([]store.Neighbour, k+1)
		n, err := tab.Nearest(dst, q, k+1, o)
		if err != nil {
			t.Fatal(err)
		}
		var res []store.Neighbour
		for _, nb := range dst[:n] {
			if nb.ID != own {
				res = append(res, nb)
			}
		}
		return res[:min(k, len(res))]
	}
	same := func(what string, got []similarResult, want []store.Neighbour) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d results, want %d", what, len(got), len(want))
		}
		for i := range got {
			if got[i].ID != want[i].ID || float32(got[i].Score) != want[i].Score || got[i].Word == nil || *got[i].Word != words[want[i].ID] {
				t.Fatalf("%s: rank %d is %+v, want %+v (%q)", what, i, got[i], want[i], words[want[i].ID])
			}
		}
	}
	vecLine := func(v []float32) string {
		s := make([]string, len(v))
		for i, x := range v {
			s[i] = strconv.FormatFloat(float64(x), 'g', -1, 32)
		}
		return strings.Join(s, " ")
	}
	for _, m := range []store.Metric{store.Cosine, store.Dot, store.L2} {
		o := &store.NearestOptions{Metric: m, Restrict: 150}
		ids := []int64{3, 17, 0, 99, 140}
		var idLines, wordLines, vecLines []string
		for _, id := range ids {
			idLines = append(idLines, strconv.FormatInt(id, 10))
			wordLines = append(wordLines, words[id])
			vecLines = append(vecLines, vecLine(row(id)))
		}
		for _, c := range []struct {
			what    string
			args    []string
			stdin   string
			exclude bool
		}{
			{"ids", []string{"--id", "-", "--exclude-query"}, strings.Join(idLines, "\n") + "\n", true},
			{"words", []string{"--word", "-", "--exclude-query", "--batch", "2"}, "\n" + strings.Join(wordLines, "\r\n"), true},
			{"vectors", []string{"--vector", "-", "--batch", "3"}, strings.Join(vecLines, "\n"), false},
		} {
			args := append([]string{"similar", path, "-k", "7", "--metric", m.String(), "--restrict", "150", "--format", "json"}, c.args...)
			code, out, stderr := runCmd(t, c.stdin, args...)
			if code != 0 {
				t.Fatalf("%v: exit %d: %s", args, code, stderr)
			}
			got := parseSimilarJSON(t, out)
			if len(got) != len(ids) {
				t.Fatalf("%v: %d answers for %d queries", args, len(got), len(ids))
			}
			for q, id := range ids {
				own := int64(-1)
				if c.exclude {
					own = id
				}
				same(fmt.Sprintf("%s %s query %d", m, c.what, q), got[q], nearest(row(id), 7, o, own))
			}
		}
	}
	// One id, text output: rank, word, score.
	code, out, stderr := runCmd(t, "", "similar", path, "--id", "5", "-k", "3")
	if code != 0 {
		t.Fatalf("--id 5: %s", stderr)
	}
	want := nearest(row(5), 3, nil, -1)
	var lines []string
	for i, nb := range want {
		lines = append(lines, fmt.Sprintf("%d\t%s\t%s", i+1, words[nb.ID], strconv.FormatFloat(float64(nb.Score), 'g', -1, 32)))
	}
	if out != strings.Join(lines, "\n")+"\n" || want[0].ID != 5 {
		t.Fatalf("--id 5 text:\n%s\nwant\n%s", out, strings.Join(lines, "\n"))
	}
	// Two queries in text: a blank line between them; a vector in [ ] with commas.
	v := row(8)
	vs := strings.ReplaceAll(vecLine(v), " ", ", ")
	code, out, stderr = runCmd(t, "["+vs+"]\n"+vecLine(v)+"\n", "similar", path, "--vector", "-", "-k", "2")
	if code != 0 || strings.Count(out, "\n") != 5 || !strings.Contains(out, "\n\n1\t") {
		t.Fatalf("two vector queries: exit %d %q %s", code, out, stderr)
	}
}

func TestSimilarWithoutVocabulary(t *testing.T) {
	path, tok, _ := seedTable(t, 50, 8, 0)
	code, out, stderr := runCmd(t, "", "similar", path, "--id", "4", "-k", "3", "--format", "json", "--metric", "dot")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got := parseSimilarJSON(t, out)
	if len(got) != 1 || len(got[0]) != 3 || got[0][0].Word != nil {
		t.Fatalf("%s", out)
	}
	// The best dot product, by brute force in float64.
	best, bestScore := int64(-1), math.Inf(-1)
	for r := range int64(50) {
		var d float64
		for j := range 8 {
			d += float64(tok[r*8+int64(j)]) * float64(tok[4*8+int64(j)])
		}
		if d > bestScore {
			best, bestScore = r, d
		}
	}
	if got[0][0].ID != best {
		t.Errorf("best row %d, brute force %d", got[0][0].ID, best)
	}
	code, out, _ = runCmd(t, "", "similar", path, "--id", "4", "-k", "2")
	if code != 0 || !strings.HasPrefix(out, "1\t") {
		t.Fatalf("text with ids: %q", out)
	}
	// k past the rows: every row.
	code, out, _ = runCmd(t, "", "similar", path, "--id", "4", "-k", "1000000000000", "--format", "json")
	if code != 0 || len(parseSimilarJSON(t, out)[0]) != 50 {
		t.Fatalf("k past the rows: exit %d", code)
	}
}

func TestSimilarErrors(t *testing.T) {
	path, _ := wordTable(t, "w2v.txt", false)
	plain, _, _ := seedTable(t, 20, 4, 0)
	for _, c := range []struct {
		args  []string
		stdin string
		code  int
		msg   string
	}{
		{[]string{path}, "", cli.ExitUsage, "give one query"},
		{[]string{path, "--id", "1", "--word", "king"}, "", cli.ExitUsage, "give one query"},
		{[]string{path, "--vector", "1,2"}, "", cli.ExitUsage, "give --vector -"},
		{[]string{path, "--id", "1", "--metric", "manhattan"}, "", cli.ExitUsage, "unknown metric"},
		{[]string{path, "--positive", "king", "--metric", "dot"}, "", cli.ExitUsage, "analogies are scored by cosine"},
		{[]string{path, "--id", "1", "-k", "0"}, "", cli.ExitUsage, "-k 0"},
		{[]string{path, "--id", "1", "--restrict", "0"}, "", cli.ExitUsage, "--restrict 0"},
		{[]string{path, "--id", "1", "--format", "npy"}, "", cli.ExitUsage, "--format"},
		{[]string{path, "--id", "x"}, "", cli.ExitUsage, "--id"},
		{[]string{path, "--id", "100000"}, "", cli.ExitFail, "id 100000 is out of range"},
		{[]string{path, "--word", "notaword"}, "", cli.ExitFail, `word "notaword" (a query) is not in the vocabulary of `},
		{[]string{path, "--positive", "king", "--negative", "notaword"}, "", cli.ExitFail, `word "notaword" (--negative) is not in the vocabulary`},
		{[]string{path, "--positive", "king", "--negative", "king"}, "", cli.ExitFail, "mean of the inputs is zero"},
		{[]string{plain, "--word", "king"}, "", cli.ExitFail, "has no vocabulary"},
		{[]string{path, "--id", "-"}, "1\n2\nx\n", cli.ExitFail, "line 3 of standard input"},
		{[]string{path, "--vector", "-"}, "1 2 3\n", cli.ExitFail, "line 1 of standard input: 3 values"},
		{[]string{path, "--vector", "-"}, strings.Repeat("0 ", 12) + "\n", cli.ExitFail, "query 0 is zero"},
		{[]string{path, "--vector", "-"}, strings.Repeat("nan ", 12) + "\n", cli.ExitFail, "is NaN"},
		{[]string{path, "--vector", "-"}, "[1 2\n", cli.ExitFail, "must close with ]"},
		{[]string{path, "--vector", "-"}, strings.Repeat("1 ", 13) + "\n", cli.ExitFail, "more than 12 values"},
		{[]string{path, "--vector", "-"}, "1 zz\n", cli.ExitFail, `"zz" is not a number`},
	} {
		args := append([]string{"similar"}, c.args...)
		code, _, stderr := runCmd(t, c.stdin, args...)
		if code != c.code || !strings.Contains(stderr, c.msg) || strings.Count(stderr, "\n") > 2 {
			t.Errorf("%v: exit %d %q; want %d %q", c.args, code, stderr, c.code, c.msg)
		}
	}
}

// TestSimilarSubwordWord: a word the vocabulary of a fastText table lacks is
// searched with its subword vector (Vocabulary.WordVector), as a vector
// query, and in an analogy.
func TestSimilarSubwordWord(t *testing.T) {
	path := importWordVectors(t, "ft.bin")
	tab, err := store.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	v, err := tab.Vocabulary()
	if err != nil {
		t.Fatal(err)
	}
	const word = "queenly" // not in the vocabulary (expected.json's oov)
	if _, err := v.ID(word); err == nil {
		t.Fatalf("%q is in the vocabulary", word)
	}
	vec := make([]float32, tab.Header().Dim)
	if err := v.WordVector(vec, word); err != nil {
		t.Fatal(err)
	}
	dst := make([]store.Neighbour, 5)
	n, err := tab.Nearest(dst, vec, 5, nil)
	if err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runCmd(t, "", "similar", path, "--word", word, "-k", "5", "--format", "json", "--exclude-query")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got := parseSimilarJSON(t, out)[0]
	if len(got) != n {
		t.Fatalf("%d results, want %d", len(got), n)
	}
	for i := range got {
		if got[i].ID != dst[i].ID || float32(got[i].Score) != dst[i].Score {
			t.Fatalf("rank %d: %+v, want %+v", i, got[i], dst[i])
		}
	}
	want := make([]store.Neighbour, 5)
	m, err := tab.MostSimilar(want, []store.Term{{Vector: vec}, {ID: 3}}, nil, 5, nil)
	if err != nil {
		t.Fatal(err)
	}
	w3, _ := v.AppendString(nil, 3)
	code, out, stderr = runCmd(t, "", "similar", path, "--positive", word+","+string(w3), "-k", "5", "--format", "json")
	if code != 0 {
		t.Fatalf("analogy: exit %d: %s", code, stderr)
	}
	got = parseSimilarJSON(t, out)[0]
	if len(got) != m {
		t.Fatalf("analogy: %d results, want %d", len(got), m)
	}
	for i := range got {
		if got[i].ID != want[i].ID || float32(got[i].Score) != want[i].Score {
			t.Fatalf("analogy rank %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}
