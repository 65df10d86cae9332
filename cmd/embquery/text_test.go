package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/pooling"
	"github.com/embstore/embstore/internal/wordvec"
	"github.com/embstore/embstore/pack"
	"github.com/embstore/embstore/store"
	"github.com/embstore/embstore/tokenizer"
	"github.com/klauspost/compress/zstd"
)

// The reference tokenizers and their ids (testdata/tokenizers/README.md).
const tokDir = "../../testdata/tokenizers"

func readZst(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(path, ".zst") {
		return b
	}
	d, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if b, err = d.DecodeAll(b, nil); err != nil {
		t.Fatal(err)
	}
	return b
}

// refTable describes a table written by tokTable.
type refTable struct {
	path   string
	dim    int
	tokens []float32 // token rows
	pos    []float32 // positional rows
	tk     *tokenizer.Tokenizer
}

var (
	tokDocsMu sync.Mutex
	tokDocs   = map[string][]byte{}
	tokLoaded = map[string]*tokenizer.Tokenizer{}

	// Tables written by tokTable, shared by the tests (they only read
	// them), in a directory TestMain removes.
	tablesMu  sync.Mutex
	tables    = map[string]refTable{}
	tablesDir string
)

// removeSharedTables removes the tables tokTable wrote; TestMain calls it.
func removeSharedTables() {
	if tablesDir != "" {
		os.RemoveAll(tablesDir)
	}
}

// canonicalDoc is NAME's canonical tokenizer.json (its tokenizer.json with
// its tokenizer_config.json), what an import stores in the table.
func canonicalDoc(t testing.TB, name string) []byte {
	tokDocsMu.Lock()
	defer tokDocsMu.Unlock()
	if d, ok := tokDocs[name]; ok {
		return d
	}
	doc, _, err := tokenizer.Canonical(tokenizer.Files{
		TokenizerJSON:   readZst(t, filepath.Join(tokDir, name, "tokenizer.json.zst")),
		TokenizerConfig: readZst(t, filepath.Join(tokDir, name, "tokenizer_config.json")),
	})
	if err != nil {
		t.Fatal(err)
	}
	tokDocs[name] = doc
	return doc
}

// tokTable writes a table of the tokenizer NAME's vocabulary size with its
// vocabulary and tokenizer sections, a positional table, deterministic
// pseudo-random rows (negative zeros and values of every sign included),
// and metadata md (nil: none).
func tokTable(t testing.TB, name string, dim int, md []byte) refTable {
	t.Helper()
	key := fmt.Sprintf("%s-%d-%s", name, dim, md)
	tablesMu.Lock()
	defer tablesMu.Unlock()
	if r, ok := tables[key]; ok {
		return r
	}
	if tablesDir == "" {
		d, err := os.MkdirTemp("", "embquery-text-test")
		if err != nil {
			t.Fatal(err)
		}
		tablesDir = d
	}
	doc := canonicalDoc(t, name)
	tokDocsMu.Lock()
	tk := tokLoaded[name]
	tokDocsMu.Unlock()
	if tk == nil {
		var err error
		if tk, err = tokenizer.Load(doc); err != nil {
			t.Fatal(err)
		}
		tokDocsMu.Lock()
		tokLoaded[name] = tk
		tokDocsMu.Unlock()
	}
	vocab, ok := tk.Vocabulary()
	rows := int64(len(vocab))
	const positions = 64
	r := refTable{path: filepath.Join(tablesDir, fmt.Sprintf("%s-%d.emb", name, len(tables))), dim: dim, tk: tk}
	fw, err := format.Create(r.path, format.Layout{Rows: rows, Dim: dim, Positions: positions, Vocabulary: true})
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Abort()
	x := uint32(12345)
	next := func() float32 {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		if x%97 == 0 {
			return float32(math.Copysign(0, -1))
		}
		return float32(int32(x))/float32(1<<31) + float32(x%7)
	}
	r.tokens = make([]float32, rows*int64(dim))
	for i := range r.tokens {
		r.tokens[i] = next()
	}
	r.pos = make([]float32, positions*dim)
	for i := range r.pos {
		r.pos[i] = next() / 8
	}
	strs := make([][]byte, rows)
	for id, s := range vocab {
		if ok[id] {
			strs[id] = []byte(s)
		}
	}
	if err := fw.WriteTokens(r.tokens); err != nil {
		t.Fatal(err)
	}
	if err := fw.WriteStrings(strs...); err != nil {
		t.Fatal(err)
	}
	if err := fw.WritePositions(r.pos); err != nil {
		t.Fatal(err)
	}
	if err := fw.SetTokenizer(doc); err != nil {
		t.Fatal(err)
	}
	if md != nil {
		if err := fw.SetMetadata(md); err != nil {
			t.Fatal(err)
		}
	}
	if err := fw.Commit(); err != nil {
		t.Fatal(err)
	}
	tables[key] = r
	return r
}

