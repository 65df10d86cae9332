package main

import (
	"bytes"
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/cli"
	"github.com/embstore/embstore/kernel"
	"github.com/embstore/embstore/store"
)

// TestConvert converts a seeded table to every dtype and checks that lookups
// return the torch-rounded values, within the reported error.
func TestConvert(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.emb")
	if code, _, stderr := runCmd(t, "init", "--rows", "300", "--dim", "20", "--seed", "5", "--positions", "7", "-o", src, "-q"); code != 0 {
		t.Fatal(stderr)
	}
	orig, err := store.Open(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	ids := make([]int64, 300)
	for i := range ids {
		ids[i] = int64(i)
	}
	want := make([]float32, 300*20)
	orig.Lookup(want, ids)
	for _, d := range []string{"f16", "bf16", "int8", "f32"} {
		out := filepath.Join(dir, d+".emb")
		code, _, stderr := runCmd(t, "convert", src, "--dtype", d, "-o", out)
		if code != 0 || !strings.Contains(stderr, "largest absolute error") {
			t.Fatalf("convert to %s: exit %d %s", d, code, stderr)
		}
		tab, err := store.Open(out, &store.Options{Verify: true})
		if err != nil {
			t.Fatal(err)
		}
		got := make([]float32, 300*20)
		if err := tab.Lookup(got, ids); err != nil {
			t.Fatal(err)
		}
		var md struct {
			Conversion struct {
				From, To    string
				MaxAbsError float64 `json:"max_abs_error"`
				Original    json.RawMessage
			}
		}
		if err := json.Unmarshal(tab.Metadata(), &md); err != nil || md.Conversion.To != d || md.Conversion.From != "f32" {
			t.Fatalf("%s: metadata %s", d, tab.Metadata())
		}
		if !strings.Contains(string(md.Conversion.Original), `"seed":5`) {
			t.Fatalf("%s: provenance not carried over: %s", d, md.Conversion.Original)
		}
		worst := 0.0
		for i := range got {
			worst = max(worst, math.Abs(float64(got[i])-float64(want[i])))
			if (d == "f16" || d == "bf16") && got[i] != kernel.Round(want[i], map[string]format.DType{"f16": format.F16, "bf16": format.BF16}[d]) {
				t.Fatalf("%s: value %d = %v, want %v rounded", d, i, got[i], want[i])
			}
		}
		if worst != md.Conversion.MaxAbsError || (d == "f32" && worst != 0) {
			t.Fatalf("%s: measured max error %g, recorded %g", d, worst, md.Conversion.MaxAbsError)
		}
		// The positional table stays f32, unchanged, and is added to the
		// converted token rows.
		posRows := make([]float32, 7*20)
		origPos := make([]float32, 7*20)
		if err := tab.LookupPositionRows(posRows, ids[:7]); err != nil {
			t.Fatal(err)
		}
		orig.LookupPositionRows(origPos, ids[:7])
		tok := make([]float32, 7*20)
		tab.Lookup(tok, ids[:7])
		if err := tab.LookupPositions(got[:7*20], ids[:7], 7, 0); err != nil {
			t.Fatal(err)
		}
		for i := range 7 * 20 {
			if math.Float32bits(posRows[i]) != math.Float32bits(origPos[i]) || got[i] != tok[i]+posRows[i] {
				t.Fatalf("%s: positional value %d differs", d, i)
			}
		}
		tab.Close()
		code, stdout, _ := runCmd(t, "inspect", out)
		if code != 0 || !strings.Contains(stdout, "conversion  f32 -> "+d) {
			t.Fatalf("inspect does not show the conversion:\n%s", stdout)
		}
	}
	if code, _, stderr := runCmd(t, "convert", src, "--dtype", "f8", "-o", filepath.Join(dir, "x.emb")); code != cli.ExitUsage || !strings.Contains(stderr, "unknown dtype") {
		t.Fatalf("convert to f8: exit %d %q", code, stderr)
	}
	if code, _, _ := runCmd(t, "convert", src, "-o", filepath.Join(dir, "x.emb")); code != cli.ExitUsage {
		t.Fatalf("convert without --dtype: exit %d", code)
	}
}

func TestInitDTypes(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"f16", "bf16", "int8"} {
		out := filepath.Join(dir, d+".emb")
		if code, _, stderr := runCmd(t, "init", "--rows", "50", "--dim", "8", "--seed", "1", "--dtype", d, "-o", out, "-q"); code != 0 {
			t.Fatal(stderr)
		}
		code, stdout, _ := runCmd(t, "inspect", "--json", out)
		var info inspectJSON
		if code != 0 || json.Unmarshal([]byte(stdout), &info) != nil || info.DType != d {
			t.Fatalf("%s: inspect %s", d, stdout)
		}
		var compact bytes.Buffer
		json.Compact(&compact, info.Metadata)
		if !strings.Contains(compact.String(), `"to":"`+d+`"`) {
			t.Fatalf("%s: metadata lacks the conversion: %s", d, info.Metadata)
		}
	}
}
