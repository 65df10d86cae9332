package pack

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/safetensors"
)

// seedTable writes a seeded table of rows x dim with a 7-row positional
// table, for the tests.
func seedTable(t *testing.T, path string, rows int64, dim int) {
	t.Helper()
	if err := Seed(ctx, path, SeedSpec{Rows: rows, Dim: dim, Seed: 5, Positions: 7}, nil); err != nil {
		t.Fatal(err)
	}
}

// onlyFiles fails t unless dir holds exactly the named files: no table
// where a cancelled call would have written one, no temporary file.
func onlyFiles(t *testing.T, what, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, " ") != strings.Join(names, " ") {
		t.Errorf("%s: the directory holds %q; want %q", what, got, names)
	}
}

// TestCancelRemovesTemporaryFile cancels every writing function of the
// package after its first chunk of rows: each must return the context's
// error and leave nothing behind, neither the destination nor its
// temporary file.
func TestCancelRemovesTemporaryFile(t *testing.T) {
	in := t.TempDir()
	src := filepath.Join(in, "src.emb")
	seedTable(t, src, 3000, 256) // 3 MB of f32: three chunks
	st := filepath.Join(in, "src.safetensors")
	if _, err := Export(ctx, st, src, 0, nil); err != nil {
		t.Fatal(err)
	}
	shards := filepath.Join(in, "shards")
	if _, err := Shard(ctx, src, shards, ShardSpec{Shards: 2}, nil); err != nil {
		t.Fatal(err)
	}
	calls := map[string]func(ctx context.Context, dir string, o *Options) error{
		"Seed": func(ctx context.Context, dir string, o *Options) error {
			return Seed(ctx, filepath.Join(dir, "t.emb"), SeedSpec{Rows: 3000, Dim: 256, Seed: 1}, o)
		},
		"Import": func(ctx context.Context, dir string, o *Options) error {
			_, err := Import(ctx, filepath.Join(dir, "t.emb"), ImportSpec{Src: st}, o)
			return err
		},
		"Convert": func(ctx context.Context, dir string, o *Options) error {
			_, err := Convert(ctx, filepath.Join(dir, "t.emb"), src, format.BF16, o)
			return err
		},
		"Export": func(ctx context.Context, dir string, o *Options) error {
			_, err := Export(ctx, filepath.Join(dir, "t.safetensors"), src, format.F16, o)
			return err
		},
		"Shard": func(ctx context.Context, dir string, o *Options) error {
			_, err := Shard(ctx, src, filepath.Join(dir, "s"), ShardSpec{Shards: 2}, o)
			return err
		},
		"Unshard": func(ctx context.Context, dir string, o *Options) error {
			return Unshard(ctx, shards, filepath.Join(dir, "t.emb"), o)
		},
	}
	for name, call := range calls {
		out := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		reports := 0
		err := call(ctx, out, &Options{Progress: func(done, total int64) {
			reports++
			cancel()
		}})
		cancel()
		if !errors.Is(err, context.Canceled) || reports != 1 {
			t.Errorf("%s cancelled after its first chunk: %v after %d progress reports; want context.Canceled after 1", name, err, reports)
		}
		if name == "Shard" {
			onlyFiles(t, name, out, "s")
			onlyFiles(t, name, filepath.Join(out, "s"))
		} else {
			onlyFiles(t, name, out)
		}
		// Cancelled before it starts: the same, with no progress at all.
		ctx, cancel = context.WithCancel(context.Background())
		cancel()
		if err := call(ctx, t.TempDir(), nil); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: %v", name, err)
		}
	}
}

// TestProgressAndCreator checks the progress reports (increasing, ending
// at the total of token and positional rows) and the creator recorded.
func TestProgressAndCreator(t *testing.T) {
	dir := t.TempDir()
	var last, total, n int64
	o := &Options{Creator: "mytool 2.0", Progress: func(done, tot int64) {
		if done <= last || (total != 0 && tot != total) {
			t.Errorf("progress %d of %d after %d of %d", done, tot, last, total)
		}
		last, total, n = done, tot, n+1
	}}
	path := filepath.Join(dir, "t.emb")
	if err := Seed(ctx, path, SeedSpec{Rows: 3000, Dim: 200, Seed: 9, Positions: 10}, o); err != nil {
		t.Fatal(err)
	}
	if last != 3010 || total != 3010 || n < 3 {
		t.Errorf("progress ended at %d of %d after %d reports; want 3010 of 3010, in chunks", last, total, n)
	}
	for _, c := range []struct {
		path, creator string
		o             *Options
	}{{path, "mytool 2.0", o}, {filepath.Join(dir, "d.emb"), DefaultCreator, nil}} {
		if c.o == nil {
			seedTable(t, c.path, 10, 4)
		}
		f, err := format.Open(c.path)
		if err != nil {
			t.Fatal(err)
		}
		p, err := ReadProvenance(f.Metadata())
		f.Close()
		if err != nil || p.Creator != c.creator || p.Source != "seed" || p.Seed == nil {
			t.Errorf("%s: provenance %+v, %v; want creator %q", c.path, p, err, c.creator)
		}
	}
}

