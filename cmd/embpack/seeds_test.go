package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/pack"
)

// seedRefs is the layout of testdata/torch/torch-init-seeds.json (see
// gen_seeds.py): embpack init cases with negative and 64-bit seeds, made by
// torch on both math paths.
type seedRefs struct {
	Torch string `json:"torch"`
	Paths map[string][]struct {
		Seed        string             `json:"seed"`         // as given to --seed
		InitialSeed string             `json:"initial_seed"` // torch.initial_seed() after manual_seed
		Init        string             `json:"init"`
		Rows        int64              `json:"rows"`
		Dim         int64              `json:"dim"`
		Positions   int64              `json:"positions"`
		Params      map[string]float64 `json:"params"`
		Tokens      struct {
			SHA256 string `json:"sha256_f32le"`
		} `json:"tokens"`
		PositionTable struct {
			SHA256 string `json:"sha256_f32le"`
		} `json:"position_table"`
	} `json:"paths"`
}

// TestInitSeedsMatchTorch runs embpack init with the seeds torch treats
// specially (negative seeds, which torch keeps as their 64-bit two's
// complement; seeds of 2^32 and more, of which the generator uses the low
// 32 bits; -2^63 and 2^64-1), with positional tables after small and
// block-sized token tables, on both math paths, and compares the tables and
// the recorded seed with what torch made.
func TestInitSeedsMatchTorch(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "torch", "torch-init-seeds.json"))
	if err != nil {
		t.Fatal(err)
	}
	var refs seedRefs
	if err := json.Unmarshal(b, &refs); err != nil {
		t.Fatal(err)
	}
	negative := 0
	for _, mathPath := range []string{"avx2", "default"} {
		cases := refs.Paths[mathPath]
		if len(cases) == 0 {
			t.Fatalf("no %s cases", mathPath)
		}
		for _, c := range cases {
			if c.Seed[0] == '-' {
				negative++
			}
			out := filepath.Join(t.TempDir(), "t.emb")
			args := []string{"init", "--seed", c.Seed, "--rows", itoa(c.Rows), "--dim", itoa(c.Dim),
				"--init", c.Init, "--torch-math", mathPath, "-q", "-o", out}
			if c.Positions > 0 {
				args = append(args, "--positions", itoa(c.Positions))
			}
			switch c.Init {
			case "normal":
				args = append(args, "--mean", ftoa(c.Params["mean"]), "--std", ftoa(c.Params["std"]))
			case "uniform":
				args = append(args, "--low", ftoa(c.Params["a"]), "--high", ftoa(c.Params["b"]))
			}
			if code, _, stderr := runCmd(t, args...); code != 0 {
				t.Fatalf("embpack %v: exit %d: %s", args, code, stderr)
			}
			what := mathPath + " seed " + c.Seed
			if got := sectionSHA256(t, out, format.SectionTokens); got != c.Tokens.SHA256 {
				t.Errorf("%s: token table sha256 %s, torch %s", what, got, c.Tokens.SHA256)
			}
			if c.Positions > 0 {
				if got := sectionSHA256(t, out, format.SectionPositions); got != c.PositionTable.SHA256 {
					t.Errorf("%s: positional table sha256 %s, torch %s", what, got, c.PositionTable.SHA256)
				}
			}
			f, err := format.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			var md pack.Provenance
			err = json.Unmarshal(f.Metadata(), &md)
			f.Close()
			if err != nil || md.Seed == nil {
				t.Fatalf("%s: metadata %s: %v", what, f.Metadata(), err)
			}
			if got := strconv.FormatUint(md.Seed.Seed, 10); got != c.InitialSeed {
				t.Errorf("%s: recorded seed %s; torch.initial_seed() is %s", what, got, c.InitialSeed)
			}
		}
	}
	if negative == 0 {
		t.Fatal("no negative seed in the references")
	}
}
