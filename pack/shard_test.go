package pack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/shardmeta"
	"github.com/embstore/embstore/store"
)

// writeTable writes a table of random rows with layout l and metadata md
// (nil for none), with NaNs of odd payloads in f16 tables, which a decode
// and re-encode would not keep.
func writeTable(t *testing.T, path string, l format.Layout, md []byte, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	fw, err := format.Create(path, l)
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Abort()
	vals := make([]float32, l.Rows*int64(l.Dim))
	for i := range vals {
		vals[i] = float32(rng.NormFloat64())
	}
	if err := fw.WriteTokens(vals); err != nil {
		t.Fatal(err)
	}
	if l.Positions > 0 {
		pos := make([]float32, l.Positions*int64(l.Dim))
		for i := range pos {
			pos[i] = float32(rng.NormFloat64())
		}
		pos[0] = math.Float32frombits(0x7fc00123) // a NaN with a payload
		if err := fw.WritePositions(pos); err != nil {
			t.Fatal(err)
		}
	}
	if md != nil {
		if err := fw.SetMetadata(md); err != nil {
			t.Fatal(err)
		}
	}
	if err := fw.Commit(); err != nil {
		t.Fatal(err)
	}
}

// rawSection reads the bytes of section k of a table file.
func rawSection(t *testing.T, path string, k format.SectionKind) []byte {
	t.Helper()
	f, err := format.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, ok := f.Section(k)
	if !ok {
		return nil
	}
	b := make([]byte, s.Length)
	if _, err := f.SectionReader(s).ReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestShardUnshardBitForBit(t *testing.T) {
	cases := []struct {
		name   string
		layout format.Layout
		md     []byte
		shards int
	}{
		{"f32 positions", format.Layout{Rows: 1001, Dim: 24, Positions: 7}, []byte(`{"creator":"test","source":"seed"}`), 3},
		{"f16 conventions", format.Layout{Rows: 500, Dim: 33, DType: format.F16, Positions: 9, PositionOffset: 2,
			TokenScale: 5.5, ComputeDType: format.BF16}, []byte("\n\t {\"a\": [1, 2.50, \"<é>\"],\n \"b\":{}} \r\n"), 4},
		{"bf16 no metadata", format.Layout{Rows: 64, Dim: 8, DType: format.BF16}, nil, 64},
		{"int8 alignment 64", format.Layout{Rows: 777, Dim: 13, DType: format.Int8, Positions: 3, Alignment: 64},
			[]byte(`{"x":"\u2028 \ud83d\ude00"}`), 2},
		{"one shard", format.Layout{Rows: 10, Dim: 4, Positions: 2}, []byte(`{}`), 1},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "tab.emb")
			writeTable(t, src, c.layout, c.md, uint64(i))
			out := filepath.Join(dir, "shards")
			m, err := Shard(ctx, src, out, ShardSpec{Shards: c.shards, Version: 3}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if m.Table != "tab" || m.Version != 3 || len(m.Shards) != c.shards || m.Rows != c.layout.Rows {
				t.Fatalf("manifest %+v", m)
			}
			orig, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			tokens := rawSection(t, src, format.SectionTokens)
			stride := int64(len(tokens)) / c.layout.Rows
			sizes := map[int64]bool{}
			for _, s := range m.Shards {
				path := filepath.Join(out, s.File)
				// Every shard is an ordinary table: store opens and
				// verifies it, and its rows are the range's.
				tab, err := store.Open(path, &store.Options{Verify: true})
				if err != nil {
					t.Fatal(err)
				}
				doc, err := shardmeta.Parse(tab.Metadata())
				tab.Close()
				if err != nil {
					t.Fatal(err)
				}
				want := shardmeta.Info{Table: "tab", Version: 3, Index: s.Index, Count: c.shards, RowStart: s.RowStart, RowEnd: s.RowEnd, RowsTotal: c.layout.Rows}
				if doc.Info != want {
					t.Errorf("shard %d: metadata %+v, want %+v", s.Index, doc.Info, want)
				}
				if !bytes.Equal(doc.Original.Metadata, c.md) {
					t.Errorf("shard %d: original metadata %q, want %q", s.Index, doc.Original.Metadata, c.md)
				}
				if got := rawSection(t, path, format.SectionTokens); !bytes.Equal(got, tokens[s.RowStart*stride:s.RowEnd*stride]) {
					t.Errorf("shard %d: token bytes differ from rows [%d, %d) of the source", s.Index, s.RowStart, s.RowEnd)
				}
				if got, want := rawSection(t, path, format.SectionPositions), rawSection(t, src, format.SectionPositions); !bytes.Equal(got, want) {
					t.Errorf("shard %d: positional table differs", s.Index)
				}
				sizes[s.RowEnd-s.RowStart] = true
			}
			if len(sizes) > 2 {
				t.Errorf("shard sizes %v: want them within one row", sizes)
			}
			checks, err := VerifyShards(ctx, out)
			if err != nil || len(checks) != c.shards {
				t.Fatalf("verify: %v (%d checks)", err, len(checks))
			}
			back := filepath.Join(dir, "back.emb")
			if err := Unshard(ctx, out, back, nil); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(back)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, orig) {
				t.Fatalf("unshard gave %d bytes differing from the %d-byte original", len(got), len(orig))
			}
		})
	}
}

