package main

import (
	"context"
	"fmt"
	"time"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/cli"
	"github.com/embstore/embstore/pack"
)

var convertCommand = cli.Command{
	Name:     "embpack convert",
	Synopsis: "embpack convert FILE [--dtype f32|f16|bf16|int8] [--tokenizer PATH | --no-tokenizer] [--norms | --no-norms] -o OUT [--force]",
	Help: `
Convert writes a table again with its token rows stored in another dtype:
f16 and bf16 round to nearest even as torch's .to() does; int8 quantises each
row to bytes with a per-row scale and bias (FBGEMM's fused 8-bit row-wise
format, torch's embedding_bag_byte_prepack), keeping every value within half a
quantisation step. Lookups always return float32. The positional table stays
float32; provenance carries over, and the metadata records the conversion and
the largest absolute error it made ('embpack inspect' shows it).

Every other section carries over: the vocabulary, the tokenizer, the norms,
fastText subwords (converted with the token rows) and the metadata's pooling,
vocabulary and tokenizer keys. Rows whose dtype does not change are copied
byte for byte. --tokenizer PATH replaces the tokenizer and its vocabulary (a
model directory or a tokenizer file, as 'embpack import' reads them);
--no-tokenizer drops them. --norms adds a norms section (each row's L2 norm,
as lookups return the row), --no-norms drops it. Without --dtype the rows keep
their dtype; at least one of these flags is needed.`,
}

func runConvert(e env, args []string) error {
	fs := cli.NewFlagSet(convertCommand)
	dtypeStr := fs.String("dtype", "", "dtype to store token rows as: f32, f16, bf16 or int8 (default: as they are)")
	tok := fs.String("tokenizer", "", "replace the tokenizer and vocabulary with the tokenizer at `PATH`")
	noTok := fs.Bool("no-tokenizer", false, "drop the tokenizer and its vocabulary")
	norms := fs.Bool("norms", false, "add a norms section")
	noNorms := fs.Bool("no-norms", false, "drop the norms section")
	out := fs.StringP("output", "o", "", "write the converted table to `OUT` (required)")
	force := fs.BoolP("force", "f", false, "replace OUT if it exists")
	quiet := fs.BoolP("quiet", "q", false, "print nothing on success; no progress bar")
	if err := cli.Parse(fs, convertCommand, args, e.Stdout); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return cli.Usagef("want exactly one FILE, got %d arguments", fs.NArg())
	}
	switch {
	case *noTok && fs.Changed("tokenizer"):
		return cli.Usagef("--no-tokenizer and --tokenizer contradict each other")
	case *norms && *noNorms:
		return cli.Usagef("--norms and --no-norms contradict each other")
	case !fs.Changed("dtype") && !fs.Changed("tokenizer") && !*noTok && !*norms && !*noNorms:
		return cli.Usagef("nothing to change: give --dtype, --tokenizer, --no-tokenizer, --norms or --no-norms")
	}
	if err := cli.TableOutput(*out); err != nil {
		return err
	}
	spec := pack.ConvertSpec{Tokenizer: *tok, NoTokenizer: *noTok}
	if fs.Changed("dtype") {
		dtype, err := format.ParseDType(*dtypeStr)
		if err != nil {
			return cli.Usagef("--dtype: %v", err)
		}
		spec.DType = dtype
	}
	switch {
	case *norms:
		spec.Norms = pack.NormsAdd
	case *noNorms:
		spec.Norms = pack.NormsDrop
	}
	progress, finish := cli.NewProgress(e.Stderr, *quiet, "converting")
	start := time.Now()
	info, err := pack.ConvertWith(context.Background(), *out, fs.Arg(0), spec, packOptions(progress, *force))
	finish()
	if err != nil {
		return specError(err, map[string]string{"ConvertSpec.Tokenizer": "--tokenizer"})
	}
	if !*quiet {
		summarize(e, *out, time.Since(start))
		fmt.Fprintf(e.Stderr, "embpack: %s -> %s, largest absolute error %g\n", info.From, info.To, info.MaxAbsError)
	}
	return nil
}
