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
	Synopsis: "embpack convert FILE --dtype f32|f16|bf16|int8 -o OUT [--force]",
	Help: `
Convert writes a table again with its token rows stored in another dtype:
f16 and bf16 round to nearest even as torch's .to() does; int8 quantises each
row to bytes with a per-row scale and bias (FBGEMM's fused 8-bit row-wise
format, torch's embedding_bag_byte_prepack), keeping every value within half a
quantisation step. Lookups always return float32. The positional table stays
float32; provenance carries over, and the metadata records the conversion and
the largest absolute error it made ('embpack inspect' shows it).`,
}

func runConvert(e env, args []string) error {
	fs := cli.NewFlagSet(convertCommand)
	dtypeStr := fs.String("dtype", "", "dtype to store token rows as: f32, f16, bf16 or int8 (required)")
	out := fs.StringP("output", "o", "", "write the converted table to `OUT` (required)")
	force := fs.BoolP("force", "f", false, "replace OUT if it exists")
	quiet := fs.BoolP("quiet", "q", false, "print nothing on success; no progress bar")
	if err := cli.Parse(fs, convertCommand, args, e.Stdout); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return cli.Usagef("want exactly one FILE, got %d arguments", fs.NArg())
	}
	if !fs.Changed("dtype") {
		return cli.Usagef("--dtype is required")
	}
	if err := cli.TableOutput(*out); err != nil {
		return err
	}
	dtype, err := format.ParseDType(*dtypeStr)
	if err != nil {
		return cli.Usagef("--dtype: %v", err)
	}
	progress, finish := cli.NewProgress(e.Stderr, *quiet, "converting")
	start := time.Now()
	info, err := pack.Convert(context.Background(), *out, fs.Arg(0), dtype, packOptions(progress, *force))
	finish()
	if err != nil {
		return err
	}
	if !*quiet {
		summarize(e, *out, time.Since(start))
		fmt.Fprintf(e.Stderr, "embpack: %s -> %s, largest absolute error %g\n", info.From, info.To, info.MaxAbsError)
	}
	return nil
}
