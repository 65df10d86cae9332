package main

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/cli"
	"github.com/embstore/embstore/kernel"
	"github.com/embstore/embstore/store"
)

const smallDir = "../../testdata/safetensors/small"

// smallExpected is testdata/safetensors/small/expected.json: for each model,
// ids and the float32 input embeddings transformers computes for them as one
// sequence; for mixed-small, every tensor's values after torch's .float().
type smallExpected map[string]json.RawMessage

type modelCase struct {
	IDs            []int64   `json:"ids"`
	Token          string    `json:"token"`
	Positions      string    `json:"positions"`
	PositionOffset int64     `json:"position_offset"`
	Expected       []float64 `json:"expected"`
}

func loadSmall(t *testing.T) smallExpected {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(smallDir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e smallExpected
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

// inputEmbeddings looks ids up as one sequence (with positions when the
// table has them), as the model's embedding layer would.
func inputEmbeddings(t *testing.T, path string, ids []int64) []float32 {
	t.Helper()
	tab, err := store.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	out := make([]float32, len(ids)*tab.Header().Dim)
	if tab.Header().Positions() > 0 {
		err = tab.LookupPositions(out, ids, len(ids), 0)
	} else {
		err = tab.Lookup(out, ids)
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestImportRealCheckpoints imports every real checkpoint with its tables
// found automatically and checks the model's input embeddings bit for bit.
func TestImportRealCheckpoints(t *testing.T) {
	exp := loadSmall(t)
	for _, model := range []string{"gpt2-small", "bert-small", "llama-small-sharded", "opt-small"} {
		var c modelCase
		if err := json.Unmarshal(exp[model], &c); err != nil {
			t.Fatal(err)
		}
		for _, src := range []string{
			filepath.Join(smallDir, model),
			filepath.Join(smallDir, model, map[bool]string{true: "model.safetensors.index.json", false: "model.safetensors"}[strings.Contains(model, "sharded")]),
		} {
			out := filepath.Join(t.TempDir(), model+".emb")
			code, _, stderr := runCmd(t, "import", src, "-o", out)
			if code != 0 {
				t.Fatalf("import %s: %s", src, stderr)
			}
			got := inputEmbeddings(t, out, c.IDs)
			if len(got) != len(c.Expected) {
				t.Fatalf("%s: %d values, want %d", model, len(got), len(c.Expected))
			}
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(float32(c.Expected[i])) {
					t.Fatalf("%s: value %d = %v, transformers %v", model, i, got[i], c.Expected[i])
				}
			}
			f, err := format.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			var md struct {
				Import struct {
					Tensor, PositionsTensor string
					Files                   []struct{ Name, SHA256 string }
					PositionOffset          int64 `json:"position_offset"`
				}
			}
			json.Unmarshal(f.Metadata(), &md)
			f.Close()
			md.Import.PositionsTensor = jsonField(t, out, "positions_tensor")
			if md.Import.Tensor != c.Token || md.Import.PositionsTensor != c.Positions || md.Import.PositionOffset != c.PositionOffset {
				t.Fatalf("%s: provenance %+v, want tensor %s, positions %s, offset %d", model, md.Import, c.Token, c.Positions, c.PositionOffset)
			}
			if len(md.Import.Files) == 0 || len(md.Import.Files[0].SHA256) != 64 {
				t.Fatalf("%s: source files not recorded: %+v", model, md.Import.Files)
			}
		}
	}
}

// jsonField returns the string field key of the table's import metadata.
func jsonField(t *testing.T, path, key string) string {
	t.Helper()
	f, err := format.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var md struct{ Import map[string]any }
	json.Unmarshal(f.Metadata(), &md)
	s, _ := md.Import[key].(string)
	return s
}

// TestImportEveryDType imports each 2-D float tensor of mixed-small and
// compares with torch's .float(); every other tensor is refused with a
// message saying why.
func TestImportEveryDType(t *testing.T) {
	var mixed map[string]struct {
		Shape []int64    `json:"shape"`
		AsF32 []*float64 `json:"as_f32"`
	}
	if err := json.Unmarshal(loadSmall(t)["mixed-small"], &mixed); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(smallDir, "mixed-small.safetensors")
	for name, want := range mixed {
		out := filepath.Join(t.TempDir(), name+".emb")
		args := []string{"import", src, "--tensor", name, "-o", out, "-q"}
		code, _, stderr := runCmd(t, args...)
		switch name {
		case "f32", "f16", "bf16", "f64", "f8_e4m3", "f8_e5m2":
			if code != 0 {
				t.Fatalf("%s: %s", name, stderr)
			}
			ids := make([]int64, want.Shape[0])
			for i := range ids {
				ids[i] = int64(i)
			}
			got := inputEmbeddings(t, out, ids)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(float32(*want.AsF32[i])) {
					t.Fatalf("%s: value %d = %v, torch .float() %v", name, i, got[i], *want.AsF32[i])
				}
			}
		case "i8", "i64", "bool":
			if code != cli.ExitFail || !strings.Contains(stderr, strings.ToUpper(name)) || !strings.Contains(stderr, "float32") {
				t.Errorf("%s: exit %d, %q; want a refusal naming the dtype", name, code, stderr)
			}
		case "vec", "cube":
			if code != cli.ExitFail || !strings.Contains(stderr, "--shape") {
				t.Errorf("%s: exit %d, %q; want a refusal pointing at --shape", name, code, stderr)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("%s: a refused import left %s", name, out)
			}
			shape := map[string]string{"vec": "1x8", "cube": "100x8"}[name]
			if code, _, stderr := runCmd(t, "import", src, "--tensor", name, "--shape", shape, "-o", out, "-q"); code != 0 {
				t.Errorf("%s with --shape %s: %s", name, shape, stderr)
				continue
			}
			n := int64(len(want.AsF32)) / 8
			ids := make([]int64, n)
			for i := range ids {
				ids[i] = int64(i)
			}
			got := inputEmbeddings(t, out, ids)
			for i := range got {
				if got[i] != float32(*want.AsF32[i]) {
					t.Fatalf("%s reshaped: value %d differs", name, i)
				}
			}
			continue
		case "empty":
			if code != cli.ExitFail || !strings.Contains(stderr, "rows") {
				t.Errorf("empty: exit %d, %q", code, stderr)
			}
		default:
			t.Errorf("expected.json has a tensor %q this test does not know", name)
		}
		if code != 0 {
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("%s: a refused import left %s", name, out)
			}
		}
	}
}

func TestImportChoosingTables(t *testing.T) {
	src := filepath.Join(smallDir, "mixed-small.safetensors")
	out := filepath.Join(t.TempDir(), "t.emb")
	code, _, stderr := runCmd(t, "import", src, "-o", out)
	if code != cli.ExitFail || !strings.Contains(stderr, "--tensor") || !strings.Contains(stderr, "f16 F16 [100 8]") {
		t.Fatalf("no known name: exit %d %q", code, stderr)
	}
	code, _, stderr = runCmd(t, "import", src, "--tensor", "nope", "-o", out)
	if code != cli.ExitFail || !strings.Contains(stderr, "nope") {
		t.Fatalf("unknown tensor: exit %d %q", code, stderr)
	}
	// Naming the positional table explicitly, or none.
	gpt2 := filepath.Join(smallDir, "gpt2-small")
	if code, _, stderr := runCmd(t, "import", gpt2, "--no-positions", "-o", out, "-q"); code != 0 {
		t.Fatal(stderr)
	}
	if tab, _ := store.Open(out, nil); tab == nil || tab.Header().Positions() != 0 {
		t.Fatal("--no-positions imported positions")
	} else {
		tab.Close()
	}
	code, stdout, _ := runCmd(t, "import", "--list", filepath.Join(smallDir, "llama-small-sharded"))
	if code != 0 || !strings.Contains(stdout, "model.embed_tokens.weight") || !strings.Contains(stdout, "BF16") || !strings.Contains(stdout, "model-00001-of-00003.safetensors") {
		t.Fatalf("--list: exit %d\n%s", code, stdout)
	}
	// Overriding the conventions.
	opt := filepath.Join(smallDir, "opt-small")
	if code, _, stderr := runCmd(t, "import", opt, "--position-offset", "0", "--scale", "2", "-o", out, "-q", "--force"); code != 0 {
		t.Fatal(stderr)
	}
	tab, err := store.Open(out, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tab.Header().PositionOffset != 0 || tab.Header().TokenScale != 2 {
		t.Fatalf("overrides not applied: offset %d scale %v", tab.Header().PositionOffset, tab.Header().TokenScale)
	}
	tab.Close()
	if code, _, stderr := runCmd(t, "import", opt, "--position-offset", "66", "-o", out, "--force"); code != cli.ExitFail || !strings.Contains(stderr, "66") {
		t.Fatalf("offset past the table: exit %d %q", code, stderr)
	}
}

// TestExportImportRoundTrip exports each imported model and imports the
// export: the lookups must be the same bits, positions, offsets and scales
// included.
func TestExportImportRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, model := range []string{"gpt2-small", "bert-small", "llama-small-sharded", "opt-small"} {
		for _, dtype := range []string{"f32", "bf16"} {
			first := filepath.Join(dir, model+".emb")
			args := []string{"import", filepath.Join(smallDir, model), "-o", first, "--dtype", dtype, "-q", "--force"}
			if model == "gpt2-small" {
				args = append(args, "--scale", "3.5")
			}
			if code, _, stderr := runCmd(t, args...); code != 0 {
				t.Fatal(stderr)
			}
			st := filepath.Join(dir, model+".safetensors")
			if code, _, stderr := runCmd(t, "export", first, "-o", st, "--force"); code != 0 {
				t.Fatal(stderr)
			}
			second := filepath.Join(dir, model+"-again.emb")
			if code, _, stderr := runCmd(t, "import", st, "-o", second, "--dtype", dtype, "-q", "--force"); code != 0 {
				t.Fatalf("%s: import of the export: %s", model, stderr)
			}
			ids := []int64{0, 1, 2, 3, 999, 500, 7, 8}
			a, b := inputEmbeddings(t, first, ids), inputEmbeddings(t, second, ids)
			for i := range a {
				if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
					t.Fatalf("%s %s: value %d: %v before export, %v after", model, dtype, i, a[i], b[i])
				}
			}
			if got, want := jsonField(t, second, "tensor"), jsonField(t, first, "tensor"); got != want {
				t.Fatalf("%s: export renamed %s to %s", model, want, got)
			}
		}
	}
	// An int8 table exports as f32 by default, and refuses --dtype int8.
	if code, _, stderr := runCmd(t, "import", filepath.Join(smallDir, "gpt2-small"), "-o", filepath.Join(dir, "q.emb"), "--dtype", "int8", "-q"); code != 0 {
		t.Fatal(stderr)
	}
	if code, _, stderr := runCmd(t, "export", filepath.Join(dir, "q.emb"), "-o", filepath.Join(dir, "q.safetensors")); code != 0 {
		t.Fatal(stderr)
	}
	if code, _, _ := runCmd(t, "export", filepath.Join(dir, "q.emb"), "--dtype", "int8", "-o", filepath.Join(dir, "q2.safetensors")); code != cli.ExitUsage {
		t.Fatalf("export --dtype int8: exit %d", code)
	}
}

