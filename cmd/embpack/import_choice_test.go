package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/embstore/embstore/internal/cli"
	"github.com/embstore/embstore/internal/safetensors"
	"github.com/embstore/embstore/store"
)

// writeCheckpoint writes a safetensors file of zero-filled tensors of the
// given dtypes and shapes into a new directory, with config.json if config
// is not empty, and returns the directory.
func writeCheckpoint(t *testing.T, config string, tensors map[string]struct {
	dtype safetensors.DType
	shape []int64
}) string {
	t.Helper()
	dir := t.TempDir()
	var ws []safetensors.WriteTensor
	for name, tn := range tensors {
		n := int64(tn.dtype.Bits() / 8)
		for _, d := range tn.shape {
			n *= d
		}
		ws = append(ws, safetensors.WriteTensor{Name: name, DType: tn.dtype, Shape: tn.shape,
			Data: func(w io.Writer) error { _, err := w.Write(make([]byte, n)); return err }})
	}
	if err := safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), nil, ws); err != nil {
		t.Fatal(err)
	}
	if config != "" {
		os.WriteFile(filepath.Join(dir, "config.json"), []byte(config), 0o644)
	}
	return dir
}

type tensorSpec = struct {
	dtype safetensors.DType
	shape []int64
}

// TestImportPositionalMismatch: a positional tensor that does not fit the
// token table was skipped and the import exited 0 without a word; now it is
// refused, saying why, unless --no-positions. --shape on a 2-D tensor
// silently dropped positions the same way.
func TestImportPositionalMismatch(t *testing.T) {
	ck := writeCheckpoint(t, "", map[string]tensorSpec{
		"transformer.wte.weight": {safetensors.F32, []int64{10, 4}},
		"transformer.wpe.weight": {safetensors.F32, []int64{8, 6}},
	})
	out := filepath.Join(t.TempDir(), "t.emb")
	code, _, stderr := runCmd(t, "import", ck, "-o", out)
	if code != cli.ExitFail || !strings.Contains(stderr, "transformer.wpe.weight has rows of 6 values, the token table's have 4") ||
		!strings.Contains(stderr, "--no-positions") || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("mismatched positions: exit %d, %q", code, stderr)
	}
	if code, _, stderr := runCmd(t, "import", ck, "-o", out, "--no-positions", "-q"); code != 0 {
		t.Fatalf("--no-positions: %s", stderr)
	}
	// --shape reads the 2-D token table with other rows: gpt2's positions
	// no longer fit.
	gpt2 := filepath.Join(smallDir, "gpt2-small")
	tab, err := store.Open(importTo(t, gpt2), nil)
	if err != nil {
		t.Fatal(err)
	}
	rows, dim := tab.Header().Rows, tab.Header().Dim
	tab.Close()
	shape := strings.Join([]string{itoa(rows * 2), itoa(int64(dim / 2))}, "x")
	code, _, stderr = runCmd(t, "import", gpt2, "--shape", shape, "-o", out, "--force")
	if code != cli.ExitFail || !strings.Contains(stderr, "wpe.weight has rows of") {
		t.Fatalf("--shape %s: exit %d, %q; want the positions refused", shape, code, stderr)
	}
	if code, _, stderr := runCmd(t, "import", gpt2, "--shape", shape, "-o", out, "--force", "--no-positions", "-q"); code != 0 {
		t.Fatalf("--shape with --no-positions: %s", stderr)
	}
}

func importTo(t *testing.T, src string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "t.emb")
	if code, _, stderr := runCmd(t, "import", src, "-o", out, "-q"); code != 0 {
		t.Fatal(stderr)
	}
	return out
}

// TestImportSaysWhyRefused: a tensor with the token table's name but a dtype
// that does not convert got "no tensor has a known name"; now the message
// says why it was refused, and no message names a flag that does not exist
// ("--token tensor", "--positional tensor").
func TestImportSaysWhyRefused(t *testing.T) {
	ck := writeCheckpoint(t, "", map[string]tensorSpec{
		"transformer.wte.weight": {safetensors.I64, []int64{10, 4}},
		"other.weight":           {safetensors.F32, []int64{10, 4}},
	})
	out := filepath.Join(t.TempDir(), "t.emb")
	for _, c := range []struct {
		args []string
		want []string
	}{
		{nil, []string{"transformer.wte.weight is I64, which does not convert to float32", "--tensor NAME", "other.weight F32 [10 4]"}},
		{[]string{"--tensor", "missing.weight"}, []string{`the token table "missing.weight" is not in the checkpoint`, "--tensor NAME"}},
		{[]string{"--tensor", "other.weight", "--positions-tensor", "nope"}, []string{`the positional table "nope" is not in the checkpoint`, "--positions-tensor NAME", "--no-positions"}},
	} {
		code, _, stderr := runCmd(t, append([]string{"import", ck, "-o", out}, c.args...)...)
		if code != cli.ExitFail || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, %q", c.args, code, stderr)
		}
		for _, w := range c.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%v: %q lacks %q", c.args, stderr, w)
			}
		}
		if strings.Contains(stderr, "--token tensor") || strings.Contains(stderr, "--positional tensor") {
			t.Errorf("%v names a flag that does not exist: %q", c.args, stderr)
		}
	}
}

// TestImportMalformedConfig: a config.json that cannot be read blocked every
// import; now it matters only when a convention must come from it.
func TestImportMalformedConfig(t *testing.T) {
	src := filepath.Join(smallDir, "gpt2-small")
	dir := t.TempDir()
	b, _ := os.ReadFile(filepath.Join(src, "model.safetensors"))
	os.WriteFile(filepath.Join(dir, "model.safetensors"), b, 0o644)
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"model_type": "gpt2", "model_type": "opt"}`), 0o644)
	out := filepath.Join(t.TempDir(), "t.emb")
	code, _, stderr := runCmd(t, "import", dir, "-o", out)
	if code != cli.ExitFail || !strings.Contains(stderr, "config.json") || !strings.Contains(stderr, "duplicate key") ||
		!strings.Contains(stderr, "--position-offset, --scale and --compute-dtype") {
		t.Fatalf("malformed config.json, conventions needed: exit %d, %q", code, stderr)
	}
	code, _, stderr = runCmd(t, "import", dir, "-o", out, "-q", "--position-offset", "0", "--scale", "1", "--compute-dtype", "f32")
	if code != 0 || !strings.Contains(stderr, "warning: ignored") || !strings.Contains(stderr, "config.json") {
		t.Fatalf("malformed config.json, every convention given: exit %d, %q; want success and a warning", code, stderr)
	}
}

// TestExportedTokenScale: a table imported without a scale recorded
// "token_scale": 0 in its metadata (and so in its export) while inspect
// said 1.
func TestExportedTokenScale(t *testing.T) {
	table := importTo(t, filepath.Join(smallDir, "gpt2-small"))
	st := filepath.Join(t.TempDir(), "e.safetensors")
	if code, _, stderr := runCmd(t, "export", table, "-o", st, "-q"); code != 0 {
		t.Fatal(stderr)
	}
	f, err := safetensors.Open(st)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var md struct {
		Import struct {
			TokenScale *float64 `json:"token_scale"`
		} `json:"import"`
	}
	if err := json.Unmarshal([]byte(f.Metadata["embstore.metadata"]), &md); err != nil || md.Import.TokenScale == nil || *md.Import.TokenScale != 1 {
		t.Fatalf("exported metadata token_scale = %v (%v); want 1", md.Import.TokenScale, err)
	}
}
