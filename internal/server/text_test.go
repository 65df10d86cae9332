package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/pooling"
	"github.com/embstore/embstore/pack"
	"github.com/embstore/embstore/store"
	"github.com/embstore/embstore/tokenizer"
	"github.com/klauspost/compress/zstd"
)

// The reference tokenizers and the ids transformers.js gives for a corpus
// (testdata/tokenizers/README.md).
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

var (
	gpt2Once  sync.Once
	gpt2Bytes []byte
	gpt2Vocab []string
	gpt2Err   error
)

// gpt2Doc returns GPT-2's canonical tokenizer.json (its tokenizer.json with
// its tokenizer_config.json, as an import stores it) and its vocabulary.
func gpt2Doc(t testing.TB) ([]byte, []string) {
	t.Helper()
	gpt2Once.Do(func() {
		gpt2Bytes, _, gpt2Err = tokenizer.Canonical(tokenizer.Files{
			TokenizerJSON:   readZst(t, filepath.Join(tokDir, "gpt2", "tokenizer.json.zst")),
			TokenizerConfig: readZst(t, filepath.Join(tokDir, "gpt2", "tokenizer_config.json")),
		})
		if gpt2Err != nil {
			return
		}
		var tk *tokenizer.Tokenizer
		if tk, gpt2Err = tokenizer.Load(gpt2Bytes); gpt2Err == nil {
			gpt2Vocab, _ = tk.Vocabulary()
		}
	})
	if gpt2Err != nil {
		t.Fatal(gpt2Err)
	}
	return gpt2Bytes, gpt2Vocab
}

// gpt2Table writes a table of GPT-2's 50,257 rows with its vocabulary and
// (canonical) tokenizer, deterministic rows and metadata md (nil: none).
func gpt2Table(t testing.TB, dir, name string, dim int, md []byte) string {
	t.Helper()
	doc, vocab := gpt2Doc(t)
	path := filepath.Join(dir, name+".emb")
	fw, err := format.Create(path, format.Layout{Rows: int64(len(vocab)), Dim: dim, Vocabulary: true})
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Abort()
	vals := make([]float32, len(vocab)*dim)
	x := uint32(777)
	for i := range vals {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		vals[i] = float32(int32(x))/float32(1<<31) + float32(x%5)
	}
	strs := make([][]byte, len(vocab))
	for i, s := range vocab {
		strs[i] = []byte(s)
	}
	if err := fw.WriteTokens(vals); err != nil {
		t.Fatal(err)
	}
	if err := fw.WriteStrings(strs...); err != nil {
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
	return path
}

// gpt2Cases returns corpus texts and GPT-2's reference ids for them
// (transformers.js, or the Rust library where rust_behaviour.json says it
// differs), leaving out texts that make no tokens.
func gpt2Cases(t testing.TB) ([]string, [][]int64) {
	t.Helper()
	var corpus []string
	sc := bufio.NewScanner(strings.NewReader(string(readZst(t, filepath.Join(tokDir, "corpus.jsonl")))))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var s string
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatal(err)
		}
		corpus = append(corpus, s)
	}
	type refCase struct {
		TextIndex  int     `json:"text_index"`
		IDsSpecial []int64 `json:"ids_special"`
	}
	var e struct{ Cases []refCase }
	if err := json.Unmarshal(readZst(t, filepath.Join(tokDir, "expected", "gpt2.json")), &e); err != nil {
		t.Fatal(err)
	}
	var rust struct{ Cases map[string][]refCase }
	if err := json.Unmarshal(readZst(t, filepath.Join(tokDir, "rust_behaviour.json")), &rust); err != nil {
		t.Fatal(err)
	}
	ids := make([][]int64, len(corpus))
	for _, c := range e.Cases {
		ids[c.TextIndex] = c.IDsSpecial
	}
	for _, c := range rust.Cases["gpt2"] {
		ids[c.TextIndex] = c.IDsSpecial
	}
	var texts []string
	var out [][]int64
	for i, s := range corpus {
		if len(ids[i]) > 0 {
			texts = append(texts, s)
			out = append(out, ids[i])
		}
	}
	if len(texts) < 100 {
		t.Fatalf("%d corpus texts", len(texts))
	}
	return texts, out
}

