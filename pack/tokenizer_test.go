package pack

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/store"
	"github.com/embstore/embstore/tokenizer"
	"github.com/klauspost/compress/zstd"
)

// The tokenizer reference files of package tokenizer's tests.
const tokRef = "../testdata/tokenizers"

// refFile reads a file of the tokenizer references, decompressing NAME.zst
// when NAME is not there.
func refFile(t testing.TB, name string) []byte {
	t.Helper()
	if b, err := os.ReadFile(filepath.Join(tokRef, name)); err == nil {
		return b
	}
	b, err := os.ReadFile(filepath.Join(tokRef, name+".zst"))
	if err != nil {
		t.Fatal(err)
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

// writeFiles writes files (name -> content) into dir.
func writeFiles(t testing.TB, dir string, files map[string][]byte) {
	t.Helper()
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// gpt2Dir returns a directory holding GPT-2's tokenizer files: names among
// "tokenizer.json", "vocab.json", "merges.txt", "tokenizer_config.json".
func gpt2Dir(t testing.TB, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string][]byte{}
	for _, n := range names {
		files[n] = refFile(t, "gpt2/"+n)
	}
	writeFiles(t, dir, files)
	return dir
}

// smallCheckpoint copies the GPT-2-shaped test checkpoint (1000 rows of 16
// values, 64 positions) into a new directory with extra files.
func smallCheckpoint(t testing.TB, extra map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range []string{"model.safetensors", "config.json"} {
		b, err := os.ReadFile(filepath.Join("../testdata/safetensors/small/gpt2-small", n))
		if err != nil {
			t.Fatal(err)
		}
		writeFiles(t, dir, map[string][]byte{n: b})
	}
	writeFiles(t, dir, extra)
	return dir
}

// tinyTokenizer is a WordLevel tokenizer.json of 6 ids (5 model tokens and a
// special added token).
const tinyTokenizer = `{"version": "1.0", "added_tokens": [{"id": 5, "content": "<|end|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
 "normalizer": {"type": "Lowercase"}, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": null, "decoder": null,
 "model": {"type": "WordLevel", "vocab": {"hello": 0, "world": 1, "[UNK]": 2, "a": 3, "b": 4}, "unk_token": "[UNK]"}}`

// unigramTokenizer is a tokenizer.json the tokenizer package refuses.
const unigramTokenizer = `{"version": "1.0", "added_tokens": [], "normalizer": null, "pre_tokenizer": null, "post_processor": null, "decoder": null,
 "model": {"type": "Unigram", "vocab": [["a", -1.0], ["b", -2.0]], "unk_id": 0}}`

// tableOf opens path as a store table.
func tableOf(t testing.TB, path string) *store.Table {
	t.Helper()
	tb, err := store.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tb.Close() })
	return tb
}

// provenanceOf reads the metadata of the table at path.
func provenanceOf(t testing.TB, path string) (*Provenance, *format.File) {
	t.Helper()
	f, err := format.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	p, err := ReadProvenance(f.Metadata())
	if err != nil {
		t.Fatal(err)
	}
	return p, f
}

