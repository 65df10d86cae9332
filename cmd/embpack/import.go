package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/cli"
	"github.com/embstore/embstore/internal/safetensors"
	"github.com/embstore/embstore/pack"
)

var importCommand = cli.Command{
	Name:     "embpack import",
	Synopsis: "embpack import SRC -o FILE [--tensor NAME] [--positions-tensor NAME] [--tokenizer PATH | --no-tokenizer] [--dtype f32] [--force] [flags]\n       embpack import --list SRC\n       embpack import VECTORS -o FILE [--from FORMAT] [--strict-utf8] [--skip-bad-lines] [--dtype f32]",
	Help: `
Import turns the embedding table of a safetensors checkpoint into a table
file. SRC is a .safetensors file, a sharded checkpoint's
model.safetensors.index.json, or a directory holding either (as saved by
Hugging Face transformers).

Without --tensor, the token table is found by the names real models use
(transformer.wte.weight, model.embed_tokens.weight,
embeddings.word_embeddings.weight, model2vec's embeddings, ...), and the
learned positional table likewise (transformer.wpe.weight,
embeddings.position_embeddings.weight, embed_positions.weight); if none or
several fit, the error says why each tensor with a known name was refused
and lists the 2-D tensors to choose from. A tensor with a positional name
that does not fit the token table (another width, not 2-D, a dtype that does
not convert) stops the import: name another with --positions-tensor, or
import without positions with --no-positions. --list prints every tensor
with its dtype and shape.

Values are converted to float32 exactly as torch's .float() does (F32, F16,
BF16, F64, F8_E4M3 and F8_E5M2), then stored as --dtype. Integer and boolean
tensors are refused. A tensor that is not 2-D is refused unless --shape says
how to read it.

Model conventions are read from config.json beside the weights and applied
by every lookup: OPT and BART learned positions start at row 2; Gemma
multiplies embeddings by sqrt(hidden_size), rounded to its compute dtype;
BART-style scale_embedding multiplies by sqrt(d_model). A model that computes
in f16 or bf16 (config.json's dtype; without one, the tensor's own 16-bit
dtype) rounds its scaled embeddings and its token+position sums to that
precision, and so do lookups. --position-offset, --scale and --compute-dtype
override them; a config.json that cannot be read is an error only when a
convention has to come from it (otherwise a warning). BERT's token-type table and any LayerNorm are not part of a
table: lookups return word (+ position) embeddings only.

The tokenizer beside the weights is stored in the table with no flag:
tokenizer.json, else vocab.json + merges.txt (GPT-2 style byte-level BPE),
else vocab.txt (BERT WordPiece), with tokenizer_config.json and
special_tokens_map.json where they matter. The table then carries the
tokenizer.json (built from the other files when there is none) and a
vocabulary: the token of every id. --tokenizer PATH names a tokenizer
elsewhere (a directory, one of those files, or a tokenizer.json of any
name); --no-tokenizer imports without one. A tokenizer that embstore cannot
reproduce exactly (Unigram, for instance), that cannot be read, or with an id
past the token table's rows stops the import: nothing is imported without
it unless --no-tokenizer says so. sentence-transformers' pooling (modules.json
with a Pooling module) and model2vec's are recorded as the table's default
for text inputs.

The table's metadata records the source files with their SHA-256, the tensor
names, source dtypes, the conversion applied, the conventions, the
tokenizer's source and SHA-256, and the source's __metadata__.
` + importWordVectorsHelp,
}

