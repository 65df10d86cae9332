package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/cli"
	"github.com/embstore/embstore/pack"
	"github.com/embstore/embstore/store"
)

// runCmd runs embpack with args and returns its exit code, stdout and stderr.
func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut})
	return code, out.String(), errOut.String()
}

// torchRefs is the part of testdata/torch/torch-init-shared-*.json the
// command tests use: values computed by real torch.
type torchRefs struct {
	Cases []struct {
		Init   string             `json:"init"`
		Seed   uint64             `json:"seed"`
		Rows   int64              `json:"rows"`
		Dim    int                `json:"dim"`
		Params map[string]float64 `json:"params"`
		SHA256 string             `json:"sha256_f32le"`
	} `json:"cases"`
	Pipeline struct {
		Seed        uint64    `json:"seed"`
		Rows        int64     `json:"rows"`
		Dim         int       `json:"dim"`
		Positions   int64     `json:"positions"`
		IDs         []int64   `json:"ids"`
		TokenSHA256 string    `json:"token_sha256_f32le"`
		PositionSHA string    `json:"position_sha256_f32le"`
		InputEmbeds []float64 `json:"input_embeddings"`
		TokenEmbeds []float64 `json:"token_embeddings"`
	} `json:"seed_doc_pipeline"`
}

func loadRefs(t *testing.T, path string) torchRefs {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "torch", "torch-init-shared-"+path+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var r torchRefs
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// sectionSHA256 returns the SHA-256 of a row section's values as
// little-endian float32, row-major: the hash the torch references carry.
func sectionSHA256(t *testing.T, path string, kind format.SectionKind) string {
	t.Helper()
	f, err := format.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, ok := f.Section(kind)
	if !ok {
		t.Fatalf("%s has no %s section", path, kind)
	}
	h := sha256.New()
	row := make([]float32, f.Dim)
	b := make([]byte, 4*f.Dim)
	for r := range s.Rows {
		if err := f.ReadRows(s, r, 1, row); err != nil {
			t.Fatal(err)
		}
		for i, v := range row {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestInitMatchesTorch draws the shared torch cases with embpack init, on
// both math paths, and compares each table's hash with torch's.
func TestInitMatchesTorch(t *testing.T) {
	for _, mathPath := range []string{"avx2", "default"} {
		refs := loadRefs(t, mathPath)
		for _, c := range refs.Cases {
			if c.Rows == 50257 {
				continue // the 50257 x 256 table is TestSeedExample's token table
			}
			args := []string{"init", "--rows", itoa(c.Rows), "--dim", itoa(int64(c.Dim)), "--seed", utoa(c.Seed),
				"--init", c.Init, "--torch-math", mathPath, "-q"}
			switch c.Init {
			case "normal":
				args = append(args, "--mean", ftoa(c.Params["mean"]), "--std", ftoa(c.Params["std"]))
			case "uniform":
				args = append(args, "--low", ftoa(c.Params["a"]), "--high", ftoa(c.Params["b"]))
			}
			out := filepath.Join(t.TempDir(), "t.emb")
			args = append(args, "-o", out)
			if code, _, stderr := runCmd(t, args...); code != 0 {
				t.Fatalf("embpack %v: exit %d: %s", args, code, stderr)
			}
			if got := sectionSHA256(t, out, format.SectionTokens); got != c.SHA256 {
				t.Errorf("%s %s seed %d %dx%d: sha256 %s, torch %s", mathPath, c.Init, c.Seed, c.Rows, c.Dim, got, c.SHA256)
			}
		}
	}
}

// TestSeedExample is the canonical example: seed 123, a 50257 x 256 token
// table and a 4-row positional table, ids [2, 3, 5, 1]; the input
// embeddings must equal torch's to the bit, on both math paths.
func TestSeedExample(t *testing.T) {
	for _, mathPath := range []string{"avx2", "default"} {
		p := loadRefs(t, mathPath).Pipeline
		out := filepath.Join(t.TempDir(), "seed123.emb")
		code, _, stderr := runCmd(t, "init", "--rows", itoa(p.Rows), "--dim", itoa(int64(p.Dim)), "--seed", utoa(p.Seed),
			"--positions", itoa(p.Positions), "--torch-math", mathPath, "-o", out)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if !strings.Contains(stderr, "wrote") {
			t.Errorf("no summary on stderr: %q", stderr)
		}
		if got := sectionSHA256(t, out, format.SectionTokens); got != p.TokenSHA256 {
			t.Errorf("%s token table sha256 %s, torch %s", mathPath, got, p.TokenSHA256)
		}
		if got := sectionSHA256(t, out, format.SectionPositions); got != p.PositionSHA {
			t.Errorf("%s positional table sha256 %s, torch %s", mathPath, got, p.PositionSHA)
		}
		tab, err := store.Open(out, nil)
		if err != nil {
			t.Fatal(err)
		}
		tokens := make([]float32, len(p.IDs)*p.Dim)
		inputs := make([]float32, len(p.IDs)*p.Dim)
		if err := tab.Lookup(tokens, p.IDs); err != nil {
			t.Fatal(err)
		}
		if err := tab.LookupPositions(inputs, p.IDs, len(p.IDs), 0); err != nil {
			t.Fatal(err)
		}
		tab.Close()
		for i := range inputs {
			if math.Float32bits(tokens[i]) != math.Float32bits(float32(p.TokenEmbeds[i])) {
				t.Fatalf("%s token_embeddings[%d] = %v, torch %v", mathPath, i, tokens[i], p.TokenEmbeds[i])
			}
			if math.Float32bits(inputs[i]) != math.Float32bits(float32(p.InputEmbeds[i])) {
				t.Fatalf("%s input_embeddings[%d] = %v, torch %v", mathPath, i, inputs[i], p.InputEmbeds[i])
			}
		}
	}
}

func TestDemo(t *testing.T) {
	p := loadRefs(t, "avx2").Pipeline
	code, stdout, stderr := runCmd(t, "demo", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rows [][]float64
	if err := json.Unmarshal([]byte(stdout), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 || len(rows[0]) != 256 {
		t.Fatalf("demo printed %d rows", len(rows))
	}
	for i, row := range rows {
		for j, v := range row {
			if float32(v) != float32(p.InputEmbeds[i*256+j]) {
				t.Fatalf("demo row %d value %d = %v, torch %v", i, j, v, p.InputEmbeds[i*256+j])
			}
		}
	}
}

func TestInspectAndVerify(t *testing.T) {
	out := filepath.Join(t.TempDir(), "t.emb")
	if code, _, stderr := runCmd(t, "init", "--rows", "100", "--dim", "8", "--seed", "7", "--positions", "3", "-o", out, "-q"); code != 0 {
		t.Fatal(stderr)
	}
	code, stdout, _ := runCmd(t, "inspect", out)
	if code != 0 || !strings.Contains(stdout, "100 rows x 8 f32") || !strings.Contains(stdout, `"torch_math": "avx2"`) {
		t.Fatalf("inspect: exit %d\n%s", code, stdout)
	}
	code, stdout, _ = runCmd(t, "inspect", "--json", out)
	var info inspectJSON
	if err := json.Unmarshal([]byte(stdout), &info); code != 0 || err != nil {
		t.Fatalf("inspect --json: exit %d, %v", code, err)
	}
	if info.Rows != 100 || info.Dim != 8 || info.Positions != 3 || len(info.Sections) != 3 {
		t.Fatalf("inspect --json: %+v", info)
	}
	var md pack.Provenance
	if err := json.Unmarshal(info.Metadata, &md); err != nil || md.Seed == nil || md.Seed.Seed != 7 || md.Creator != "embpack "+cli.Version {
		t.Fatalf("metadata %s", info.Metadata)
	}
	if code, stdout, _ := runCmd(t, "verify", out); code != 0 || !strings.Contains(stdout, "all 5 checks passed") {
		t.Fatalf("verify: exit %d\n%s", code, stdout)
	}
	// A flipped bit in a row: inspect still reads the header, verify fails.
	b, _ := os.ReadFile(out)
	b[format.HeaderSize+100] ^= 1
	os.WriteFile(out, b, 0o644)
	code, stdout, stderr := runCmd(t, "verify", out)
	if code != cli.ExitFail || !strings.Contains(stdout, "FAIL tokens") || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("verify of a damaged table: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
}

func TestCommandLineErrors(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "t.emb")
	garbage := filepath.Join(dir, "garbage.emb")
	os.WriteFile(garbage, bytes.Repeat([]byte{0xff}, 8000), 0o644)
	truncated := filepath.Join(dir, "truncated.emb")
	runCmd(t, "init", "--rows", "100", "--dim", "64", "--seed", "1", "-o", truncated, "-q")
	b, _ := os.ReadFile(truncated)
	os.WriteFile(truncated, b[:len(b)-100], 0o644)
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{nil, cli.ExitUsage, "usage: embpack"},
		{[]string{"frobnicate"}, cli.ExitUsage, `unknown command "frobnicate"`},
		{[]string{"init", "--bogus"}, cli.ExitUsage, "unknown flag: --bogus"},
		{[]string{"init", "--dim", "4", "--seed", "1", "-o", out}, cli.ExitUsage, "--rows is required"},
		{[]string{"init", "--rows", "0", "--dim", "4", "--seed", "1", "-o", out}, cli.ExitUsage, "--rows 0 out of range"},
		{[]string{"init", "--rows", "8589934592", "--dim", "65536", "--seed", "1", "-o", out}, cli.ExitUsage, "--rows 8589934592 out of range"},
		{[]string{"init", "--rows", "99999999999999999999", "--dim", "4", "--seed", "1", "-o", out}, cli.ExitUsage, "invalid argument"},
		{[]string{"init", "--rows", "4", "--dim", "70000", "--seed", "1", "-o", out}, cli.ExitUsage, "--dim 70000 out of range"},
		{[]string{"init", "--rows", "4", "--dim", "4", "--seed", "x", "-o", out}, cli.ExitUsage, "--seed"},
		{[]string{"init", "--rows", "4", "--dim", "4", "--seed", "1", "--torch-math", "sse", "-o", out}, cli.ExitUsage, "--torch-math"},
		{[]string{"init", "--rows", "4", "--dim", "4", "--seed", "1", "--std", "2", "-o", out}, cli.ExitUsage, "--std applies to --init normal"},
		{[]string{"init", "--rows", "4", "--dim", "4", "--seed", "1", "--init", "normal", "--std", "-1", "-o", out}, cli.ExitUsage, "std"},
		{[]string{"init", "--rows", "4", "--dim", "4", "--seed", "1", "--init", "uniform", "--low", "2", "--high", "1", "-o", out}, cli.ExitUsage, ""},
		{[]string{"init", "--rows", "4", "--dim", "4", "--seed", "1", "-o", filepath.Join(dir, "no", "such", "dir", "t.emb")}, cli.ExitFail, "no such file or directory"},
		{[]string{"init", "--rows", "4", "--dim", "4", "--seed", "1", "-o", dir}, cli.ExitFail, "is a directory"},
		{[]string{"inspect"}, cli.ExitUsage, "want exactly one FILE"},
		{[]string{"inspect", filepath.Join(dir, "missing.emb")}, cli.ExitFail, "no such file"},
		{[]string{"inspect", garbage}, cli.ExitFail, "not an embstore table"},
		{[]string{"verify", garbage}, cli.ExitFail, "not an embstore table"},
		{[]string{"verify", truncated}, cli.ExitFail, "truncated"},
	} {
		code, _, stderr := runCmd(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.msg) {
			t.Errorf("embpack %v: exit %d, stderr %q; want exit %d and %q", c.args, code, stderr, c.code, c.msg)
		}
		if strings.Contains(stderr, "goroutine") || strings.Contains(stderr, "panic") {
			t.Errorf("embpack %v printed a stack trace: %s", c.args, stderr)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a failed init left %s behind", out)
	}
	if names, _ := filepath.Glob(filepath.Join(dir, ".*")); len(names) != 0 {
		t.Errorf("temporary files left behind: %v", names)
	}
}

func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"help"}, {"init", "--help"}, {"help", "verify"}, {"inspect", "-h"}} {
		code, stdout, _ := runCmd(t, args...)
		if code != 0 || !strings.Contains(stdout, "usage: embpack") {
			t.Errorf("embpack %v: exit %d\n%s", args, code, stdout)
		}
	}
	code, stdout, _ := runCmd(t, "--version")
	if code != 0 || !strings.HasPrefix(stdout, "embpack "+cli.Version) {
		t.Errorf("--version: exit %d %q", code, stdout)
	}
}

func itoa(v int64) string   { return strconv.FormatInt(v, 10) }
func utoa(v uint64) string  { return strconv.FormatUint(v, 10) }
func ftoa(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