func (r refTable) rows(ids []int64) []float32 {
	var out []float32
	for _, id := range ids {
		out = append(out, r.tokens[id*int64(r.dim):(id+1)*int64(r.dim)]...)
	}
	return out
}

type refCase struct {
	TextIndex      int     `json:"text_index"`
	IDsSpecial     []int64 `json:"ids_special"`
	IDsPlain       []int64 `json:"ids_plain"`
	DecodedSpecial *string `json:"decoded_special"`
}

// refCases returns the corpus and the reference ids of tokenizer NAME for
// each text: transformers.js' (expected/NAME.json), except where
// rust_behaviour.json records that the Rust library, which the tokenizer
// package follows, differs.
func refCases(t testing.TB, name string) ([]string, []refCase) {
	t.Helper()
	var texts []string
	sc := bufio.NewScanner(strings.NewReader(string(readZst(t, filepath.Join(tokDir, "corpus.jsonl")))))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var s string
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatal(err)
		}
		texts = append(texts, s)
	}
	var e struct {
		Cases []refCase `json:"cases"`
	}
	if err := json.Unmarshal(readZst(t, filepath.Join(tokDir, "expected", name+".json")), &e); err != nil {
		t.Fatal(err)
	}
	var rust struct {
		Cases map[string][]refCase `json:"cases"`
	}
	if err := json.Unmarshal(readZst(t, filepath.Join(tokDir, "rust_behaviour.json")), &rust); err != nil {
		t.Fatal(err)
	}
	for _, rc := range rust.Cases[name] {
		for i := range e.Cases {
			if e.Cases[i].TextIndex == rc.TextIndex {
				e.Cases[i] = rc
			}
		}
	}
	if len(e.Cases) != len(texts) || len(texts) < 100 {
		t.Fatalf("%d cases for %d texts", len(e.Cases), len(texts))
	}
	return texts, e.Cases
}

func parseIDLines(t *testing.T, out string) [][]int64 {
	t.Helper()
	var got [][]int64
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var ids []int64
		if err := json.Unmarshal([]byte(line), &ids); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		got = append(got, ids)
	}
	return got
}