// TestSeedGPT2TextToTorchRows is issue 10's "done when": GPT-2's vocabulary
// attached to README's seed-123 table turns "Hello world" into GPT-2's ids,
// and those into the rows torch's wte(torch.tensor(ids)) gives
// (testdata/torch/torch-gpt2-text.json, made by gen_gpt2_text.py).
func TestSeedGPT2TextToTorchRows(t *testing.T) {
	var ref struct {
		Seed            uint64      `json:"seed"`
		Rows            int64       `json:"rows"`
		Dim             int         `json:"dim"`
		Text            string      `json:"text"`
		IDs             []int64     `json:"ids"`
		TokenEmbeddings [][]float64 `json:"token_embeddings"`
	}
	b, err := os.ReadFile("../testdata/torch/torch-gpt2-text.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "gpt2-seed123.emb")
	plain := filepath.Join(dir, "plain.emb")
	tokDir := gpt2Dir(t, "vocab.json", "merges.txt", "tokenizer_config.json")
	if err := Seed(ctx, path, SeedSpec{Rows: ref.Rows, Dim: ref.Dim, Seed: ref.Seed, Tokenizer: tokDir}, nil); err != nil {
		t.Fatal(err)
	}
	if err := Seed(ctx, plain, SeedSpec{Rows: ref.Rows, Dim: ref.Dim, Seed: ref.Seed}, nil); err != nil {
		t.Fatal(err)
	}
	tb := tableOf(t, path)
	tk, err := tb.Tokenizer()
	if err != nil {
		t.Fatal(err)
	}
	ids := tk.Encode(nil, ref.Text, true)
	if !slices.Equal(ids, ref.IDs) {
		t.Fatalf("%q -> %v; want %v", ref.Text, ids, ref.IDs)
	}
	out := make([]float32, len(ids)*ref.Dim)
	if err := tb.Lookup(out, ids); err != nil {
		t.Fatal(err)
	}
	for i, row := range ref.TokenEmbeddings {
		for j, want := range row {
			if got := out[i*ref.Dim+j]; math.Float32bits(got) != math.Float32bits(float32(want)) {
				t.Fatalf("row of id %d, value %d: %v; torch gives %v", ids[i], j, got, float32(want))
			}
		}
	}
	// The vocabulary holds GPT-2's strings: "Ġworld" is 995.
	v, err := tb.Vocabulary()
	if err != nil {
		t.Fatal(err)
	}
	if id, err := v.ID("Ġworld"); err != nil || id != 995 {
		t.Errorf(`vocabulary "Ġworld" -> %d, %v; want 995`, id, err)
	}
	// The rows are the table's without a tokenizer, to the byte.
	_, f := provenanceOf(t, path)
	_, g := provenanceOf(t, plain)
	s1, _ := f.Section(format.SectionTokens)
	s2, _ := g.Section(format.SectionTokens)
	if s1.CRC != s2.CRC || s1.Length != s2.Length {
		t.Errorf("token rows with a tokenizer: crc %#x, %d bytes; without: crc %#x, %d bytes", s1.CRC, s1.Length, s2.CRC, s2.Length)
	}
	// The metadata names the source and the SHA-256 of the document stored.
	p, _ := provenanceOf(t, path)
	doc, err := f.TokenizerJSON()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(doc)
	if p.Tokenizer == nil || p.Tokenizer.Source != "vocab.json+merges.txt" || p.Tokenizer.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("tokenizer metadata %+v; want source vocab.json+merges.txt, sha256 %x", p.Tokenizer, sum)
	}
	if p.Vocabulary == nil || p.Vocabulary.Source != "tokenizer" || p.Vocabulary.Duplicates != 0 {
		t.Errorf("vocabulary metadata %+v", p.Vocabulary)
	}
	if p.Seed == nil || p.Seed.Seed != 123 {
		t.Errorf("seed metadata %+v", p.Seed)
	}
}