// TestTextInputsGPT2: string inputs of /v1/embeddings and /embed are
// tokenized with the table's own tokenizer (TableTokenizer) exactly as the
// reference does: each vector is the mean of the reference ids' rows, bit
// for bit; usage counts the tokens; --max-tokens applies to them.
func TestTextInputsGPT2(t *testing.T) {
	dir := t.TempDir()
	path := gpt2Table(t, dir, "gpt2", 16, nil)
	texts, ids := gpt2Cases(t)
	total := 0
	for _, s := range ids {
		total += len(s)
	}
	ts := newTestServer(t, Config{Encoder: TableTokenizer}, map[string]string{"gpt2": path})
	want := bagMean(t, path, ids)

	body, _ := json.Marshal(map[string]any{"model": "gpt2", "input": texts})
	code, resp, _ := ts.post(t, "/v1/embeddings", "application/json", body)
	var r embeddingsResponse
	if err := json.Unmarshal(resp, &r); code != 200 || err != nil || len(r.Data) != len(texts) {
		t.Fatalf("%d %.300s", code, resp)
	}
	if r.Usage.PromptTokens != total || r.Usage.TotalTokens != total {
		t.Fatalf("usage %+v, want %d tokens", r.Usage, total)
	}
	for i, d := range r.Data {
		var row []float32
		json.Unmarshal(d.Embedding, &row)
		if !sameBits(row, want[i]) {
			t.Fatalf("text %d %q: %v, want %v", i, texts[i], row, want[i])
		}
	}
	// One string.
	code, resp, _ = ts.post(t, "/v1/embeddings", "application/json", []byte(`{"model": "gpt2", "input": "Hello world"}`))
	r = embeddingsResponse{}
	if err := json.Unmarshal(resp, &r); code != 200 || err != nil || len(r.Data) != 1 || r.Usage.PromptTokens != 2 {
		t.Fatalf("one string: %d %s", code, resp)
	}
	var row []float32
	json.Unmarshal(r.Data[0].Embedding, &row)
	if !sameBits(row, bagMean(t, path, [][]int64{{15496, 995}})[0]) {
		t.Fatalf("\"Hello world\": %v", row)
	}
	// TEI: normalised by default; /embed_all gives each token's row.
	code, resp, _ = ts.post(t, "/embed", "application/json", []byte(`{"inputs": ["Hello world", "`+strings.ReplaceAll(texts[5], `"`, `\"`)+`"]}`))
	var rows [][]float32
	if err := json.Unmarshal(resp, &rows); code != 200 || err != nil || len(rows) != 2 {
		t.Fatalf("/embed: %d %s", code, resp)
	}
	for i, w := range [][]float32{bagMean(t, path, [][]int64{{15496, 995}})[0], want[5]} {
		w = slices.Clone(w)
		pooling.Normalize(w, 16)
		if !sameBits(rows[i], w) {
			t.Fatalf("/embed input %d: %v, want %v", i, rows[i], w)
		}
	}
	code, resp, _ = ts.post(t, "/embed_all", "application/json", []byte(`{"inputs": "Hello world"}`))
	var all [][][]float32
	if err := json.Unmarshal(resp, &all); code != 200 || err != nil || len(all) != 1 || len(all[0]) != 2 {
		t.Fatalf("/embed_all: %d %s", code, resp)
	}
	lk := storeLookup(t, path, []int64{15496, 995})
	if !sameBits(append(all[0][0], all[0][1]...), lk) {
		t.Fatalf("/embed_all rows differ from lookup")
	}
	// /v1/models and /info say how inputs are pooled, and that texts work.
	code, resp, _ = ts.get(t, "/v1/models/gpt2")
	if code != 200 || !strings.Contains(string(resp), `"pooling":"mean","normalize":false,"tokenizer":true`) {
		t.Fatalf("/v1/models/gpt2: %d %s", code, resp)
	}

	// --max-tokens counts the tokens the texts make.
	lim := newTestServer(t, Config{Encoder: TableTokenizer, MaxTokens: 3}, map[string]string{"gpt2": path})
	code, resp, _ = lim.post(t, "/v1/embeddings", "application/json", []byte(`{"model": "gpt2", "input": ["Hello world", "Hello"]}`))
	if code != 200 {
		t.Fatalf("3 tokens under a limit of 3: %d %s", code, resp)
	}
	code, resp, _ = lim.post(t, "/v1/embeddings", "application/json", []byte(`{"model": "gpt2", "input": ["Hello world", "Hello world"]}`))
	if code != 400 || !strings.Contains(string(resp), `"code":"too_many_tokens"`) {
		t.Fatalf("4 tokens over a limit of 3: %d %s", code, resp)
	}
	code, resp, _ = lim.post(t, "/embed", "application/json", []byte(`{"inputs": ["Hello world", "Hello world"]}`))
	if code != 413 {
		t.Fatalf("/embed: 4 tokens over a limit of 3: %d %s", code, resp)
	}
}

