package pack

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/shardmeta"
	"github.com/embstore/embstore/store"
)

// gpt2Table seeds a table for GPT-2's tokenizer (50257 rows) and converts
// it to f16 with a norms section: a table with a tokenizer, a vocabulary,
// norms, a positional table and the metadata's tokenizer and vocabulary
// keys. It returns its path.
func gpt2Table(t *testing.T, dir string) string {
	t.Helper()
	seeded := filepath.Join(dir, "seeded.emb")
	spec := SeedSpec{Rows: 50257, Dim: 8, Seed: 7, Positions: 16, Tokenizer: gpt2Dir(t, "tokenizer.json")}
	if err := Seed(ctx, seeded, spec, nil); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "gpt2.emb")
	if _, err := ConvertWith(ctx, src, seeded, ConvertSpec{DType: format.F16, Norms: NormsAdd}, nil); err != nil {
		t.Fatal(err)
	}
	return src
}

// wordTable writes a small int8 table with every 1.1 section a shard
// carries, by hand: strings with rows that have none (and bytes that are not
// UTF-8), norms, a tokenizer and metadata with the pooling, vocabulary and
// tokenizer keys.
func wordTable(t *testing.T, path string) {
	t.Helper()
	l := format.Layout{Rows: 7, Dim: 5, DType: format.Int8, Positions: 2, Vocabulary: true, Norms: true}
	fw, err := format.Create(path, l)
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Abort()
	vals := make([]float32, l.Rows*int64(l.Dim))
	for i := range vals {
		vals[i] = float32(i%11) - 5
	}
	if err := fw.WriteTokens(vals); err != nil {
		t.Fatal(err)
	}
	if err := fw.WritePositions(make([]float32, 2*l.Dim)); err != nil {
		t.Fatal(err)
	}
	if err := fw.WriteStrings([]byte("hello"), nil, []byte("world"), []byte{0xff, 'x'}, nil, []byte("a"), []byte("<|end|>")); err != nil {
		t.Fatal(err)
	}
	if err := fw.SetTokenizer([]byte(tinyTokenizer)); err != nil {
		t.Fatal(err)
	}
	md := `{"creator":"test","source":"seed","pooling":{"mode":"cls","normalize":true},"vocabulary":{"source":"tokenizer"},"tokenizer":{"source":"tokenizer.json","sha256":"00"}}`
	if err := fw.SetMetadata([]byte(md)); err != nil {
		t.Fatal(err)
	}
	if err := fw.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestShardSections splits tables with a tokenizer, a vocabulary and norms
// and checks every shard: its vocabulary gives its own ids to its range's
// strings and refuses the others, its norms are the range's, its tokenizer
// section is the table's byte for byte, its metadata keeps the pooling,
// vocabulary and tokenizer keys, it verifies; and the join is the original
// file, byte for byte.
func TestShardSections(t *testing.T) {
	dir := t.TempDir()
	words := filepath.Join(dir, "words.emb")
	wordTable(t, words)
	for _, c := range []struct {
		name   string
		src    string
		shards int
	}{
		{"gpt2", gpt2Table(t, dir), 3},
		{"words", words, 3},
		{"words one row a shard", words, 7},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "s")
			m, err := Shard(ctx, c.src, out, ShardSpec{Name: "tab", Shards: c.shards}, nil)
			if err != nil {
				t.Fatal(err)
			}
			whole := tableOf(t, c.src)
			wv, err := whole.Vocabulary()
			if err != nil {
				t.Fatal(err)
			}
			rows := whole.Header().Rows
			strs := make([]string, rows)
			for id := range rows {
				b, err := wv.AppendString(nil, id)
				if err != nil {
					t.Fatal(err)
				}
				strs[id] = string(b)
			}
			norms := make([]float32, rows)
			if err := whole.ReadNorms(norms, 0); err != nil {
				t.Fatal(err)
			}
			wholeProv, _ := provenanceOf(t, c.src)
			tokSec := rawSection(t, c.src, format.SectionTokenizer)
			for _, s := range m.Shards {
				path := filepath.Join(out, s.File)
				tab, err := store.Open(path, &store.Options{Verify: true})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { tab.Close() })
				v, err := tab.Vocabulary()
				if err != nil {
					t.Fatal(err)
				}
				for id, str := range strs {
					if str == "" {
						continue
					}
					got, err := v.ID(str)
					if mine := int64(id) >= s.RowStart && int64(id) < s.RowEnd; mine {
						if err != nil || got != int64(id)-s.RowStart {
							t.Fatalf("shard %d: %q (row %d) -> %d, %v; want %d", s.Index, str, id, got, err, int64(id)-s.RowStart)
						}
					} else if !errors.Is(err, store.ErrNotInVocabulary) {
						t.Fatalf("shard %d [%d, %d): %q of row %d -> %d, %v; want ErrNotInVocabulary", s.Index, s.RowStart, s.RowEnd, str, id, got, err)
					}
				}
				n := s.RowEnd - s.RowStart
				for i := range n {
					if b, err := v.AppendString(nil, i); err != nil || string(b) != strs[s.RowStart+i] {
						t.Fatalf("shard %d: row %d has string %q, %v; want %q", s.Index, i, b, err, strs[s.RowStart+i])
					}
				}
				got := make([]float32, n)
				if err := tab.ReadNorms(got, 0); err != nil {
					t.Fatal(err)
				}
				for i := range got {
					if got[i] != norms[s.RowStart+int64(i)] {
						t.Fatalf("shard %d: norm of row %d is %v; the table's row %d has %v", s.Index, i, got[i], s.RowStart+int64(i), norms[s.RowStart+int64(i)])
					}
				}
				if !bytes.Equal(rawSection(t, path, format.SectionTokenizer), tokSec) {
					t.Errorf("shard %d: the tokenizer section differs from the table's", s.Index)
				}
				if _, err := tab.Tokenizer(); err != nil {
					t.Errorf("shard %d: tokenizer: %v", s.Index, err)
				}
				p, _ := provenanceOf(t, path)
				if p.Source != shardmeta.Source || !jsonEqual(t, p.Pooling, wholeProv.Pooling) ||
					!jsonEqual(t, p.Vocabulary, wholeProv.Vocabulary) || !jsonEqual(t, p.Tokenizer, wholeProv.Tokenizer) {
					t.Errorf("shard %d: metadata %+v; the table's pooling %+v, vocabulary %+v, tokenizer %+v",
						s.Index, p, wholeProv.Pooling, wholeProv.Vocabulary, wholeProv.Tokenizer)
				}
			}
			if _, err := VerifyShards(ctx, out); err != nil {
				t.Fatal(err)
			}
			back := filepath.Join(t.TempDir(), "back.emb")
			if err := Unshard(ctx, out, back, nil); err != nil {
				t.Fatal(err)
			}
			a, _ := os.ReadFile(c.src)
			b, _ := os.ReadFile(back)
			if !bytes.Equal(a, b) {
				t.Fatalf("unshard gave %d bytes differing from the %d-byte original", len(b), len(a))
			}
		})
	}
}

