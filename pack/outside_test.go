package pack_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// outsideProgram is a program of another module that makes tables and
// reads them with this module's public packages only (a module cannot
// import another's internal packages: it would not compile): it seeds a
// table, exports it to safetensors, imports that back, converts it to f16,
// maps the result and looks rows up.
const outsideProgram = `package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/pack"
	"github.com/embstore/embstore/store"
)

func main() {
	dir, err := os.MkdirTemp("", "outside")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	o := &pack.Options{Creator: "outside 1.0"}
	seeded := filepath.Join(dir, "seeded.emb")
	if err := pack.Seed(ctx, seeded, pack.SeedSpec{Rows: 10, Dim: 4, Seed: 123, Positions: 3}, o); err != nil {
		log.Fatal(err)
	}
	st := filepath.Join(dir, "model.safetensors")
	if _, err := pack.Export(ctx, st, seeded, format.F32, o); err != nil {
		log.Fatal(err)
	}
	imported := filepath.Join(dir, "imported.emb")
	if _, err := pack.Import(ctx, imported, pack.ImportSpec{Src: st}, o); err != nil {
		log.Fatal(err)
	}
	converted := filepath.Join(dir, "f16.emb")
	if _, err := pack.Convert(ctx, converted, imported, format.F16, o); err != nil {
		log.Fatal(err)
	}
	for _, path := range []string{imported, converted} {
		t, err := store.Open(path, nil)
		if err != nil {
			log.Fatal(err)
		}
		out := make([]float32, 4)
		if err := t.LookupPositions(out, []int64{2}, 1, 1); err != nil {
			log.Fatal(err)
		}
		p, err := pack.ReadProvenance(t.Metadata())
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s %s %s %.4f\n", t.Header().DType, p.Source, p.Creator, out)
		t.Close()
	}
}
`

// TestOutsideModule builds and runs outsideProgram as a module of its own
// that requires this one (replaced by this checkout), offline: the proof
// that a Go program outside the module can seed, import, convert, export,
// open and look up using only public packages.
func TestOutsideModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program: not in -short")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	goMod := "module example.com/outside\n\ngo 1.26\n\nrequire github.com/embstore/embstore v0.0.0\n\n" +
		"replace github.com/embstore/embstore => " + root + "\n"
	for name, content := range map[string][]byte{"go.mod": []byte(goMod), "go.sum": sum, "main.go": []byte(outsideProgram)} {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(goBin, "run", ".")
	cmd.Dir = dir
	// Offline: modules come from the module cache this module was built
	// with; -mod=mod lets go record the indirect requirements.
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off", "GOSUMDB=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go run of a module outside this one: %v\n%s", err, out)
	}
	// Token row 2 plus positional row 1 of torch.manual_seed(123);
	// nn.Embedding(10, 4); nn.Embedding(3, 4), as torch computes them:
	// w[2] + p[1], and w[2].half().float() + p[1] (checked with torch
	// 1.13).
	want := "f32 safetensors outside 1.0 [0.4564 -0.9868 1.6641 -0.7040]\n" +
		"f16 convert outside 1.0 [0.4563 -0.9867 1.6640 -0.7044]\n"
	if string(out) != want {
		t.Errorf("the outside program printed\n%s\nwant\n%s", out, want)
	}
}