func jsonl(texts []string) string {
	var b strings.Builder
	for _, s := range texts {
		j, _ := json.Marshal(s)
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

// TestTokenizeCorpus: every corpus text, read as JSON lines, tokenizes to
// the reference ids with and without special tokens (GPT-2 and BERT, whose
// special tokens differ), and the reference ids decode to the reference
// text.
func TestTokenizeCorpus(t *testing.T) {
	for _, name := range []string{"gpt2", "bert"} {
		t.Run(name, func(t *testing.T) {
			texts, cases := refCases(t, name)
			r := tokTable(t, name, 2, nil)
			for _, special := range []bool{true, false} {
				code, out, errOut := runCmd(t, jsonl(texts), "tokenize", r.path, "--jsonl", "--format", "json", "--add-special-tokens="+strconv.FormatBool(special))
				if code != 0 {
					t.Fatalf("exit %d: %s", code, errOut)
				}
				got := parseIDLines(t, out)
				if len(got) != len(texts) {
					t.Fatalf("%d lines for %d texts", len(got), len(texts))
				}
				for _, c := range cases {
					want := c.IDsPlain
					if special {
						want = c.IDsSpecial
					}
					if !slices.Equal(got[c.TextIndex], want) && !(len(want) == 0 && len(got[c.TextIndex]) == 0) {
						t.Errorf("text %d %q (special %v): %v, want %v", c.TextIndex, texts[c.TextIndex], special, got[c.TextIndex], want)
					}
				}
			}
			// decode, one sequence per line, as JSON strings.
			var in strings.Builder
			for _, c := range cases {
				for i, id := range c.IDsSpecial {
					if i > 0 {
						in.WriteByte(' ')
					}
					in.WriteString(strconv.FormatInt(id, 10))
				}
				in.WriteByte('\n')
			}
			code, out, errOut := runCmd(t, in.String(), "decode", r.path, "--format", "json")
			if code != 0 {
				t.Fatalf("decode: exit %d: %s", code, errOut)
			}
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if len(lines) != len(cases) {
				t.Fatalf("decode: %d lines for %d sequences", len(lines), len(cases))
			}
			for i, c := range cases {
				var got string
				if err := json.Unmarshal([]byte(lines[i]), &got); err != nil {
					t.Fatal(err)
				}
				want := ""
				if c.DecodedSpecial != nil {
					want = *c.DecodedSpecial
				}
				if got != want {
					t.Errorf("decode of text %d's ids: %q, want %q", c.TextIndex, got, want)
				}
			}
		})
	}
}

func TestTokenizeFormats(t *testing.T) {
	r := tokTable(t, "bert", 2, nil)
	for _, c := range []struct {
		args []string
		in   string
		want string
	}{
		{[]string{"--text", "Hello world"}, "", "101 7592 2088 102\n"},
		{[]string{"--text", "Hello world", "--add-special-tokens=false", "--format", "json"}, "", "[7592,2088]\n"},
		{[]string{"--text", "Hello world", "--format", "tokens"}, "", `["[CLS]","hello","world","[SEP]"]` + "\n"},
		{[]string{"--text", "a", "--text", "b"}, "", "101 1037 102\n101 1038 102\n"},
		{nil, "Hello world\r\n\nb", "101 7592 2088 102\n101 102\n101 1038 102\n"},
		{[]string{"--jsonl", "--format", "tokens"}, `"<s> & x\ny"` + "\n", `["[CLS]","<","s",">","&","x","y","[SEP]"]` + "\n"},
	} {
		code, out, errOut := runCmd(t, c.in, append([]string{"tokenize", r.path}, c.args...)...)
		if code != 0 || out != c.want {
			t.Errorf("tokenize %v: exit %d, %q (%s); want %q", c.args, code, out, errOut, c.want)
		}
	}
	g := tokTable(t, "gpt2", 2, nil)
	if code, out, errOut := runCmd(t, "", "tokenize", g.path, "--text", "Hello world", "--format", "tokens"); code != 0 || out != `["Hello","Ġworld"]`+"\n" {
		t.Errorf("gpt2 tokens: %d %q %s", code, out, errOut)
	}
	if code, out, _ := runCmd(t, "", "decode", g.path, "--ids", "15496,995"); code != 0 || out != "Hello world\n" {
		t.Errorf("decode --ids: %d %q", code, out)
	}
	if code, out, _ := runCmd(t, "", "decode", r.path, "--ids", "101,7592,102", "--skip-special-tokens"); code != 0 || out != "hello\n" {
		t.Errorf("decode --skip-special-tokens: %d %q", code, out)
	}
}

// TestTextErrors: one line on stderr and a non-zero status for each mistake.
func TestTextErrors(t *testing.T) {
	r := tokTable(t, "bert", 2, nil)
	plain, _, _ := seedTable(t, 10, 2, 0)
	for _, c := range []struct {
		in   string
		args []string
		code int
		msg  string
	}{
		{"", []string{"tokenize", plain, "--text", "x"}, 1, "embquery tokenize: embstore: " + plain + ": table has no tokenizer"},
		{"", []string{"embed", plain, "--text", "x"}, 1, "table has no tokenizer"},
		{"", []string{"lookup", plain, "--text", "x"}, 1, "table has no tokenizer"},
		{"", []string{"decode", plain, "--ids", "1"}, 1, "table has no tokenizer"},
		{"", []string{"lookup", plain, "--word", "x"}, 1, "table has no vocabulary"},
		{"", []string{"lookup", plain, "--token", "x"}, 1, "needs a vocabulary or a tokenizer"},
		{"", []string{"tokenize", r.path, "--format", "csv"}, 2, `--format "csv": want ids, json or tokens`},
		{"", []string{"tokenize", r.path, "--text", "x", "--jsonl"}, 2, "--jsonl"},
		{"\"ok\"\nnot json\n", []string{"tokenize", r.path, "--jsonl"}, 1, `line 2 of standard input is not a JSON string (it starts "not json")`},
		{"", []string{"decode", r.path, "--ids", "30522"}, 1, "30522"},
		{"1 2\n3 x\n", []string{"decode", r.path}, 1, "line 2 of standard input"},
		{"", []string{"lookup", r.path, "--token", "hello", "--token", "zqxv"}, 1, `--token "zqxv" (token 2): not in the vocabulary of`},
		{"", []string{"lookup", r.path, "--text", "x", "--ids", "1"}, 2, "give one of --ids, --text, --token, --word and --words"},
		{"", []string{"lookup", r.path, "--word", "x", "--positions"}, 2, "words have none"},
		{"", []string{"lookup", r.path, "--ids", "1", "--add-special-tokens=false"}, 2, "--add-special-tokens goes with --text"},
		{"", []string{"lookup", r.path, "--word", "zqxv"}, 1, `word "zqxv" (--word 1) is not in the vocabulary of ` + r.path + ", which has no subword table"},
		{"hello\n\n", []string{"lookup", r.path, "--words"}, 1, "line 2 of standard input is empty; want one word per line"},
		{"", []string{"embed", r.path, "--text", "x", "--pooling", "sum"}, 2, `--pooling "sum": want mean, max, cls or last`},
		{"", []string{"embed", r.path, "--text", "", "--add-special-tokens=false"}, 1, "text 1: the text makes no tokens"},
		{"a\n\n", []string{"embed", r.path, "--add-special-tokens=false"}, 1, "line 2 of standard input: the text makes no tokens"},
		{"", []string{"bag", r.path, "--text", "x", "--bag-size", "1"}, 2, "each text is one bag"},
		{"", []string{"bag", r.path, "--word", "x", "--padding-idx", "1"}, 2, "--padding-idx applies to ids and texts"},
		{"", []string{"bag", r.path, "--word", "hello", "--word", "zqxv"}, 1, `word "zqxv" (word 2) is not in the vocabulary`},
	} {
		code, out, errOut := runCmd(t, c.in, c.args...)
		if code != c.code || !strings.Contains(errOut, c.msg) || strings.Count(errOut, "\n") != 1+boolInt(c.code == 2) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, errOut, c.code, c.msg)
		}
		_ = out
	}
	// Bad metadata pooling: an error naming the file, unless the flags say
	// both.
	bad := tokTable(t, "bert", 2, []byte(`{"pooling": {"mode": "weighted"}}`))
	if code, _, errOut := runCmd(t, "", "embed", bad.path, "--text", "x"); code != 1 || !strings.Contains(errOut, bad.path+`: metadata "pooling": pooling mode "weighted"`) {
		t.Errorf("embed with bad metadata pooling: %d %q", code, errOut)
	}
	if code, _, errOut := runCmd(t, "", "embed", bad.path, "--text", "x", "--pooling", "mean", "--normalize=false"); code != 0 {
		t.Errorf("embed with bad metadata pooling and both flags: %d %q", code, errOut)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func runRaw(t *testing.T, stdin string, args ...string) []float32 {
	t.Helper()
	code, out, errOut := runCmd(t, stdin, append(args, "--format", "raw")...)
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, errOut)
	}
	return parseRaw(t, []byte(out))
}

