package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/cli"
	"github.com/klauspost/compress/zstd"
)

// writeSectionsTable writes a table of rows rows with a vocabulary, norms,
// a subword table and the given tokenizer document (nil for none).
func writeSectionsTable(t *testing.T, rows int64, tok []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "t.emb")
	l := format.Layout{Rows: rows, Dim: 4, Vocabulary: true, Norms: true, Subwords: 10, SubwordMinN: 3, SubwordMaxN: 6}
	fw, err := format.Create(path, l)
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Abort()
	vals := make([]float32, rows*4)
	for i := range vals {
		vals[i] = float32(i % 7)
	}
	fw.WriteTokens(vals)
	for i := range rows {
		s := fmt.Sprintf("w%d", i)
		if i%3 == 0 {
			s = ""
		}
		if err := fw.WriteStrings([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if err := fw.WriteSubwords(make([]float32, 40)); err != nil {
		t.Fatal(err)
	}
	if tok != nil {
		if err := fw.SetTokenizer(tok); err != nil {
			t.Fatal(err)
		}
	}
	if err := fw.Commit(); err != nil {
		t.Fatal(err)
	}
	return path
}

func gpt2Tokenizer(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "tokenizers", "gpt2", "tokenizer.json.zst"))
	if err != nil {
		t.Fatal(err)
	}
	d, _ := zstd.NewReader(nil)
	defer d.Close()
	doc, err := d.DecodeAll(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestInspectAndVerifySections checks what inspect shows of the 1.1
// sections (text and JSON) and that verify checks them, the tokenizer
// included: one this embpack cannot run, or whose ids do not fit the table,
// fails verification.
func TestInspectAndVerifySections(t *testing.T) {
	path := writeSectionsTable(t, 50257, gpt2Tokenizer(t))
	code, stdout, stderr := runCmd(t, "inspect", path)
	for _, want := range []string{
		"vocabulary  33504 strings for 50257 rows",
		"subwords    fastText character n-grams of 3 to 6 characters, 10 buckets of f32 rows",
		"norms       one per token row",
		"tokenizer   tokenizer.json of",
		"model BPE", "50257 ids", `special tokens "<|endoftext|>"`, "pre-tokenizer ByteLevel",
		"format      embstore table 1.1",
	} {
		if code != 0 || !strings.Contains(stdout, want) {
			t.Fatalf("inspect lacks %q: exit %d\n%s%s", want, code, stdout, stderr)
		}
	}
	code, stdout, _ = runCmd(t, "inspect", "--json", path)
	var info inspectJSON
	if err := json.Unmarshal([]byte(stdout), &info); code != 0 || err != nil {
		t.Fatalf("inspect --json: exit %d, %v", code, err)
	}
	if v := info.Vocabulary; v == nil || v.Strings != 33504 || v.Rows != 50257 || v.Subwords == nil || v.Subwords.Buckets != 10 ||
		!info.Norms || info.Tokenizer == nil || info.Tokenizer.Info == nil || info.Tokenizer.Info.VocabSize != 50257 {
		t.Fatalf("inspect --json: %s", stdout)
	}
	if code, stdout, _ := runCmd(t, "verify", path); code != 0 || !strings.Contains(stdout, "ok   tokenizer loads") ||
		!strings.Contains(stdout, "ok   vocabulary") || !strings.Contains(stdout, "ok   norms") {
		t.Fatalf("verify: exit %d\n%s", code, stdout)
	}

	// Damage that only the content checks see: a norm, with the checksum
	// recomputed, and a vocabulary string.
	for _, damage := range []struct{ section, want string }{{"norms", "invalid norms section"}, {"vocabulary", "invalid vocabulary section"}} {
		b, _ := os.ReadFile(path)
		f, err := format.ParseHeader(b, int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range f.Sections {
			if s.Kind.String() == damage.section {
				b[s.End()-1] ^= 1
				binary.LittleEndian.PutUint32(b[128+48*i+44:], format.CRC(b[s.Offset:s.End()]))
				binary.LittleEndian.PutUint32(b[format.HeaderSize-4:], format.CRC(b[:format.HeaderSize-4]))
			}
		}
		bad := filepath.Join(t.TempDir(), "bad.emb")
		os.WriteFile(bad, b, 0o644)
		if code, stdout, _ := runCmd(t, "verify", bad); code != cli.ExitFail || !strings.Contains(stdout, "FAIL "+damage.section) ||
			!strings.Contains(stdout, damage.want) {
			t.Fatalf("verify of a damaged %s: exit %d\n%s", damage.section, code, stdout)
		}
	}

	// A tokenizer this embpack cannot run; one with more ids than rows.
	for _, c := range []struct {
		rows int64
		tok  []byte
		want string
	}{
		{100, []byte(`{"model":{"type":"Unigram","vocab":[]}}`), "Unigram"},
		{100, gpt2Tokenizer(t), "the tokenizer has ids up to 50256; the table has 100 rows"},
	} {
		p := writeSectionsTable(t, c.rows, c.tok)
		code, stdout, _ := runCmd(t, "inspect", p)
		if code != 0 || !strings.Contains(stdout, "this embpack cannot use it") || !strings.Contains(stdout, c.want) {
			t.Fatalf("inspect: exit %d\n%s", code, stdout)
		}
		code, stdout, _ = runCmd(t, "verify", p)
		if code != cli.ExitFail || !strings.Contains(stdout, "FAIL tokenizer loads") || !strings.Contains(stdout, c.want) {
			t.Fatalf("verify: exit %d\n%s", code, stdout)
		}
	}
}
