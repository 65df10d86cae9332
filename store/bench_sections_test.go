package store

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/embstore/embstore/format"
)

// benchWords returns n distinct words of 3 to 14 bytes, like a word-vector
// vocabulary's.
func benchWords(n int) []string {
	rng := rand.New(rand.NewPCG(5, 6))
	w := make([]string, n)
	for i := range w {
		w[i] = fmt.Sprintf("%s%d", "abcdefghijkl"[:rng.IntN(8)], i)
	}
	return w
}

// benchSectionsTable writes a 2,000,000 x 16 f32 table (a word-vector
// vocabulary's size) with the given optional sections.
func benchSectionsTable(b *testing.B, dir, name string, l format.Layout, strs []string) string {
	b.Helper()
	path := filepath.Join(dir, name)
	fw, err := format.Create(path, l)
	if err != nil {
		b.Fatal(err)
	}
	defer fw.Abort()
	rows := make([]float32, 4096*l.Dim)
	for i := range rows {
		rows[i] = float32(i%101) * 0.01
	}
	for r := 0; r < int(l.Rows); r += 4096 {
		n := min(4096, int(l.Rows)-r)
		if err := fw.WriteTokens(rows[:n*l.Dim]); err != nil {
			b.Fatal(err)
		}
	}
	for _, s := range strs {
		if err := fw.WriteStrings([]byte(s)); err != nil {
			b.Fatal(err)
		}
	}
	if err := fw.Commit(); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkVocabulary measures, on tables of 2,000,000 rows: Open and
// Close with a 2,000,000-string vocabulary beside the same table without
// one (both O(header)); string -> id lookups, found and missing, and id ->
// string; and Verify of the tables, without optional sections, with the
// vocabulary, and with norms.
func BenchmarkVocabulary(b *testing.B) {
	const rows = 2_000_000
	dir := b.TempDir()
	strs := benchWords(rows)
	base := format.Layout{Rows: rows, Dim: 16}
	withVocab := base
	withVocab.Vocabulary = true
	withNorms := base
	withNorms.Norms = true
	plainPath := benchSectionsTable(b, dir, "plain.emb", base, nil)
	vocabPath := benchSectionsTable(b, dir, "vocab.emb", withVocab, strs)
	normsPath := benchSectionsTable(b, dir, "norms.emb", withNorms, nil)

	for _, c := range []struct{ name, path string }{{"none", plainPath}, {"vocabulary", vocabPath}} {
		b.Run("open/"+c.name, func(b *testing.B) {
			for b.Loop() {
				tab, err := Open(c.path, nil)
				if err != nil {
					b.Fatal(err)
				}
				tab.Close()
			}
		})
	}

	tab, err := Open(vocabPath, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tab.Close()
	v, err := tab.Vocabulary()
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	ring := make([]string, 1<<16)
	miss := make([]string, len(ring))
	for i := range ring {
		ring[i] = strs[rng.IntN(rows)]
		miss[i] = ring[i] + "x"
	}
	b.Run("ID/found", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := v.ID(ring[i&(len(ring)-1)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("ID/missing", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := v.ID(miss[i&(len(miss)-1)]); err != ErrNotInVocabulary {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("AppendString", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 64)
		i := 0
		for b.Loop() {
			if _, err := v.AppendString(buf[:0], int64(rng.IntN(rows))); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})

	for _, c := range []struct{ name, path string }{{"none", plainPath}, {"vocabulary", vocabPath}, {"norms", normsPath}} {
		b.Run("verify/"+c.name, func(b *testing.B) {
			for b.Loop() {
				f, err := format.Open(c.path)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := f.Verify(); err != nil {
					b.Fatal(err)
				}
				f.Close()
			}
		})
	}
}
