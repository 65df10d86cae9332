package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/embstore/embstore/format"
)

var wvDir = filepath.Join("..", "..", "testdata", "wordvec")

// TestImportWordVectorsCLI: word-vector files are recognised by content
// (compressed or not), --from overrides, the summary reports the counts,
// and export --to writes them back.
func TestImportWordVectorsCLI(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "crafted.emb")
	code, _, stderr := runCmd(t, "import", filepath.Join(wvDir, "crafted.txt.gz"), "-o", out, "--dtype", "f16")
	if code != 0 {
		t.Fatalf("import: %d %s", code, stderr)
	}
	for _, want := range []string{"42 x 6 f16", "word2vec-text (gzip): 42 words of dim 6", "2 duplicates dropped", "2 invalid UTF-8 kept", "0 bad lines skipped"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("summary %q lacks %q", stderr, want)
		}
	}
	f, err := format.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Section(format.SectionVocabulary); !ok || f.DType != format.F16 {
		t.Errorf("table: dtype %s, vocabulary %v", f.DType, ok)
	}
	f.Close()

	ft := filepath.Join(dir, "ft.emb")
	if code, _, stderr := runCmd(t, "import", filepath.Join(wvDir, "ft.vec"), "--from", "fasttext-vec", "-o", ft); code != 0 || !strings.Contains(stderr, "fasttext-vec: 212 words of dim 8") {
		t.Errorf("--from fasttext-vec: %d %s", code, stderr)
	}
	txt := filepath.Join(dir, "ft.txt")
	if code, _, stderr := runCmd(t, "export", ft, "--to", "word2vec-text", "-o", txt); code != 0 {
		t.Fatalf("export: %d %s", code, stderr)
	}
	if b, _ := os.ReadFile(txt); !strings.HasPrefix(string(b), "212 8\nthe ") {
		t.Errorf("export starts %q", string(b)[:20])
	}

	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"import", filepath.Join(wvDir, "w2v.txt"), "-o", filepath.Join(dir, "a.emb"), "--tensor", "x"}, 2, "--tensor applies to safetensors"},
		{[]string{"import", filepath.Join(wvDir, "w2v.txt"), "-o", filepath.Join(dir, "a.emb"), "--from", "word3vec"}, 1, "--from"},
		{[]string{"import", filepath.Join(wvDir, "glove.txt"), "-o", filepath.Join(dir, "a.emb"), "--from", "word2vec-text"}, 1, "header"},
		{[]string{"import", filepath.Join(wvDir, "crafted.txt"), "-o", filepath.Join(dir, "a.emb"), "--strict-utf8"}, 1, "not valid UTF-8"},
		{[]string{"export", out, "--to", "fasttext-bin", "-o", filepath.Join(dir, "a.bin")}, 2, "--to"},
		{[]string{"export", out, "--to", "word2vec", "--dtype", "f16", "-o", filepath.Join(dir, "a.bin")}, 2, "--dtype"},
	} {
		code, _, stderr := runCmd(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.msg) || strings.Count(strings.TrimSpace(stderr), "\n") > 1 {
			t.Errorf("%v: exit %d, %q; want %d saying %q", c.args, code, stderr, c.code, c.msg)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "a.emb")); err == nil {
		t.Error("a refused import left a table")
	}
}

// TestImportWordVectorsStdin: SRC - reads word vectors from standard input.
func TestImportWordVectorsStdin(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(wvDir, "w2v.txt.zst"))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "s.emb")
	var stdout, stderr strings.Builder
	code := run([]string{"import", "-", "-o", out}, env{Stdin: strings.NewReader(string(b)), Stdout: &stdout, Stderr: &stderr})
	if code != 0 || !strings.Contains(stderr.String(), "word2vec-text (zstd): 212 words of dim 12") {
		t.Errorf("import -: %d %s", code, stderr.String())
	}
}
