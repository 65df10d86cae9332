package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkpointWith copies the GPT-2-shaped test checkpoint (1000 rows) into a
// new directory with extra files.
func checkpointWith(t *testing.T, extra map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range []string{"model.safetensors", "config.json"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "safetensors", "small", "gpt2-small", n))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for n, s := range extra {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, n)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, n), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// tinyTok is a WordLevel tokenizer.json of 6 ids.
const tinyTok = `{"version": "1.0", "added_tokens": [{"id": 5, "content": "<|end|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
 "normalizer": {"type": "Lowercase"}, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": null, "decoder": null,
 "model": {"type": "WordLevel", "vocab": {"hello": 0, "world": 1, "[UNK]": 2, "a": 3, "b": 4}, "unk_token": "[UNK]"}}`

// inspectOf runs inspect --json on path.
func inspectOf(t *testing.T, path string) inspectJSON {
	t.Helper()
	code, stdout, stderr := runCmd(t, "inspect", "--json", path)
	if code != 0 {
		t.Fatalf("inspect: %d %s", code, stderr)
	}
	var info inspectJSON
	if err := json.Unmarshal([]byte(stdout), &info); err != nil {
		t.Fatal(err)
	}
	return info
}

// TestImportTokenizerFlags checks import's tokenizer handling from the
// command line: found with no flag, --no-tokenizer, --tokenizer, and the
// one-line errors, with their hint, for a tokenizer that cannot be stored.
func TestImportTokenizerFlags(t *testing.T) {
	src := checkpointWith(t, map[string]string{"tokenizer.json": tinyTok,
		"modules.json":          `[{"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]`,
		"1_Pooling/config.json": `{"pooling_mode_cls_token": true}`,
	})
	out := t.TempDir()
	dst := filepath.Join(out, "t.emb")
	code, _, stderr := runCmd(t, "import", src, "-o", dst)
	if code != 0 || !strings.Contains(stderr, "tokenizer from tokenizer.json (6 ids), pooling cls") {
		t.Fatalf("import: %d %s", code, stderr)
	}
	info := inspectOf(t, dst)
	if info.Tokenizer == nil || info.Tokenizer.Info == nil || info.Tokenizer.Info.Model != "WordLevel" || info.Vocabulary == nil || info.Vocabulary.Strings != 6 {
		t.Errorf("inspect --json: tokenizer %+v, vocabulary %+v", info.Tokenizer, info.Vocabulary)
	}
	var md struct {
		Tokenizer struct{ Source, SHA256 string }
		Pooling   struct{ Mode string }
	}
	if err := json.Unmarshal(info.Metadata, &md); err != nil || md.Tokenizer.Source != "tokenizer.json" || len(md.Tokenizer.SHA256) != 64 || md.Pooling.Mode != "cls" {
		t.Errorf("metadata %s", info.Metadata)
	}
	_, text, _ := runCmd(t, "inspect", dst)
	for _, want := range []string{"model WordLevel", "normalizer Lowercase", `special tokens "<|end|>"`, "from tokenizer.json, sha256 ", "pooling     cls (the default for text inputs)"} {
		if !strings.Contains(text, want) {
			t.Errorf("inspect does not say %q:\n%s", want, text)
		}
	}

	code, _, stderr = runCmd(t, "import", src, "--no-tokenizer", "-o", filepath.Join(out, "n.emb"), "-q")
	if code != 0 || inspectOf(t, filepath.Join(out, "n.emb")).Tokenizer != nil {
		t.Errorf("--no-tokenizer: %d %s", code, stderr)
	}

	// Errors: one line, exit status 1 (2 for contradicting flags), no table.
	unigram := checkpointWith(t, map[string]string{"tokenizer.json": `{"model": {"type": "Unigram", "vocab": [["a", -1.0]], "unk_id": 0}}`})
	gpt2 := filepath.Join(t.TempDir(), "gpt2.json")
	if err := os.WriteFile(gpt2, gpt2Tokenizer(t), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"import", unigram}, 1, "tokenizer " + unigram + ": tokenizer.json model: Unigram (SentencePiece unigram, as in T5 and ALBERT) is not supported; import without it with --no-tokenizer, or name another with --tokenizer PATH"},
		{[]string{"import", src, "--tokenizer", gpt2}, 1, `token id 1000 ("ale") is past the table's 1000 rows; import without it with --no-tokenizer`},
		{[]string{"import", src, "--tokenizer", filepath.Join(out, "missing")}, 1, "no such file or directory"},
		{[]string{"import", src, "--tokenizer", gpt2, "--no-tokenizer"}, 2, "--no-tokenizer and --tokenizer contradict each other"},
		{[]string{"init", "--rows", "1000", "--dim", "4", "--seed", "1", "--tokenizer", gpt2}, 1, `embpack init: tokenizer ` + gpt2 + `: token id 1000 ("ale") is past the table's 1000 rows`},
	} {
		bad := filepath.Join(t.TempDir(), "bad.emb")
		code, _, stderr := runCmd(t, append(c.args, "-o", bad)...)
		if code != c.code || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") > 2 {
			t.Errorf("%v: %d %q; want %d and %q", c.args, code, stderr, c.code, c.want)
		}
		if _, err := os.Stat(bad); err == nil {
			t.Errorf("%v: a table was written", c.args)
		}
	}
	if code, _, _ := runCmd(t, "import", unigram, "--no-tokenizer", "-q", "-o", filepath.Join(out, "u.emb")); code != 0 {
		t.Errorf("--no-tokenizer past a Unigram tokenizer: %d", code)
	}
}