// jsonEqual reports whether a and b encode to the same JSON.
func jsonEqual(t *testing.T, a, b any) bool {
	t.Helper()
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	return bytes.Equal(x, y)
}

// TestShardSectionDamage checks that shard --verify and unshard catch a
// damaged vocabulary, tokenizer or norms section of a shard, and a shard
// whose tokenizer is another's; and that Shard refuses a source whose norms
// are not its rows' norms.
func TestShardSectionDamage(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "words.emb")
	wordTable(t, src)
	out := filepath.Join(dir, "s")
	m, err := Shard(ctx, src, out, ShardSpec{Name: "tab", Shards: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(shard int, kind format.SectionKind, at func(s format.Section) int64) func(t *testing.T, d string) {
		return func(t *testing.T, d string) {
			p := filepath.Join(d, m.Shards[shard].File)
			f, err := format.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			s, _ := f.Section(kind)
			f.Close()
			b, _ := os.ReadFile(p)
			b[at(s)] ^= 0x10
			os.WriteFile(p, b, 0o644)
		}
	}
	lastByte := func(s format.Section) int64 { return s.End() - 1 }
	firstOffset := func(s format.Section) int64 { return s.Offset + format.VocabHeaderSize + 8 }
	inStream := func(s format.Section) int64 { return s.Offset + format.TokenizerHeader + 3 }
	secondNorm := func(s format.Section) int64 { return s.Offset + 5 }
	for _, c := range []struct {
		name  string
		apply func(t *testing.T, d string)
		// joins: the join does not read the damaged bytes (shard 1's
		// tokenizer, which is shard 0's; norms, which the writer computes
		// from the rows) and gives the original, as its header check
		// proves; verify still fails.
		joins bool
	}{
		{"vocabulary string byte", flip(1, format.SectionVocabulary, lastByte), false},
		{"vocabulary offset", flip(1, format.SectionVocabulary, firstOffset), false},
		{"shard 0 tokenizer", flip(0, format.SectionTokenizer, inStream), false},
		{"shard 1 tokenizer", flip(1, format.SectionTokenizer, inStream), true},
		{"norm", flip(1, format.SectionNorms, secondNorm), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := copyDir(t, out)
			c.apply(t, d)
			if _, err := VerifyShards(ctx, d); err == nil || !strings.Contains(err.Error(), "checksum") {
				t.Errorf("verify of a damaged shard: %v", err)
			}
			back := filepath.Join(t.TempDir(), "back.emb")
			err := Unshard(ctx, d, back, nil)
			if c.joins {
				a, _ := os.ReadFile(src)
				b, _ := os.ReadFile(back)
				if err != nil || !bytes.Equal(a, b) {
					t.Errorf("unshard: %v; the join is the original: %v", err, bytes.Equal(a, b))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "shard") {
				t.Errorf("unshard of a damaged shard: %v", err)
			}
			t.Log(err)
			if _, err := os.Stat(back); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a refused unshard left %s", back)
			}
		})
	}

	// A source whose norms section does not hold its rows' norms (its
	// checksum left as it was: Shard does not verify the source) is refused,
	// and nothing is left.
	bad := filepath.Join(dir, "bad.emb")
	b, _ := os.ReadFile(src)
	f, _ := format.Open(src)
	s, _ := f.Section(format.SectionNorms)
	f.Close()
	b[s.Offset+4*5+1] ^= 1 // row 5's norm: shard 1's
	os.WriteFile(bad, b, 0o644)
	badOut := filepath.Join(dir, "bad")
	if _, err := Shard(ctx, bad, badOut, ShardSpec{Shards: 2}, nil); err == nil || !bytes.Contains([]byte(err.Error()), []byte("does not hold the norms of rows [4, 7)")) {
		t.Errorf("wrong norms: %v", err)
	}
	leftNothing(t, badOut)
}