// TestTextLookups: texts, exact tokens and the GPT-2 corpus through lookup,
// bag and embed give the rows of the reference ids, bit for bit.
func TestTextLookups(t *testing.T) {
	r := tokTable(t, "gpt2", 8, nil)
	texts, cases := refCases(t, "gpt2")
	// lookup --text equals the rows of the reference ids, and lookup
	// --ids of them; with --positions, the positional rows are added.
	for k, c := range cases[:3] {
		text := texts[c.TextIndex]
		if len(c.IDsSpecial) == 0 {
			continue
		}
		got := runRaw(t, "", "lookup", r.path, "--text", text)
		sameBits(t, fmt.Sprintf("lookup --text %q", text), got, r.rows(c.IDsSpecial))
		if k == 0 {
			got = runRaw(t, "", "lookup", r.path, "--text", text, "--positions")
			want := runRaw(t, "", "lookup", r.path, "--ids", idList(c.IDsSpecial), "--positions")
			sameBits(t, fmt.Sprintf("lookup --text %q --positions", text), got, want)
			for j, v := range want {
				p := j / r.dim
				if w := r.tokens[c.IDsSpecial[p]*int64(r.dim)+int64(j%r.dim)] + r.pos[p*r.dim+j%r.dim]; v != w && !(v == 0 && w == 0) {
					t.Fatalf("positions: value %d = %v, want %v", j, v, w)
				}
			}
		}
	}
	got := runRaw(t, "", "lookup", r.path, "--token", "Hello", "--token", "Ġworld", "--token", "<|endoftext|>")
	sameBits(t, "lookup --token", got, r.rows([]int64{15496, 995, 50256}))

	// embed: one vector per text, read as JSON lines; mean is bag --mode
	// mean over the same ids, bit for bit, and bag --text; the other
	// poolings are what they say.
	var some []string
	var ids [][]int64
	for _, c := range cases {
		if len(c.IDsSpecial) > 0 && len(some) < 50 {
			some = append(some, texts[c.TextIndex])
			ids = append(ids, c.IDsSpecial)
		}
	}
	dim := r.dim
	embedded := map[string][]float32{}
	for _, p := range pooling.Names {
		args := []string{"embed", r.path, "--jsonl", "--pooling", p}
		if p == "mean" {
			args = args[:3] // the default
		}
		embedded[p] = runRaw(t, jsonl(some), args...)
		if len(embedded[p]) != len(some)*dim {
			t.Fatalf("embed --pooling %s: %d values for %d texts", p, len(embedded[p]), len(some))
		}
	}
	var textArgs []string
	for _, s := range some {
		textArgs = append(textArgs, "--text", s)
	}
	bagText := runRaw(t, "", append([]string{"bag", r.path, "--mode", "mean"}, textArgs...)...)
	sameBits(t, "bag --text --mode mean vs embed", bagText, embedded["mean"])
	var flat, offsets []int64
	for _, want := range ids {
		offsets = append(offsets, int64(len(flat)))
		flat = append(flat, want...)
	}
	sameBits(t, "embed mean", embedded["mean"], runRaw(t, "", "bag", r.path, "--ids", idList(flat), "--offsets", idList(offsets), "--mode", "mean"))
	sameBits(t, "embed max", embedded["max"], runRaw(t, "", "bag", r.path, "--ids", idList(flat), "--offsets", idList(offsets), "--mode", "max"))
	for i, want := range ids {
		row := func(p string) []float32 { return embedded[p][i*dim : (i+1)*dim] }
		sameBits(t, "embed cls", row("cls"), r.rows(want[:1]))
		sameBits(t, "embed last", row("last"), r.rows(want[len(want)-1:]))
	}
	norm := runRaw(t, "", "embed", r.path, "--text", some[3], "--normalize")
	want := slices.Clone(embedded["mean"][3*dim : 4*dim])
	var ss float64
	for _, v := range want {
		ss += float64(v) * float64(v)
	}
	for j := range want {
		want[j] /= float32(math.Sqrt(ss))
	}
	sameBits(t, "embed --normalize", norm, want)

	// The table's metadata sets the default pooling; flags override it.
	m := tokTable(t, "gpt2", 8, []byte(`{"pooling": {"mode": "cls", "normalize": true}}`))
	got = runRaw(t, "", "embed", m.path, "--text", some[3])
	want = slices.Clone(m.rows(ids[3][:1]))
	pooling.Normalize(want, dim)
	sameBits(t, "embed with metadata pooling cls+normalize", got, want)
	got = runRaw(t, "", "embed", m.path, "--text", some[3], "--pooling", "last", "--normalize=false")
	sameBits(t, "embed --pooling last over metadata", got, m.rows(ids[3][len(ids[3])-1:]))
}