func TestShardRanges(t *testing.T) {
	for _, rows := range []int64{1, 2, 7, 100, 1001} {
		for count := 1; int64(count) <= min(rows, 12); count++ {
			next := int64(0)
			for i := range count {
				s, e := shardmeta.Range(i, count, rows)
				if s != next || e-s < rows/int64(count) || e-s > rows/int64(count)+1 {
					t.Fatalf("rows %d, shard %d of %d: [%d, %d)", rows, i, count, s, e)
				}
				next = e
			}
			if next != rows {
				t.Fatalf("rows %d in %d shards end at %d", rows, count, next)
			}
		}
	}
}

// shardSet makes a table and a 3-shard directory of it.
func shardSet(t *testing.T) (dir, src, out string, m *Manifest) {
	t.Helper()
	dir = t.TempDir()
	src = filepath.Join(dir, "t.emb")
	writeTable(t, src, format.Layout{Rows: 300, Dim: 16, Positions: 4}, []byte(`{"k":1}`), 9)
	out = filepath.Join(dir, "s")
	m, err := Shard(ctx, src, out, ShardSpec{Name: "emb", Shards: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return dir, src, out, m
}

func TestShardRefusals(t *testing.T) {
	dir, src, out, m := shardSet(t)
	for _, c := range []struct {
		spec ShardSpec
		want string
	}{
		{ShardSpec{Shards: 0}, "ShardSpec.Shards 0"},
		{ShardSpec{Shards: 301}, "ShardSpec.Shards 301"},
		{ShardSpec{Shards: 2, Name: "a/b"}, "ShardSpec.Name"},
		{ShardSpec{Shards: 2, Name: ".x"}, "ShardSpec.Name"},
	} {
		if _, err := Shard(ctx, src, filepath.Join(dir, "x"), c.spec, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error with %q", c.spec, err, c.want)
		}
	}
	// A shard is not split again.
	if _, err := Shard(ctx, filepath.Join(out, m.Shards[0].File), filepath.Join(dir, "y"), ShardSpec{Shards: 2}, nil); err == nil || !strings.Contains(err.Error(), "already shard 0 of 3") {
		t.Errorf("sharding a shard: %v", err)
	}
	// Metadata too large to embed in the shards' own.
	big := filepath.Join(dir, "big.emb")
	writeTable(t, big, format.Layout{Rows: 4, Dim: 4}, []byte(`{"pad":"`+strings.Repeat("x", format.MaxMetadataSize-20)+`"}`), 1)
	if _, err := Shard(ctx, big, filepath.Join(dir, "z"), ShardSpec{Shards: 2}, nil); err == nil || !strings.Contains(err.Error(), "original's") {
		t.Errorf("oversized metadata: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "z", "big-v1-00000-of-00002.emb")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed split left a shard behind: %v", err)
	}
}

// copyDir copies the regular files of src to a new directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	es, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func TestVerifyAndUnshardCatchDamage(t *testing.T) {
	dir, _, out, m := shardSet(t)
	other := filepath.Join(dir, "other.emb")
	writeTable(t, other, format.Layout{Rows: 300, Dim: 16, Positions: 4}, []byte(`{"k":1}`), 10)
	otherOut := filepath.Join(dir, "o")
	if _, err := Shard(ctx, other, otherOut, ShardSpec{Name: "emb", Shards: 3}, nil); err != nil {
		t.Fatal(err)
	}
	f1 := m.Shards[1].File
	damage := []struct {
		name  string
		apply func(t *testing.T, d string)
		want  string
	}{
		{"missing shard", func(t *testing.T, d string) { os.Remove(filepath.Join(d, f1)) }, "no such file"},
		{"flipped row bit", func(t *testing.T, d string) {
			p := filepath.Join(d, f1)
			b, _ := os.ReadFile(p)
			b[format.HeaderSize+100] ^= 1
			os.WriteFile(p, b, 0o644)
		}, "checksum"},
		{"shard of another table", func(t *testing.T, d string) {
			b, _ := os.ReadFile(filepath.Join(otherOut, f1))
			os.WriteFile(filepath.Join(d, f1), b, 0o644)
		}, "manifest says"},
		{"manifest gap", func(t *testing.T, d string) {
			mm := *m
			mm.Shards = append([]ManifestShard(nil), m.Shards...)
			mm.Shards[1].RowStart++
			b, _ := json.Marshal(mm)
			os.WriteFile(filepath.Join(d, ManifestName), b, 0o644)
		}, "starting at row"},
		{"manifest path escape", func(t *testing.T, d string) {
			mm := *m
			mm.Shards = append([]ManifestShard(nil), m.Shards...)
			mm.Shards[0].File = "../t.emb"
			b, _ := json.Marshal(mm)
			os.WriteFile(filepath.Join(d, ManifestName), b, 0o644)
		}, "not a name in the directory"},
	}
	for _, c := range damage {
		t.Run(c.name, func(t *testing.T) {
			d := copyDir(t, out)
			c.apply(t, d)
			if _, err := VerifyShards(ctx, d); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("verify: %v, want an error with %q", err, c.want)
			}
			back := filepath.Join(t.TempDir(), "back.emb")
			err := Unshard(ctx, d, back, nil)
			if err == nil {
				t.Fatal("unshard joined a damaged set")
			}
			if c.name == "flipped row bit" && !strings.Contains(err.Error(), "would differ from the original") {
				t.Errorf("unshard: %v", err)
			}
			if _, err := os.Stat(back); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a refused unshard left %s: %v", back, err)
			}
		})
	}
}

var ctx = context.Background()
