package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImportF16Models imports models that compute in float16 and compares
// their input embeddings with what torch computed in float16
// (testdata/safetensors/conventions/expected-f16.json, made by gen_f16.py):
// a GPT-2 saved in float16 whose config.json says "dtype": "float16"
// (token + position sums rounded to float16), a Gemma whose config.json says
// "torch_dtype": "float16" as transformers 4 wrote it (rows scaled by a
// float16 sqrt(hidden_size)), and a float32 GPT-2 imported with
// --compute-dtype f16 --scale 2.5. The import must also record where it took
// the compute dtype from.
func TestImportF16Models(t *testing.T) {
	root := filepath.Join("..", "..", "testdata", "safetensors")
	b, err := os.ReadFile(filepath.Join(root, "conventions", "expected-f16.json"))
	if err != nil {
		t.Fatal(err)
	}
	var exp struct {
		Cases []struct {
			Name          string    `json:"name"`
			Source        string    `json:"source"`
			Args          []string  `json:"args"`
			ComputeSource string    `json:"compute_dtype_source"`
			IDs           []int64   `json:"ids"`
			Expected      []float64 `json:"expected"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatal(err)
	}
	if len(exp.Cases) != 3 {
		t.Fatalf("%d cases in expected-f16.json, want 3", len(exp.Cases))
	}
	for _, c := range exp.Cases {
		out := filepath.Join(t.TempDir(), "t.emb")
		args := append([]string{"import", filepath.Join(root, filepath.FromSlash(c.Source)), "-o", out, "-q"}, c.Args...)
		if code, _, stderr := runCmd(t, args...); code != 0 {
			t.Fatalf("%s: exit %d: %s", c.Name, code, stderr)
		}
		if got := jsonField(t, out, "compute_dtype"); got != "f16" {
			t.Errorf("%s: compute dtype %q, want f16", c.Name, got)
		}
		if got := jsonField(t, out, "compute_dtype_source"); !strings.Contains(got, c.ComputeSource) {
			t.Errorf("%s: compute dtype taken from %q, want %q", c.Name, got, c.ComputeSource)
		}
		got := inputEmbeddings(t, out, c.IDs)
		if len(got) != len(c.Expected) {
			t.Fatalf("%s: %d values, torch %d", c.Name, len(got), len(c.Expected))
		}
		bad := 0
		for i := range got {
			if want := float32(c.Expected[i]); math.Float32bits(got[i]) != math.Float32bits(want) {
				if bad < 5 {
					t.Errorf("%s: value %d = %v, torch (float16) %v", c.Name, i, got[i], want)
				}
				bad++
			}
		}
		if bad > 0 {
			t.Errorf("%s: %d of %d values differ from torch", c.Name, bad, len(got))
		}
	}
}