// TestPoolingFromMetadata: a table whose metadata records its pooling is
// pooled that way by /v1/embeddings (all inputs, ids too) and /embed (whose
// normalize the request decides), and says so in /v1/models, /v1/tables and
// /info.
func TestPoolingFromMetadata(t *testing.T) {
	dir := t.TempDir()
	cls := gpt2Table(t, dir, "cls", 8, []byte(`{"pooling": {"mode": "cls", "normalize": true}}`))
	// Tables without a tokenizer take ids, pooled the same way.
	last := metaTable(t, dir, "last", []byte(`{"pooling": {"mode": "last"}}`))
	maxp := metaTable(t, dir, "max", []byte(`{"pooling": {"mode": "max"}}`))
	bad := metaTable(t, dir, "bad", []byte(`{"pooling": {"mode": "weighted"}}`))
	ts := newTestServer(t, Config{Encoder: TableTokenizer}, map[string]string{"cls": cls, "last": last, "max": maxp, "bad": bad})
	hello := []int64{15496, 995}
	embed := func(model, input string) []float32 {
		t.Helper()
		code, resp, _ := ts.post(t, "/v1/embeddings", "application/json", []byte(`{"model": "`+model+`", "input": `+input+`}`))
		var r embeddingsResponse
		if err := json.Unmarshal(resp, &r); code != 200 || err != nil || len(r.Data) != 1 {
			t.Fatalf("%s %s: %d %s", model, input, code, resp)
		}
		var row []float32
		json.Unmarshal(r.Data[0].Embedding, &row)
		return row
	}
	want := storeLookup(t, cls, hello[:1])
	pooling.Normalize(want, 8)
	if got := embed("cls", `"Hello world"`); !sameBits(got, want) {
		t.Fatalf("cls+normalize: %v, want %v", got, want)
	}
	if got := embed("cls", `[15496, 995]`); !sameBits(got, want) {
		t.Fatalf("cls+normalize of ids: %v, want %v", got, want)
	}
	if got := embed("last", `[15496, 995]`); !sameBits(got, storeLookup(t, last, hello[1:])) {
		t.Fatalf("last: %v", got)
	}
	tab, err := store.Open(maxp, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantMax := make([]float32, 8)
	if err := tab.Bag(wantMax, hello, []int64{0}, &store.BagOptions{Mode: store.BagMax}); err != nil {
		t.Fatal(err)
	}
	tab.Close()
	if got := embed("max", `[15496, 995]`); !sameBits(got, wantMax) {
		t.Fatalf("max: %v, want %v", got, wantMax)
	}
	// TEI /embed: the table's mode, the request's normalize.
	code, resp, _ := ts.post(t, "/embed?model=cls", "application/json", []byte(`{"inputs": "Hello world", "normalize": false}`))
	var rows [][]float32
	if err := json.Unmarshal(resp, &rows); code != 200 || err != nil || !sameBits(rows[0], storeLookup(t, cls, hello[:1])) {
		t.Fatalf("/embed cls without normalize: %d %s", code, resp)
	}
	code, resp, _ = ts.get(t, "/v1/models")
	for _, s := range []string{`"id":"cls","object":"model"`, `"pooling":"cls","normalize":true`, `"pooling":"last","normalize":false`, `"pooling":"max","normalize":false`} {
		if code != 200 || !strings.Contains(string(resp), s) {
			t.Fatalf("/v1/models lacks %s: %s", s, resp)
		}
	}
	code, resp, _ = ts.get(t, "/v1/tables/cls")
	if code != 200 || !strings.Contains(string(resp), `"pooling":"cls","normalize":true`) {
		t.Fatalf("/v1/tables/cls: %s", resp)
	}
	code, resp, _ = ts.get(t, "/info?model=last")
	if code != 200 || !strings.Contains(string(resp), `"model_type":{"embedding":{"pooling":"last_token"}}`) {
		t.Fatalf("/info: %s", resp)
	}
	// A pooling the server does not know is the table's fault: 500, named.
	code, resp, _ = ts.post(t, "/v1/embeddings", "application/json", []byte(`{"model": "bad", "input": [1]}`))
	if code != 500 || !strings.Contains(string(resp), `table bad: metadata \"pooling\": pooling mode \"weighted\"`) {
		t.Fatalf("bad pooling: %d %s", code, resp)
	}
}

// metaTable writes a table of 50,257 rows of 8 deterministic values
// (GPT-2's ids fit), without tokenizer, with metadata md.
func metaTable(t testing.TB, dir, name string, md []byte) string {
	t.Helper()
	path := filepath.Join(dir, name+".emb")
	fw, err := format.Create(path, format.Layout{Rows: 50257, Dim: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Abort()
	vals := make([]float32, 50257*8)
	for i := range vals {
		vals[i] = float32((i*7919)%1009)/97 - 5
	}
	if err := fw.WriteTokens(vals); err != nil {
		t.Fatal(err)
	}
	if err := fw.SetMetadata(md); err != nil {
		t.Fatal(err)
	}
	if err := fw.Commit(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestTextInputErrors: a table without a tokenizer, one whose tokenizer
// cannot run, a cluster's table, and a text that makes no tokens.
func TestTextInputErrors(t *testing.T) {
	dir := t.TempDir()
	plain := seeded(t, dir, "plain", 50, 4, 0)
	unigram := filepath.Join(dir, "unigram.emb")
	fw, err := format.Create(unigram, format.Layout{Rows: 2, Dim: 2})
	if err != nil {
		t.Fatal(err)
	}
	fw.WriteTokens([]float32{1, 2, 3, 4})
	if err := fw.SetTokenizer([]byte(`{"model":{"type":"Unigram","vocab":[["a",0]]}}`)); err != nil {
		t.Fatal(err)
	}
	if err := fw.Commit(); err != nil {
		t.Fatal(err)
	}
	m, err := pack.Shard(context.Background(), gpt2Table(t, dir, "gpt2", 4, nil), filepath.Join(dir, "shards"), pack.ShardSpec{Shards: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	shard := filepath.Join(dir, "shards", m.Shards[1].File)
	ts := newTestServer(t, Config{Encoder: TableTokenizer}, map[string]string{"plain": plain, "unigram": unigram, "shard": shard})
	if err := ts.AddSource("cluster", &fakeSource{t: &fakeTable{}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path, body string
		code       int
		msg        string
	}{
		{"/v1/embeddings", `{"model": "plain", "input": "hi"}`, 400, `"message":"table plain has no tokenizer: input holds text; send token ids instead","type":"invalid_request_error","param":"input","code":"no_tokenizer"`},
		{"/embed?model=plain", `{"inputs": ["hi"]}`, 422, `table plain has no tokenizer`},
		{"/v1/embeddings", `{"model": "unigram", "input": "hi"}`, 500, `table unigram: its tokenizer cannot be used:`},
		{"/v1/embeddings", `{"model": "cluster", "input": "hi"}`, 400, `table cluster is served from a cluster's shards, which are not tokenized here`},
		{"/v1/embeddings", `{"model": "shard", "input": "hi"}`, 400, `"message":"table shard is shard 1 of 2 of table gpt2 (rows 25129 to 50257 of 50257): the ids its tokenizer gives are the whole table's, its rows only a range of them; input holds text: send it to a server of the whole table","type":"invalid_request_error","param":"input","code":"shard_text"`},
		{"/v1/embeddings", `{"model": "shard", "input": [3]}`, 200, `"object":"embedding"`},
	} {
		code, resp, _ := ts.post(t, c.path, "application/json", []byte(c.body))
		if code != c.code || !strings.Contains(string(resp), c.msg) {
			t.Errorf("%s %s: %d %s; want %d %s", c.path, c.body, code, resp, c.code, c.msg)
		}
	}
	code, resp, _ := ts.get(t, "/v1/tables/unigram")
	if code != 200 || !strings.Contains(string(resp), `"tokenizer":false`) {
		t.Errorf("/v1/tables/unigram: %s", resp)
	}
	// A text that makes no tokens has no vector (/embed_all gives it no rows).
	empty := newTestServer(t, Config{Encoder: func(*store.Table) (TextEncoder, error) { return emptyEncoder{}, nil }}, map[string]string{"t": plain})
	code, resp, _ = empty.post(t, "/v1/embeddings", "application/json", []byte(`{"model": "t", "input": ["x", "y"]}`))
	if code != 400 || !strings.Contains(string(resp), `"message":"input[0]: the text makes no tokens, so it has no vector"`) {
		t.Errorf("text without tokens: %d %s", code, resp)
	}
	code, resp, _ = empty.post(t, "/embed", "application/json", []byte(`{"inputs": "x"}`))
	if code != 422 || !strings.Contains(string(resp), `inputs: the text makes no tokens`) {
		t.Errorf("/embed text without tokens: %d %s", code, resp)
	}
}

// TestOpenAINodeClientText: the official OpenAI Node client sends strings
// (one, and an array) to a table with GPT-2's tokenizer; the vectors, in
// float and base64, are the means of the reference ids' rows, bit for bit.
// It needs node and EMBSTORE_NODE_MODULES, as TestOpenAINodeClient.
func TestOpenAINodeClientText(t *testing.T) {
	node := requireOracle(t, "node", "the OpenAI Node client runs on it")
	modules := os.Getenv("EMBSTORE_NODE_MODULES")
	if modules == "" {
		missingOracle(t, "EMBSTORE_NODE_MODULES is not set (the node_modules directory holding npm's openai package)")
	}
	if _, err := os.Stat(filepath.Join(modules, "openai", "package.json")); err != nil {
		missingOracle(t, "npm package openai is not installed in EMBSTORE_NODE_MODULES="+modules)
	}
	dir := t.TempDir()
	path := gpt2Table(t, dir, "gpt2", 24, nil)
	plain := seeded(t, dir, "plain", 50, 4, 0)
	texts, ids := gpt2Cases(t)
	texts, ids = texts[:40], ids[:40]
	ts := newTestServer(t, Config{Encoder: TableTokenizer}, map[string]string{"gpt2": path, "plain": plain})
	in, _ := json.Marshal(texts)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("testdata", "openai_text.mjs"))
	cmd.Env = append(os.Environ(), "EMBSTORE_NODE_MODULES="+modules, "BASE_URL="+ts.url+"/v1", "TEXTS="+string(in))
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("node: %v\n%s", err, stderr)
	}
	var got struct {
		One, Float, Base64 [][]float32
		OneUsage           struct {
			PromptTokens int `json:"prompt_tokens"`
		} `json:"one_usage"`
		Usage struct {
			PromptTokens int `json:"prompt_tokens"`
		}
		NoTokenizer struct {
			Status      int
			Param, Code string
		} `json:"no_tokenizer"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %.300s", err, out)
	}
	want := bagMean(t, path, ids)
	total := 0
	for _, s := range ids {
		total += len(s)
	}
	if len(got.One) != 1 || !sameBits(got.One[0], want[0]) || got.OneUsage.PromptTokens != len(ids[0]) {
		t.Fatalf("one string: %v (usage %d), want %v", got.One, got.OneUsage.PromptTokens, want[0])
	}
	if len(got.Float) != len(texts) || len(got.Base64) != len(texts) || got.Usage.PromptTokens != total {
		t.Fatalf("%d float, %d base64 vectors for %d texts; usage %d, want %d", len(got.Float), len(got.Base64), len(texts), got.Usage.PromptTokens, total)
	}
	for i := range texts {
		if !sameBits(got.Float[i], want[i]) || !sameBits(got.Base64[i], want[i]) {
			t.Fatalf("text %d %q: float %v, base64 %v, want %v", i, texts[i], got.Float[i], got.Base64[i], want[i])
		}
	}
	if nt := got.NoTokenizer; nt.Status != 400 || nt.Param != "input" || nt.Code != "no_tokenizer" {
		t.Fatalf("text to a table without tokenizer: %+v", nt)
	}
}

// BenchmarkEmbeddingsText64 measures /v1/embeddings in-process for 64
// corpus texts (tokenized by the server with GPT-2's tokenizer) beside the
// same request with the texts' token ids: the difference is the cost of
// tokenizing.
func BenchmarkEmbeddingsText64(b *testing.B) {
	dir := b.TempDir()
	path := gpt2Table(b, dir, "gpt2", 256, nil)
	texts, ids := gpt2Cases(b)
	texts, ids = texts[:64], ids[:64]
	s, err := New(Config{Encoder: TableTokenizer})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.AddTable("gpt2", path); err != nil {
		b.Fatal(err)
	}
	h := s.Handler()
	bytesIn := 0
	for _, t := range texts {
		bytesIn += len(t)
	}
	for _, c := range []struct {
		name  string
		input any
	}{{"texts", texts}, {"ids", ids}} {
		body, _ := json.Marshal(map[string]any{"model": "gpt2", "input": c.input, "encoding_format": "base64"})
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(bytesIn))
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/v1/embeddings", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatalf("%d %s", rec.Code, rec.Body.Bytes())
				}
			}
		})
	}
}