// TestImportStreamsInBoundedMemory imports a generated checkpoint of more
// than 2 GB and checks that the Go heap stayed under 64 MB (mapped source
// pages do not count).
func TestImportStreamsInBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 1 GB table; skipped with -short")
	}
	const rows, dim = 1 << 20, 512 // 2 GiB of F32
	dir := t.TempDir()
	// The source is sparse; the bf16 table is 1 GiB of real blocks.
	const need = 1<<30 + 64<<20
	if free, ok := freeBytes(dir); ok && free < need {
		t.Skipf("writes a 1 GiB table; %s has %d MiB free (set TMPDIR to a larger file system)", dir, free>>20)
	}
	src := filepath.Join(dir, "big.safetensors")
	header := `{"__metadata__":{"format":"pt"},"embed_tokens.weight":{"dtype":"F32","shape":[1048576,512],"data_offsets":[0,2147483648]}}`
	for len(header)%8 != 0 {
		header += " "
	}
	f, err := os.Create(src)
	if err != nil {
		t.Fatal(err)
	}
	binary.Write(f, binary.LittleEndian, uint64(len(header)))
	f.WriteString(header)
	if err := f.Truncate(int64(8+len(header)) + rows*dim*4); err != nil { // a sparse file of zeros
		t.Fatal(err)
	}
	f.Close()

	var peak atomic.Uint64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	out := filepath.Join(dir, "big.emb")
	code, _, stderr := runCmd(t, "import", src, "-o", out, "--dtype", "bf16", "-q")
	close(stop)
	wg.Wait()
	if code != 0 {
		t.Fatal(stderr)
	}
	t.Logf("peak Go heap in use while importing a %d MB checkpoint: %.1f MB", rows*dim*4>>20, float64(peak.Load())/(1<<20))
	if peak.Load() > 64<<20 {
		t.Fatalf("Go heap reached %d bytes importing a 2 GiB checkpoint; want under 64 MB", peak.Load())
	}
	tab, err := store.Open(out, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	if tab.Header().Rows != rows || tab.Header().Dim != dim {
		t.Fatalf("imported %d x %d", tab.Header().Rows, tab.Header().Dim)
	}
}