// TestTypedErrors checks that each kind of failure comes back as the
// error type the package documents, with no command-line flag in it.
func TestTypedErrors(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.emb")
	seedTable(t, src, 20, 8)
	st := filepath.Join(dir, "src.safetensors")
	if _, err := Export(ctx, st, src, 0, nil); err != nil {
		t.Fatal(err)
	}
	cube := filepath.Join(dir, "cube.safetensors")
	if err := safetensors.WriteFile(cube, nil, []safetensors.WriteTensor{{Name: "embeddings", DType: safetensors.F32, Shape: []int64{2, 3, 4},
		Data: func(w io.Writer) error { _, err := w.Write(make([]byte, 96)); return err }}}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.emb")
	spec := func(field string) func(error) bool {
		return func(err error) bool {
			var se *SpecError
			return errors.As(err, &se) && se.Field == field
		}
	}
	convention := func(err error) bool {
		var ce *ConventionError
		return errors.As(err, &ce) && ce.Convention == "position offset"
	}
	choice := func(err error) bool {
		var ce *ChoiceError
		return errors.As(err, &ce) && errors.Is(err, ErrNoTable) && ce.Table == "token"
	}
	for _, c := range []struct {
		name string
		err  error
		is   func(error) bool
	}{
		{"rows", Seed(ctx, out, SeedSpec{Rows: 0, Dim: 4}, nil), spec("SeedSpec.Rows")},
		{"dim", Seed(ctx, out, SeedSpec{Rows: 1, Dim: format.MaxDim + 1}, nil), spec("SeedSpec.Dim")},
		{"std", Seed(ctx, out, SeedSpec{Rows: 1, Dim: 4, Init: Init{Kind: InitNormal, Std: -1}}, nil), spec("SeedSpec.Init")},
		{"uniform", Seed(ctx, out, SeedSpec{Rows: 1, Dim: 4, Init: Init{Kind: InitUniform, Low: 2, High: 1}}, nil), spec("SeedSpec.Init")},
		{"math", Seed(ctx, out, SeedSpec{Rows: 1, Dim: 4, Math: 7}, nil), spec("SeedSpec.Math")},
		{"seed dtype", Seed(ctx, out, SeedSpec{Rows: 1, Dim: 4, DType: 9}, nil), spec("SeedSpec.DType")},
		{"convert dtype", one(Convert(ctx, out, src, 0, nil)), spec("dtype")},
		{"export int8", one(Export(ctx, filepath.Join(dir, "x.safetensors"), src, format.Int8, nil)), spec("dtype")},
		{"shard count", one(Shard(ctx, src, filepath.Join(dir, "s"), ShardSpec{Shards: 21}, nil)), spec("ShardSpec.Shards")},
		{"no tensor", one(Import(ctx, out, ImportSpec{Src: st, Tensor: "nope"}, nil)), choice},
		{"not 2-D", one(Import(ctx, out, ImportSpec{Src: cube, Tensor: "embeddings"}, nil)), func(err error) bool { return spec("ImportSpec.Shape")(err) && errors.Is(err, ErrNotMatrix) }},
		{"bad shape", one(Import(ctx, out, ImportSpec{Src: cube, Tensor: "embeddings", Shape: [2]int64{5, 5}}, nil)), spec("ImportSpec.Shape")},
		{"offset", one(Import(ctx, out, ImportSpec{Src: st, PositionOffset: new(int64(7))}, nil)), convention},
		{"compute", one(Import(ctx, out, ImportSpec{Src: st, ComputeDType: new(format.Int8)}, nil)), spec("ImportSpec.ComputeDType")},
		{"contradiction", one(Import(ctx, out, ImportSpec{Src: st, PositionsTensor: "x", NoPositions: true}, nil)), spec("ImportSpec.PositionsTensor")},
		{"same file", one(Convert(ctx, src, src, format.F16, nil)), func(err error) bool { return errors.Is(err, format.ErrSameFile) }},
		{"exists", Seed(ctx, src, SeedSpec{Rows: 1, Dim: 4}, &Options{NoReplace: true}), func(err error) bool { return errors.Is(err, os.ErrExist) }},
	} {
		if c.err == nil || !c.is(c.err) {
			t.Errorf("%s: %v (%T)", c.name, c.err, c.err)
			continue
		}
		if strings.Contains(c.err.Error(), "--") {
			t.Errorf("%s: %q names a flag", c.name, c.err)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a failed call left %s", out)
	}
}

// one drops the first result of a call that returns a value and an error.
func one[T any](_ T, err error) error { return err }

// TestImportGivenBy checks the source recorded for conventions given in
// the spec: the field's name, or GivenBy's.
func TestImportGivenBy(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.emb")
	seedTable(t, src, 20, 8)
	st := filepath.Join(dir, "src.safetensors")
	if _, err := Export(ctx, st, src, 0, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		by   GivenBy
		want string
	}{{GivenBy{}, "ImportSpec.Scale"}, {GivenBy{Scale: "--scale"}, "--scale"}} {
		out := filepath.Join(dir, "t.emb")
		info, err := Import(ctx, out, ImportSpec{Src: st, Scale: new(2.5), GivenBy: c.by}, nil)
		if err != nil {
			t.Fatal(err)
		}
		f, err := format.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		var md struct {
			Import struct {
				Source string `json:"token_scale_source"`
			} `json:"import"`
		}
		json.Unmarshal(f.Metadata(), &md)
		f.Close()
		if info.ScaleReason != c.want || md.Import.Source != c.want || f.TokenScale != 2.5 {
			t.Errorf("GivenBy %+v: recorded %q and %q, scale %v; want %q", c.by, info.ScaleReason, md.Import.Source, f.TokenScale, c.want)
		}
	}
}