func runImport(e env, args []string) error {
	fs := cli.NewFlagSet(importCommand)
	list := fs.Bool("list", false, "list the checkpoint's tensors (name, dtype, shape) and exit")
	tensor := fs.String("tensor", "", "token table tensor `NAME` (default: found by name)")
	posTensor := fs.String("positions-tensor", "", "positional table tensor `NAME` (default: found by name)")
	noPos := fs.Bool("no-positions", false, "do not import a positional table")
	tok := fs.String("tokenizer", "", "store the tokenizer at `PATH` (a directory or a tokenizer file; default: the one beside the weights)")
	noTok := fs.Bool("no-tokenizer", false, "do not store a tokenizer, even if there is one beside the weights")
	shape := fs.String("shape", "", "read the token tensor as `ROWSxDIM` (for tensors that are not 2-D)")
	dtypeStr := fs.String("dtype", "f32", "storage dtype: f32, f16, bf16 or int8")
	posOffset := fs.Int64("position-offset", 0, "positional row of position 0 (default: from config.json; OPT: 2)")
	scale := fs.Float64("scale", 1, "multiply token rows by `S` on lookup (default: from config.json; Gemma: sqrt(hidden_size))")
	compute := fs.String("compute-dtype", "", "precision the model computes embeddings in: f32, f16 or bf16 (default: config.json's dtype, else the tensor's if 16-bit)")
	out := fs.StringP("output", "o", "", "write the table to `FILE`")
	force := fs.BoolP("force", "f", false, "replace FILE if it exists")
	quiet := fs.BoolP("quiet", "q", false, "print nothing on success but warnings; no progress bar")
	wv := addWordVectorFlags(fs)
	if err := cli.Parse(fs, importCommand, args, e.Stdout); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return cli.Usagef("want exactly one SRC, got %d arguments", fs.NArg())
	}
	src := fs.Arg(0)
	if isWV, err := isWordVectors(fs, src); err != nil {
		return err
	} else if isWV {
		return runImportWordVectors(e, fs, wv, src, *out, *dtypeStr, *force, *quiet)
	}
	for _, name := range wordVectorFlagNames {
		if fs.Changed(name) {
			return cli.Usagef("--%s applies to word vectors, and %s is a safetensors checkpoint", name, src)
		}
	}
	if *list {
		return listTensors(e, src)
	}
	if err := cli.TableOutput(*out); err != nil {
		return err
	}
	if *noPos && fs.Changed("positions-tensor") {
		return cli.Usagef("--no-positions and --positions-tensor contradict each other")
	}
	if *noTok && fs.Changed("tokenizer") {
		return cli.Usagef("--no-tokenizer and --tokenizer contradict each other")
	}
	spec := pack.ImportSpec{Src: src, Tensor: *tensor, PositionsTensor: *posTensor, NoPositions: *noPos, Tokenizer: *tok, NoTokenizer: *noTok,
		GivenBy: pack.GivenBy{PositionOffset: "--position-offset", Scale: "--scale", ComputeDType: "--compute-dtype"}}
	var err error
	if spec.DType, err = format.ParseDType(*dtypeStr); err != nil {
		return cli.Usagef("--dtype: %v", err)
	}
	if *shape != "" {
		if spec.Shape, err = parseShape(*shape); err != nil {
			return cli.Usagef("--shape: %v", err)
		}
	}
	if fs.Changed("position-offset") {
		if *posOffset < 0 {
			return cli.Usagef("--position-offset %d: want 0 or more", *posOffset)
		}
		spec.PositionOffset = posOffset
	}
	if fs.Changed("scale") {
		spec.Scale = scale
	}
	if fs.Changed("compute-dtype") {
		d, err := pack.ParseComputeDType(*compute)
		if err != nil {
			return cli.Usagef("--compute-dtype: %v", err)
		}
		spec.ComputeDType = &d
	}
	progress, finish := cli.NewProgress(e.Stderr, *quiet, "importing")
	start := time.Now()
	info, err := pack.Import(context.Background(), *out, spec, packOptions(progress, *force))
	finish()
	if err != nil {
		return importHint(err)
	}
	for _, w := range info.Warnings {
		fmt.Fprintf(e.Stderr, "embpack import: warning: %s\n", w)
	}
	if !*quiet {
		summarize(e, *out, time.Since(start))
		fmt.Fprintf(e.Stderr, "embpack: token table %s (%s %v)", info.Tensor, info.TensorDType, info.TensorShape)
		if info.PositionsTensor != "" {
			fmt.Fprintf(e.Stderr, ", positions %s (%s %v, position 0 at row %d)", info.PositionsTensor, info.PositionsDType, info.PositionsShape, info.PositionOffset)
		}
		if info.TokenScale != 0 && info.TokenScale != 1 {
			fmt.Fprintf(e.Stderr, ", scale %v", info.TokenScale)
		}
		if info.ComputeDType != "" {
			fmt.Fprintf(e.Stderr, ", computed in %s", info.ComputeDType)
		}
		if info.Tokenizer != nil {
			fmt.Fprintf(e.Stderr, ", tokenizer from %s (%d ids)", info.Tokenizer.Source, info.TokenizerIDs)
		}
		if info.Pooling != nil {
			fmt.Fprintf(e.Stderr, ", pooling %s", describePooling(*info.Pooling))
		}
		fmt.Fprintln(e.Stderr)
	}
	return nil
}