// TestImportFindsTokenizer checks that an import picks up the tokenizer
// beside the weights with no option, stores the canonical document and
// every id's string, and that NoTokenizer and Tokenizer override it.
func TestImportFindsTokenizer(t *testing.T) {
	src := smallCheckpoint(t, map[string][]byte{"tokenizer.json": []byte(tinyTokenizer)})
	dst := filepath.Join(t.TempDir(), "t.emb")
	info, err := Import(ctx, dst, ImportSpec{Src: src}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if info.Tokenizer == nil || info.Tokenizer.Source != "tokenizer.json" || info.TokenizerIDs != 6 || info.TokenizerPath != src {
		t.Errorf("ImportInfo: tokenizer %+v, %d ids, from %q", info.Tokenizer, info.TokenizerIDs, info.TokenizerPath)
	}
	tb := tableOf(t, dst)
	tk, err := tb.Tokenizer()
	if err != nil {
		t.Fatal(err)
	}
	if ids := tk.Encode(nil, "Hello b world<|end|>", true); !slices.Equal(ids, []int64{0, 4, 1, 5}) {
		t.Errorf("encode: %v", ids)
	}
	v, err := tb.Vocabulary()
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range []string{"hello", "world", "[UNK]", "a", "b", "<|end|>", "", ""} {
		got, err := v.AppendString(nil, int64(id))
		if string(got) != want || err != nil {
			t.Errorf("vocabulary row %d: %q, %v; want %q", id, got, err, want)
		}
	}
	if v.Count() != 6 {
		t.Errorf("%d rows have a string; want 6", v.Count())
	}
	p, _ := provenanceOf(t, dst)
	if p.Tokenizer == nil || p.Import == nil || p.Import.Tensor != "transformer.wte.weight" {
		t.Errorf("metadata: %+v", p)
	}

	// NoTokenizer: no sections, no key.
	none := filepath.Join(t.TempDir(), "n.emb")
	if _, err := Import(ctx, none, ImportSpec{Src: src, NoTokenizer: true}, nil); err != nil {
		t.Fatal(err)
	}
	p, f := provenanceOf(t, none)
	if _, ok := f.Section(format.SectionTokenizer); ok || p.Tokenizer != nil || p.Vocabulary != nil {
		t.Errorf("NoTokenizer: a tokenizer section or key (%+v)", p.Tokenizer)
	}
	if _, ok := f.VocabInfo(); ok {
		t.Errorf("NoTokenizer: a vocabulary section")
	}
	// Both: a SpecError before anything is read.
	_, err = Import(ctx, none, ImportSpec{Src: src, NoTokenizer: true, Tokenizer: src}, nil)
	var se *SpecError
	if !errors.As(err, &se) || se.Field != "ImportSpec.Tokenizer" {
		t.Errorf("Tokenizer with NoTokenizer: %v", err)
	}

	// A checkpoint without tokenizer files imports without one, whatever
	// configuration files it has.
	bare := smallCheckpoint(t, map[string][]byte{"tokenizer_config.json": []byte("{not json")})
	if _, err := Import(ctx, filepath.Join(t.TempDir(), "b.emb"), ImportSpec{Src: bare}, nil); err != nil {
		t.Errorf("a checkpoint with only tokenizer_config.json: %v", err)
	}
	// Tokenizer names one elsewhere: a file of any name is a tokenizer.json.
	other := filepath.Join(t.TempDir(), "my-tokenizer.json")
	writeFiles(t, filepath.Dir(other), map[string][]byte{"my-tokenizer.json": []byte(tinyTokenizer)})
	if info, err := Import(ctx, filepath.Join(t.TempDir(), "o.emb"), ImportSpec{Src: bare, Tokenizer: other}, nil); err != nil || info.TokenizerIDs != 6 {
		t.Errorf("Tokenizer %s: %v", other, err)
	}
}

// TestTokenizerRefused checks every way a tokenizer is refused: a
// *TokenizerError naming the path and why, and no table written.
func TestTokenizerRefused(t *testing.T) {
	sparse := filepath.Join(t.TempDir(), "huge.json")
	if f, err := os.Create(sparse); err != nil {
		t.Fatal(err)
	} else {
		if err := f.Truncate(format.MaxTokenizerSize + 1); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	gpt2 := gpt2Dir(t, "tokenizer.json", "tokenizer_config.json")
	cases := []struct {
		name  string
		files map[string][]byte // beside the weights
		given string            // ImportSpec.Tokenizer
		check func(err error) bool
		text  string // in the message
	}{
		{name: "ids past the rows", given: gpt2, text: `token id 1000 ("ale") is past the table's 1000 rows`,
			check: func(err error) bool {
				var ie *TokenIDError
				return errors.As(err, &ie) && ie.ID == 1000 && ie.Rows == 1000
			}},
		{name: "unigram", files: map[string][]byte{"tokenizer.json": []byte(unigramTokenizer)}, text: "tokenizer.json model: Unigram",
			check: func(err error) bool { return errors.Is(err, tokenizer.ErrUnsupported) }},
		{name: "not json", files: map[string][]byte{"tokenizer.json": []byte("{\"model\": ")}, text: "not a tokenizer.json",
			check: func(err error) bool { var le *tokenizer.LoadError; return errors.As(err, &le) }},
		{name: "vocab.json without merges.txt", files: map[string][]byte{"vocab.json": []byte(`{"a": 0}`)}, text: "merges.txt",
			check: func(err error) bool { return err != nil }},
		{name: "tokenizer.json is a directory", files: map[string][]byte{"tokenizer.json/x": []byte("x")}, text: "not a regular file",
			check: func(err error) bool { return err != nil }},
		{name: "larger than a tokenizer section holds", given: sparse, text: "larger than",
			check: func(err error) bool { return err != nil }},
		{name: "missing file", given: filepath.Join(t.TempDir(), "tokenizer.json"), text: "no such file",
			check: func(err error) bool { return errors.Is(err, fs.ErrNotExist) }},
		{name: "empty directory", given: t.TempDir(), text: "no tokenizer.json",
			check: func(err error) bool { return errors.Is(err, tokenizer.ErrNoTokenizer) }},
		{name: "id gaps", files: map[string][]byte{"tokenizer.json": []byte(strings.NewReplacer(`"b": 4`, `"b": 2147483000`, `"id": 5`, `"id": 2147483001`).Replace(tinyTokenizer))}, text: "gaps",
			check: func(err error) bool { return err != nil }},
	}
	for _, c := range cases {
		src := smallCheckpoint(t, c.files)
		out := t.TempDir()
		_, err := Import(ctx, filepath.Join(out, "t.emb"), ImportSpec{Src: src, Tokenizer: c.given}, nil)
		var te *TokenizerError
		if !errors.As(err, &te) || !c.check(err) || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%s: %v; want a *TokenizerError saying %q", c.name, err, c.text)
			continue
		}
		onlyFiles(t, c.name, out)
		if c.given == "" && te.Path != src {
			t.Errorf("%s: the error names %q; want the checkpoint's directory", c.name, te.Path)
		}
		// The same tokenizer attached to a seeded table is refused alike;
		// NoTokenizer imports without it.
		if c.given != "" {
			err := Seed(ctx, filepath.Join(out, "s.emb"), SeedSpec{Rows: 1000, Dim: 4, Seed: 1, Tokenizer: c.given}, nil)
			if !errors.As(err, &te) || !strings.Contains(err.Error(), c.text) {
				t.Errorf("%s: Seed: %v", c.name, err)
			}
			onlyFiles(t, c.name, out)
		}
		if _, err := Import(ctx, filepath.Join(out, "n.emb"), ImportSpec{Src: src, NoTokenizer: true}, nil); err != nil {
			t.Errorf("%s with NoTokenizer: %v", c.name, err)
		}
	}
}

// TestImportPooling checks the pooling metadata from sentence-transformers'
// modules.json and model2vec's config.json, and the warnings for what a
// table cannot record.
func TestImportPooling(t *testing.T) {
	modules := []byte(`[{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
 {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
 {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]`)
	poolCfg := func(mode string) []byte {
		return []byte(`{"word_embedding_dimension": 16, "pooling_mode_cls_token": ` + boolText(mode == "cls") +
			`, "pooling_mode_mean_tokens": ` + boolText(mode == "mean") + `, "pooling_mode_max_tokens": false, "pooling_mode_mean_sqrt_len_tokens": ` +
			boolText(mode == "sqrt") + `, "pooling_mode_weightedmean_tokens": false, "pooling_mode_lasttoken": false, "include_prompt": true}`)
	}
	cfg, err := os.ReadFile("../testdata/safetensors/small/gpt2-small/config.json")
	if err != nil {
		t.Fatal(err)
	}
	m2v := bytes.Replace(cfg, []byte(`"model_type": "gpt2"`), []byte(`"model_type": "model2vec", "normalize": true`), 1)
	if bytes.Equal(m2v, cfg) {
		t.Fatal("config.json has no model_type to replace")
	}
	cases := []struct {
		name    string
		files   map[string][]byte
		want    *Pooling
		warning string
	}{
		{"none", nil, nil, ""},
		{"cls, normalised", map[string][]byte{"modules.json": modules, "1_Pooling/config.json": poolCfg("cls")}, &Pooling{Mode: "cls", Normalize: true}, ""},
		{"mean", map[string][]byte{"modules.json": slices.Concat(modules[:bytes.LastIndex(modules, []byte(",\n"))], []byte("]")), "1_Pooling/config.json": poolCfg("mean")}, &Pooling{Mode: "mean"}, ""},
		{"modules.json not JSON", map[string][]byte{"modules.json": modules[:20], "1_Pooling/config.json": poolCfg("mean")}, nil, "modules.json"},
		{"mean sqrt len", map[string][]byte{"modules.json": modules, "1_Pooling/config.json": poolCfg("sqrt")}, nil, "pooling_mode_mean_sqrt_len_tokens"},
		{"outside", map[string][]byte{"modules.json": bytes.Replace(modules, []byte(`"1_Pooling"`), []byte(`"../x"`), 1)}, nil, "not inside"},
		{"no config", map[string][]byte{"modules.json": modules}, nil, "1_Pooling/config.json"},
		{"model2vec", map[string][]byte{"config.json": m2v}, &Pooling{Mode: "mean", Normalize: true}, ""},
	}
	for _, c := range cases {
		src := smallCheckpoint(t, c.files)
		dst := filepath.Join(t.TempDir(), "t.emb")
		info, err := Import(ctx, dst, ImportSpec{Src: src}, nil)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		p, _ := provenanceOf(t, dst)
		if (p.Pooling == nil) != (c.want == nil) || (p.Pooling != nil && *p.Pooling != *c.want) {
			t.Errorf("%s: pooling %+v; want %+v", c.name, p.Pooling, c.want)
		}
		warned := strings.Join(info.Warnings, "; ")
		if (c.warning == "") != (warned == "") || !strings.Contains(warned, c.warning) {
			t.Errorf("%s: warnings %q; want one saying %q", c.name, warned, c.warning)
		}
	}
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// TestSeedBERTVocabTxt attaches BERT's vocab.txt (with its
// tokenizer_config.json, which says to lowercase) to a seeded table: the
// tokenizer stored is the WordPiece one transformers builds from them.
func TestSeedBERTVocabTxt(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{"vocab.txt": refFile(t, "bert/vocab.txt"), "tokenizer_config.json": refFile(t, "bert/tokenizer_config.json")})
	path := filepath.Join(t.TempDir(), "bert.emb")
	if err := Seed(ctx, path, SeedSpec{Rows: 30522, Dim: 4, Seed: 1, Tokenizer: dir}, nil); err != nil {
		t.Fatal(err)
	}
	tk, err := tableOf(t, path).Tokenizer()
	if err != nil {
		t.Fatal(err)
	}
	if ids := tk.Encode(nil, "Hello World", true); !slices.Equal(ids, []int64{101, 7592, 2088, 102}) {
		t.Errorf("BERT: %v; want [101 7592 2088 102]", ids)
	}
	if p, _ := provenanceOf(t, path); p.Tokenizer == nil || p.Tokenizer.Source != "vocab.txt" {
		t.Errorf("tokenizer metadata %+v", p.Tokenizer)
	}
}