// TestInitTokenizerAndConvert attaches GPT-2's tokenizer to a seeded table
// and checks convert's section flags on it.
func TestInitTokenizerAndConvert(t *testing.T) {
	dir := t.TempDir()
	gpt2 := filepath.Join(dir, "tokenizer.json")
	if err := os.WriteFile(gpt2, gpt2Tokenizer(t), 0o644); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "s.emb")
	if code, _, stderr := runCmd(t, "init", "--rows", "50257", "--dim", "8", "--seed", "123", "--tokenizer", gpt2, "-q", "-o", src); code != 0 {
		t.Fatalf("init --tokenizer: %s", stderr)
	}
	info := inspectOf(t, src)
	if info.Tokenizer == nil || info.Tokenizer.Info == nil || info.Tokenizer.Info.VocabSize != 50257 || info.Vocabulary.Strings != 50257 {
		t.Fatalf("inspect: %+v", info.Tokenizer)
	}
	for _, c := range []struct {
		args                   []string
		code                   int
		tokenizer, norms       bool
		dtype, stderrSubstring string
	}{
		{[]string{"--norms"}, 0, true, true, "f32", ""},
		{[]string{"--no-tokenizer", "--dtype", "f16"}, 0, false, false, "f16", ""},
		{[]string{"--dtype", "int8", "--norms"}, 0, true, true, "int8", ""},
		{nil, 2, false, false, "", "nothing to change"},
		{[]string{"--norms", "--no-norms"}, 2, false, false, "", "contradict"},
		{[]string{"--tokenizer", gpt2, "--no-tokenizer"}, 2, false, false, "", "contradict"},
	} {
		out := filepath.Join(t.TempDir(), "c.emb")
		code, _, stderr := runCmd(t, append([]string{"convert", src, "-q", "-o", out}, c.args...)...)
		if code != c.code || !strings.Contains(stderr, c.stderrSubstring) {
			t.Errorf("convert %v: %d %q", c.args, code, stderr)
			continue
		}
		if code != 0 {
			continue
		}
		got := inspectOf(t, out)
		if (got.Tokenizer != nil) != c.tokenizer || (got.Vocabulary != nil) != c.tokenizer || got.Norms != c.norms || got.DType != c.dtype {
			t.Errorf("convert %v: tokenizer %v, vocabulary %v, norms %v, dtype %s", c.args, got.Tokenizer != nil, got.Vocabulary != nil, got.Norms, got.DType)
		}
	}
	// verify checks the table with its tokenizer, and the converted ones.
	if code, _, stderr := runCmd(t, "verify", "-q", src); code != 0 {
		t.Errorf("verify: %s", stderr)
	}
}