// importHint turns an import error into one about the flags that resolve
// it (the pack package's errors name no flags).
func importHint(err error) error {
	var ce *pack.ChoiceError
	var cfg *pack.ConfigError
	var se *pack.SpecError
	switch {
	case errors.As(err, &se) && se.Field == "ImportSpec.Shape" && se.Value == "not given":
		return fmt.Errorf("%s with --shape ROWSxDIM", se.Problem)
	case errors.As(err, &ce) && ce.Table == "token":
		return fmt.Errorf("%w; name the token table with --tensor NAME", err)
	case errors.As(err, &ce):
		return fmt.Errorf("%w; name the positional table with --positions-tensor NAME, or import without one with --no-positions", err)
	case errors.As(err, &cfg):
		return fmt.Errorf("%w; --position-offset, --scale and --compute-dtype give the conventions without it", err)
	case errors.As(err, new(*pack.TokenizerError)):
		return fmt.Errorf("%w; import without it with --no-tokenizer, or name another with --tokenizer PATH", err)
	}
	return specError(err, map[string]string{"ImportSpec.ComputeDType": "--compute-dtype", "ImportSpec.Shape": "--shape"})
}

func parseShape(s string) ([2]int64, error) {
	r, d, ok := strings.Cut(strings.ToLower(s), "x")
	if !ok {
		return [2]int64{}, fmt.Errorf("%q is not ROWSxDIM", s)
	}
	rows, err1 := strconv.ParseInt(r, 10, 64)
	dim, err2 := strconv.ParseInt(d, 10, 64)
	if err1 != nil || err2 != nil || rows < 1 || dim < 1 {
		return [2]int64{}, fmt.Errorf("%q is not ROWSxDIM with positive integers", s)
	}
	return [2]int64{rows, dim}, nil
}

// listTensors prints the checkpoint's tensors sorted by name in aligned
// columns. It streams: one pass measures the columns, a second prints, so
// that a checkpoint of a million tensors is not held as text.
func listTensors(e env, src string) error {
	ck, err := safetensors.OpenCheckpoint(src)
	if err != nil {
		return err
	}
	defer ck.Close()
	shape := func(s []int64) string { return fmt.Sprint(s) }
	w := [3]int{len("name"), len("dtype"), len("shape")}
	for t := range ck.All() {
		w = [3]int{max(w[0], len(t.Name)), max(w[1], len(t.DType)), max(w[2], len(shape(t.Shape)))}
	}
	bw := bufio.NewWriterSize(e.Stdout, 64<<10)
	fmt.Fprintf(bw, "%-*s  %-*s  %-*s  %s\n", w[0], "name", w[1], "dtype", w[2], "shape", "file")
	for t := range ck.All() {
		fmt.Fprintf(bw, "%-*s  %-*s  %-*s  %s\n", w[0], t.Name, w[1], t.DType, w[2], shape(t.Shape), shortName(t.File))
	}
	return bw.Flush()
}

func shortName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}

// describePooling says how a table pools text: "mean", "cls, normalised".
func describePooling(p pack.Pooling) string {
	if p.Normalize {
		return p.Mode + ", normalised"
	}
	return p.Mode
}