func idList(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(s, ",")
}

// TestEmbedStreams: each line of standard input is answered before the
// next is read.
func TestEmbedStreams(t *testing.T) {
	r := tokTable(t, "gpt2", 4, nil)
	for _, args := range [][]string{
		{"embed", r.path},
		{"tokenize", r.path},
		{"lookup", r.path, "--words"},
	} {
		inR, inW := io.Pipe()
		outR, outW := io.Pipe()
		done := make(chan int)
		go func() {
			var errOut strings.Builder
			done <- run(args, env{Stdin: inR, Stdout: outW, Stderr: &errOut})
			outW.Close()
		}()
		br := bufio.NewReader(outR)
		for _, line := range []string{"Hello\n", "world\n"} {
			if _, err := io.WriteString(inW, line); err != nil {
				t.Fatal(err)
			}
			got, err := br.ReadString('\n')
			if err != nil || got == "" {
				t.Fatalf("%v: no answer to %q before more input: %q, %v", args, line, got, err)
			}
		}
		inW.Close()
		if code := <-done; code != 0 {
			t.Fatalf("%v: exit %d", args, code)
		}
	}
}

// fastTextTable imports testdata/wordvec's gensim-trained fastText model
// into a table (word rows, vocabulary, subword buckets), as the store's
// tests do, and returns it with gensim's vectors of words outside the
// vocabulary.
func fastTextTable(t *testing.T) (path string, words []string, vecs []float32, dim int, oov map[string][]float32) {
	t.Helper()
	dir := "../../testdata/wordvec"
	b, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want struct {
		FastText struct {
			File string              `json:"file"`
			OOV  map[string][]uint32 `json:"oov"`
		} `json:"fasttext"`
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	rd, err := wordvec.Open(filepath.Join(dir, want.FastText.File), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	for {
		blk, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		vecs = append(vecs, blk.Vectors...)
		for i := range blk.Len() {
			words = append(words, string(blk.Word(i)))
		}
	}
	m := rd.FastText()
	var buckets []float32
	if err := m.BucketRows(func(_ int64, rows []float32) error { buckets = append(buckets, rows...); return nil }); err != nil {
		t.Fatal(err)
	}
	dim = m.Dim()
	path = filepath.Join(t.TempDir(), "ft.emb")
	fw, err := format.Create(path, format.Layout{Rows: int64(len(words)), Dim: dim, Vocabulary: true,
		Subwords: m.Subwords.Bucket, SubwordMinN: m.Subwords.MinN, SubwordMaxN: m.Subwords.MaxN})
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Abort()
	strs := make([][]byte, len(words))
	for i, w := range words {
		strs[i] = []byte(w)
	}
	if err := fw.WriteTokens(vecs); err != nil {
		t.Fatal(err)
	}
	if err := fw.WriteStrings(strs...); err != nil {
		t.Fatal(err)
	}
	if err := fw.WriteSubwords(buckets); err != nil {
		t.Fatal(err)
	}
	if err := fw.Commit(); err != nil {
		t.Fatal(err)
	}
	oov = map[string][]float32{}
	for w, bits := range want.FastText.OOV {
		v := make([]float32, len(bits))
		for i, b := range bits {
			v[i] = math.Float32frombits(b)
		}
		oov[w] = v
	}
	if len(oov) < 3 {
		t.Fatalf("expected.json has %d out-of-vocabulary vectors", len(oov))
	}
	return path, words, vecs, dim, oov
}

// TestWordLookups: lookup and bag by word on a fastText table: the words'
// rows, and for words outside the vocabulary gensim's vectors within 1e-6.
func TestWordLookups(t *testing.T) {
	path, words, vecs, dim, oov := fastTextTable(t)
	row := func(i int) []float32 { return vecs[i*dim : (i+1)*dim] }
	got := runRaw(t, "", "lookup", path, "--word", words[3], "--word", words[10])
	sameBits(t, "lookup --word", got, append(slices.Clone(row(3)), row(10)...))
	got = runRaw(t, strings.Join(words[:20], "\n")+"\n", "lookup", path, "--words")
	sameBits(t, "lookup --words", got, vecs[:20*dim])
	var oovWords []string
	for w := range oov {
		if w != "" { // an empty line is refused by --words; --word "" below
			oovWords = append(oovWords, w)
		}
	}
	slices.Sort(oovWords)
	got = runRaw(t, "", "lookup", path, "--word", "")
	for j, g := range oov[""] {
		if d := math.Abs(float64(got[j] - g)); d > 1e-6 {
			t.Fatalf("vector of \"\" [%d] = %v, gensim %v", j, got[j], g)
		}
	}
	for _, format := range []string{"raw", "npy"} {
		code, out, errOut := runCmd(t, strings.Join(oovWords, "\n"), "lookup", path, "--words", "--format", format)
		if code != 0 {
			t.Fatalf("lookup --words of out-of-vocabulary words: %d %s", code, errOut)
		}
		b := []byte(out)
		if format == "npy" {
			hl := int(b[8]) | int(b[9])<<8
			if !strings.Contains(string(b[10:10+hl]), fmt.Sprintf("'shape': (%d, %d)", len(oovWords), dim)) {
				t.Fatalf("npy header %q", b[10:10+hl])
			}
			b = b[10+hl:]
		}
		got := parseRaw(t, b)
		for i, w := range oovWords {
			for j, g := range oov[w] {
				if d := math.Abs(float64(got[i*dim+j] - g)); d > 1e-6 {
					t.Fatalf("%s: vector of %q [%d] = %v, gensim %v", format, w, j, got[i*dim+j], g)
				}
			}
		}
	}
	// bag over words in the vocabulary is bag over their ids.
	for _, mode := range []string{"sum", "mean", "max"} {
		got := runRaw(t, "", "bag", path, "--word", words[1], "--word", words[2], "--word", words[5], "--word", words[7], "--bag-size", "2", "--mode", mode)
		sameBits(t, "bag --word --mode "+mode, got, runRaw(t, "", "bag", path, "--ids", "1,2,5,7", "--bag-size", "2", "--mode", mode))
	}
	// ... and with words outside it, the same arithmetic over their vectors.
	got = runRaw(t, oovWords[0]+"\n"+words[4]+"\n"+oovWords[1]+"\n", "bag", path, "--words", "--mode", "mean")
	want := make([]float32, dim)
	for j := range want {
		want[j] = (oov[oovWords[0]][j] + row(4)[j] + oov[oovWords[1]][j]) / 3
		if d := math.Abs(float64(got[j] - want[j])); d > 2e-6 {
			t.Fatalf("bag --words mean with out-of-vocabulary words [%d] = %v, want %v", j, got[j], want[j])
		}
	}
}

// TestBagWordsArithmetic: the pooling of bagWords (used when some words
// are outside the vocabulary) is Table.Bag's, bit for bit, for every mode,
// weights, include-last-offset and empty bags.
func TestBagWordsArithmetic(t *testing.T) {
	path, words, _, dim, _ := fastTextTable(t)
	tab, err := store.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	ids := []int64{0, 5, 9, 9, 3, 17, 2, 8}
	ws := make([]string, len(ids))
	for i, id := range ids {
		ws[i] = words[id]
	}
	weights := []float32{0.5, -1.25, 3, 0.1, 7, -0.3, 1, 2}
	for _, opts := range []store.BagOptions{
		{Mode: store.BagSum}, {Mode: store.BagMean}, {Mode: store.BagMax},
		{Mode: store.BagSum, PerSampleWeights: weights},
	} {
		for _, offsets := range [][]int64{{0}, {0, 3, 3, 5}, {0, 2, 8}} {
			o := opts
			bags := len(offsets)
			if len(offsets) == 3 {
				o.IncludeLastOffset = true
				bags--
			}
			want := make([]float32, bags*dim)
			if err := tab.Bag(want, ids, offsets, &o); err != nil {
				t.Fatal(err)
			}
			got := make([]float32, bags*dim)
			if err := bagWords(tab, path, got, ids, ws, offsets, &o); err != nil {
				t.Fatal(err)
			}
			sameBits(t, fmt.Sprintf("bagWords %v %+v", offsets, o), got, want)
		}
	}
}

// TestServeTextInputs: embquery serve tokenizes text inputs with each
// table's own tokenizer, and /v1/embeddings gives what embquery embed gives,
// bit for bit, with the table's default pooling.
func TestServeTextInputs(t *testing.T) {
	r := tokTable(t, "bert", 8, nil)
	m := tokTable(t, "gpt2", 8, []byte(`{"pooling": {"mode": "last", "normalize": true}}`))
	p := startServe(t, "--table", "bert="+r.path, "--table", "gpt2="+m.path)
	defer func() {
		p.signal(t, syscall.SIGTERM)
		p.wait(t, 20*time.Second)
	}()
	texts := []string{"Hello world", "The ferry left the harbor an hour late."}
	for _, c := range []struct{ model, path string }{{"bert", r.path}, {"gpt2", m.path}} {
		body, _ := json.Marshal(map[string]any{"model": c.model, "input": texts, "encoding_format": "float"})
		resp, err := http.Post("http://"+p.addr+"/v1/embeddings", "application/json", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			Data []struct {
				Embedding []float32 `json:"embedding"`
			} `json:"data"`
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || len(out.Data) != 2 {
			t.Fatalf("%s: %d %v", c.model, resp.StatusCode, err)
		}
		want := runRaw(t, "", "embed", c.path, "--text", texts[0], "--text", texts[1])
		got := append(out.Data[0].Embedding, out.Data[1].Embedding...)
		sameBits(t, "serve "+c.model+" vs embed", got, want)
	}
}

// TestTextOnShards: a shard holds the whole table's tokenizer but only a
// range of its rows, renumbered: tokenize and decode work, and texts are
// refused where they would become rows (they would be the wrong rows).
func TestTextOnShards(t *testing.T) {
	r := tokTable(t, "bert", 2, nil)
	dir := filepath.Join(t.TempDir(), "shards")
	m, err := pack.Shard(context.Background(), r.path, dir, pack.ShardSpec{Name: "bert", Shards: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	second := filepath.Join(dir, m.Shards[1].File)
	if code, out, errOut := runCmd(t, "", "tokenize", second, "--text", "Hello world"); code != 0 || out != "101 7592 2088 102\n" {
		t.Fatalf("tokenize a shard: %d %q %s", code, out, errOut)
	}
	for _, args := range [][]string{
		{"embed", second, "--text", "Hello world"},
		{"lookup", second, "--text", "Hello world"},
		{"bag", second, "--text", "Hello world"},
	} {
		code, _, errOut := runCmd(t, "", args...)
		if code != 1 || !strings.Contains(errOut, "is shard 1 of 2 of table bert (rows 15261 to 30522 of 30522): the ids its tokenizer gives are the whole table's") {
			t.Errorf("%v: exit %d, %q", args, code, errOut)
		}
	}
	// The first shard's rows are the table's first rows: texts whose ids
	// all fall in it would work, but one rule for every shard is simpler to
	// trust; it is refused too.
	first := filepath.Join(dir, m.Shards[0].File)
	if code, _, _ := runCmd(t, "", "embed", first, "--text", "Hello world"); code != 1 {
		t.Errorf("embed on the first shard: exit %d", code)
	}
}

// TestLookupTextTorchRows: README's seed-123 table with GPT-2's tokenizer
// attached (embpack init --tokenizer): embquery lookup --text "Hello world"
// prints the rows torch's wte(torch.tensor(ids)) gives
// (testdata/torch/torch-gpt2-text.json), and embed their mean.
func TestLookupTextTorchRows(t *testing.T) {
	var ref struct {
		Seed            uint64      `json:"seed"`
		Rows            int64       `json:"rows"`
		Dim             int         `json:"dim"`
		Text            string      `json:"text"`
		IDs             []int64     `json:"ids"`
		TokenEmbeddings [][]float64 `json:"token_embeddings"`
	}
	b, err := os.ReadFile("../../testdata/torch/torch-gpt2-text.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tok := filepath.Join(dir, "gpt2")
	if err := os.Mkdir(tok, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"vocab.json.zst", "merges.txt.zst", "tokenizer_config.json"} {
		if err := os.WriteFile(filepath.Join(tok, strings.TrimSuffix(f, ".zst")), readZst(t, filepath.Join(tokDir, "gpt2", f)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "gpt2-seed123.emb")
	if err := pack.Seed(context.Background(), path, pack.SeedSpec{Rows: ref.Rows, Dim: ref.Dim, Seed: ref.Seed, Tokenizer: tok}, nil); err != nil {
		t.Fatal(err)
	}
	var want []float32
	for _, row := range ref.TokenEmbeddings {
		for _, v := range row {
			want = append(want, float32(v))
		}
	}
	sameBits(t, "lookup --text vs torch", runRaw(t, "", "lookup", path, "--text", ref.Text), want)
	sameBits(t, "embed vs bag --ids --mode mean", runRaw(t, "", "embed", path, "--text", ref.Text),
		runRaw(t, "", "bag", path, "--ids", idList(ref.IDs), "--mode", "mean"))
}
