package main

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/cli"
	"github.com/embstore/embstore/pack"
)

var initCommand = cli.Command{
	Name:     "embpack init",
	Synopsis: "embpack init --rows N --dim D --seed S [--tokenizer PATH] [flags] -o FILE [--force]",
	Help: `
Init draws a table from a seeded generator, bit for bit what PyTorch computes
on the CPU for

    torch.manual_seed(S)
    torch.nn.Embedding(N, D)          # --init embedding (the default)
    torch.nn.Embedding(P, D)          # with --positions P

or, with --init normal / uniform, nn.init.normal_(w, mean, std) and
nn.init.uniform_(w, low, high) on a fresh N x D float32 tensor (the positional
table, if any, gets the same init, continuing the generator).

Values are drawn in float32; --dtype f16, bf16 or int8 stores the token rows
rounded as torch's .to() rounds (int8: FBGEMM's row-wise quantisation), and
'embpack inspect' shows the largest error that made.

PyTorch computes normal values differently on CPUs with AVX2 (every recent
x86-64 CPU, and the default here) and on others or with
ATEN_CPU_CAPABILITY=default: choose with --torch-math. The seed, init and math
path are recorded in the table's metadata.

--tokenizer PATH stores a tokenizer with the table (a model directory, or
its tokenizer.json, vocab.json, merges.txt or vocab.txt, as 'embpack import'
reads them), so that text can be looked up in it: README's seed example
with GPT-2's tokenizer turns "Hello world" into ids 15496, 995 and their
rows. The rows are the same with or without it; every id of the tokenizer
must be below --rows.`,
}

func runInit(e env, args []string) error {
	fs := cli.NewFlagSet(initCommand)
	rows := fs.Int64("rows", 0, "token table rows (vocabulary size), 1 to 4294967295 (required)")
	dim := fs.Int("dim", 0, "values per row, 1 to 65536 (required)")
	seedStr := fs.String("seed", "", "torch seed: an integer from -2^63 to 2^64-1, as torch.manual_seed takes (required)")
	positions := fs.Int64("positions", 0, "also draw a positional table of `P` rows (context length)")
	initName := fs.String("init", "embedding", "initialisation: embedding (normal 0, 1), normal or uniform")
	mean := fs.Float64("mean", 0, "mean for --init normal")
	std := fs.Float64("std", 1, "standard deviation for --init normal")
	low := fs.Float64("low", 0, "lower bound for --init uniform")
	high := fs.Float64("high", 1, "upper bound for --init uniform")
	mathPath := fs.String("torch-math", "avx2", "torch CPU math path to reproduce: avx2 or default")
	dtypeStr := fs.String("dtype", "f32", "storage dtype: f32, f16, bf16 or int8 (values drawn in f32, then rounded as torch's .to() does)")
	tok := fs.String("tokenizer", "", "store the tokenizer at `PATH` (a model directory or a tokenizer file) with the table")
	out := fs.StringP("output", "o", "", "write the table to `FILE` (required)")
	force := fs.BoolP("force", "f", false, "replace FILE if it exists")
	quiet := fs.BoolP("quiet", "q", false, "print nothing on success; no progress bar")
	if err := cli.Parse(fs, initCommand, args, e.Stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("unexpected argument %q", fs.Arg(0))
	}
	for _, name := range []string{"rows", "dim", "seed", "output"} {
		if !fs.Changed(name) {
			return cli.Usagef("--%s is required", name)
		}
	}
	switch {
	case *rows < 1 || *rows > format.MaxRows:
		return cli.Usagef("--rows %d out of range: want 1 to %d", *rows, int64(format.MaxRows))
	case *dim < 1 || *dim > format.MaxDim:
		return cli.Usagef("--dim %d out of range: want 1 to %d", *dim, format.MaxDim)
	case *positions < 0 || *positions > format.MaxPositions:
		return cli.Usagef("--positions %d out of range: want 0 to %d", *positions, format.MaxPositions)
	}
	if err := cli.TableOutput(*out); err != nil {
		return err
	}
	seed, err := parseSeed(*seedStr)
	if err != nil {
		return cli.Usagef("--seed: %v", err)
	}
	kind, err := pack.ParseInitKind(*initName)
	if err != nil {
		return cli.Usagef("--init: %v", err)
	}
	for _, f := range []struct {
		name string
		init string
	}{{"mean", "normal"}, {"std", "normal"}, {"low", "uniform"}, {"high", "uniform"}} {
		if fs.Changed(f.name) && *initName != f.init {
			return cli.Usagef("--%s applies to --init %s, not %s", f.name, f.init, *initName)
		}
	}
	path, err := pack.ParseMathPath(*mathPath)
	if err != nil {
		return cli.Usagef("--torch-math: %v", err)
	}
	dtype, err := format.ParseDType(*dtypeStr)
	if err != nil {
		return cli.Usagef("--dtype: %v", err)
	}
	progress, finish := cli.NewProgress(e.Stderr, *quiet, "drawing")
	start := time.Now()
	err = pack.Seed(context.Background(), *out, pack.SeedSpec{
		Rows: *rows, Dim: *dim, Seed: seed, Positions: *positions,
		Init: pack.Init{Kind: kind, Mean: *mean, Std: *std, Low: *low, High: *high}, Math: path, DType: dtype,
		Tokenizer: *tok,
	}, packOptions(progress, *force))
	finish()
	if err != nil {
		return specUsage(err, map[string]string{"SeedSpec.Init": initFlags[kind]})
	}
	if !*quiet {
		summarize(e, *out, time.Since(start))
	}
	return nil
}

// initFlags are the flags of each init's parameters.
var initFlags = map[pack.InitKind]string{pack.InitEmbedding: "--init embedding", pack.InitNormal: "--mean/--std", pack.InitUniform: "--low/--high"}

// parseSeed parses a torch seed. torch.manual_seed takes any integer from
// -2^63 to 2^64-1 and keeps it as a uint64 (negative values two's
// complement).
func parseSeed(s string) (uint64, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "-") {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not an integer from %d to %d", s, int64(math.MinInt64), uint64(math.MaxUint64))
		}
		return uint64(v), nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer from %d to %d", s, int64(math.MinInt64), uint64(math.MaxUint64))
	}
	return v, nil
}

// summarize prints one line about the table written to path.
func summarize(e env, path string, took time.Duration) {
	f, err := format.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	pos := ""
	if p := f.Positions(); p > 0 {
		pos = fmt.Sprintf(" + %d positions", p)
	}
	fmt.Fprintf(e.Stderr, "embpack: wrote %s: %d x %d %s%s, %s, in %.2fs\n",
		path, f.Rows, f.Dim, f.DType, pos, humanBytes(f.FileSize), took.Seconds())
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