// TestImportComputeDType checks that a model computing in bf16 gets its
// positional sums rounded to bf16, and that the compute dtype comes from
// config.json (the sharded LLaMA says bfloat16) or the flag.
func TestImportComputeDType(t *testing.T) {
	dir := t.TempDir()
	plain, rounded := filepath.Join(dir, "plain.emb"), filepath.Join(dir, "bf16.emb")
	gpt2 := filepath.Join(smallDir, "gpt2-small")
	if code, _, stderr := runCmd(t, "import", gpt2, "-o", plain, "-q"); code != 0 {
		t.Fatal(stderr)
	}
	if code, _, stderr := runCmd(t, "import", gpt2, "-o", rounded, "--compute-dtype", "bf16", "-q"); code != 0 {
		t.Fatal(stderr)
	}
	ids := []int64{5, 999, 0, 5}
	p, err := store.Open(plain, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	tok := make([]float32, len(ids)*16)
	pos := make([]float32, len(ids)*16)
	p.Lookup(tok, ids)
	p.LookupPositionRows(pos, []int64{0, 1, 2, 3})
	got := inputEmbeddings(t, rounded, ids)
	for i := range got {
		want := kernel.Round(kernel.Round(tok[i], format.BF16)+kernel.Round(pos[i], format.BF16), format.BF16)
		if math.Float32bits(got[i]) != math.Float32bits(want) {
			t.Fatalf("value %d = %v, want bf16(bf16(%v) + bf16(%v)) = %v", i, got[i], tok[i], pos[i], want)
		}
	}
	llama := filepath.Join(dir, "llama.emb")
	if code, _, stderr := runCmd(t, "import", filepath.Join(smallDir, "llama-small-sharded"), "-o", llama, "-q"); code != 0 {
		t.Fatal(stderr)
	}
	if got := jsonField(t, llama, "compute_dtype"); got != "bf16" {
		t.Fatalf("llama compute dtype %q, want bf16 from config.json", got)
	}
	if got := jsonField(t, plain, "compute_dtype"); got != "" {
		t.Fatalf("gpt2 compute dtype %q, want none (config.json says float32)", got)
	}
	if code, _, _ := runCmd(t, "import", gpt2, "-o", rounded, "--compute-dtype", "int8"); code != cli.ExitUsage {
		t.Fatalf("--compute-dtype int8: exit %d", code)
	}
}

// TestImportModelConventions imports two real bf16 checkpoints whose input
// embeddings are not a plain lookup, saved by transformers with the values
// the models themselves computed (testdata/safetensors/conventions, made by
// gen_conventions.py): Gemma scales by a bf16 sqrt(hidden_size); BART scales
// by sqrt(d_model), starts positions at row 2 and adds in bf16.
func TestImportModelConventions(t *testing.T) {
	dir := "../../testdata/safetensors/conventions"
	b, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var exp map[string]json.RawMessage
	if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatal(err)
	}
	for _, model := range []string{"gemma-small", "bart-small"} {
		var c modelCase
		if err := json.Unmarshal(exp[model], &c); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), model+".emb")
		args := []string{"import", filepath.Join(dir, model), "-o", out, "-q"}
		if model == "bart-small" {
			// Encoder and decoder each have a positional table: the import
			// must be told which (the error lists both otherwise).
			code, _, stderr := runCmd(t, args...)
			if code != cli.ExitFail || !strings.Contains(stderr, "encoder.embed_positions.weight") || !strings.Contains(stderr, "decoder.embed_positions.weight") {
				t.Fatalf("bart without --positions-tensor: exit %d %q", code, stderr)
			}
			args = append(args, "--positions-tensor", c.Positions)
		}
		if code, _, stderr := runCmd(t, args...); code != 0 {
			t.Fatalf("%s: %s", model, stderr)
		}
		got := inputEmbeddings(t, out, c.IDs)
		if len(got) != len(c.Expected) {
			t.Fatalf("%s: %d values, want %d", model, len(got), len(c.Expected))
		}
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(float32(c.Expected[i])) {
				t.Fatalf("%s: value %d = %v, transformers %v", model, i, got[i], c.Expected[i])
			}
		}
	}
}