// TestShardRefusesSubwords checks that a table with fastText subwords is
// refused with an *UnsplittableError wrapping ErrSubwordsNotSharded, and
// that nothing is written.
func TestShardRefusesSubwords(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "wv.emb")
	fw, err := format.Create(src, format.Layout{Rows: 3, Dim: 4, Vocabulary: true, Subwords: 5, SubwordMinN: 3, SubwordMaxN: 6})
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Abort()
	if err := fw.WriteTokens(make([]float32, 12)); err != nil {
		t.Fatal(err)
	}
	if err := fw.WriteSubwords(make([]float32, 20)); err != nil {
		t.Fatal(err)
	}
	if err := fw.WriteStrings([]byte("a"), []byte("b"), []byte("c")); err != nil {
		t.Fatal(err)
	}
	if err := fw.Commit(); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "s")
	_, err = Shard(ctx, src, out, ShardSpec{Shards: 2}, nil)
	var ue *UnsplittableError
	if !errors.As(err, &ue) || ue.Section != format.SectionSubwords || !errors.Is(err, ErrSubwordsNotSharded) {
		t.Fatalf("Shard of a table with subwords: %v", err)
	}
	t.Log(err)
	leftNothing(t, out)
}

// leftNothing fails t if dir exists and holds anything.
func leftNothing(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	if len(entries) > 0 {
		t.Errorf("a refused split left %d files in %s", len(entries), dir)
	}
}

// TestConvertShardWithTokenizer checks that converting a shard that has a
// tokenizer is refused (the copy is not a shard, so the table's token ids
// would not fit its rows), as is giving one a tokenizer, and that dropping
// the tokenizer is allowed.
func TestConvertShardWithTokenizer(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "words.emb")
	wordTable(t, src)
	m, err := Shard(ctx, src, filepath.Join(dir, "s"), ShardSpec{Name: "tab", Shards: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	shard := filepath.Join(dir, "s", m.Shards[1].File)
	out := t.TempDir()
	writeFiles(t, dir, map[string][]byte{"tok.json": []byte(tinyTokenizer)})
	for _, spec := range []ConvertSpec{{DType: format.F16}, {Tokenizer: filepath.Join(dir, "tok.json")}} {
		_, err := ConvertWith(ctx, filepath.Join(out, "c.emb"), shard, spec, nil)
		if err == nil || !strings.Contains(err.Error(), "is shard 1 of 2 of table tab with a tokenizer") {
			t.Errorf("%+v: %v", spec, err)
		}
	}
	leftNothing(t, out)
	if _, err := ConvertWith(ctx, filepath.Join(out, "c.emb"), shard, ConvertSpec{NoTokenizer: true}, nil); err != nil {
		t.Fatal(err)
	}
}
