package main

import (
	"context"
	"fmt"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/cli"
	"github.com/embstore/embstore/pack"
)

var exportCommand = cli.Command{
	Name:     "embpack export",
	Synopsis: "embpack export FILE -o OUT.safetensors [--dtype f32|f16|bf16] [--force]\n       embpack export FILE -o - > OUT.safetensors\n       embpack export FILE --to word2vec|word2vec-text|glove -o OUT",
	Help: `
Export writes a table's token table (and positional table) as a safetensors
file, in the reference implementation's layout (header padded to 8 bytes,
data aligned), loadable with safetensors.torch.load_file. Tensors keep the
names they were imported under, or are called embeddings.weight and
position_embeddings.weight. Token values are stored as --dtype (default: the
table's dtype; f32 for int8 tables, which safetensors cannot represent); the
positional table stays f32, as tables hold it. The
__metadata__ carries the table's provenance, position offset and token scale,
so 'embpack import' of the export gives the same lookups.

-o - writes the file to standard output as a stream (never to a terminal).
` + exportWordVectorsHelp,
}

func runExport(e env, args []string) error {
	fs := cli.NewFlagSet(exportCommand)
	dtypeStr := fs.String("dtype", "", "dtype of the exported values: f32, f16 or bf16 (default: the table's)")
	out := fs.StringP("output", "o", "", "write the safetensors file to `OUT` (required; - for standard output)")
	force := fs.BoolP("force", "f", false, "replace OUT if it exists")
	quiet := fs.BoolP("quiet", "q", false, "print nothing on success")
	to := fs.String("to", "", "write word vectors in `FORMAT`: word2vec, word2vec-text or glove (default: safetensors)")
	if err := cli.Parse(fs, exportCommand, args, e.Stdout); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return cli.Usagef("want exactly one FILE, got %d arguments", fs.NArg())
	}
	if *out == "" {
		return cli.Usagef("--output is required")
	}
	if fs.Changed("to") {
		return runExportWordVectors(e, fs, *to, fs.Arg(0), *out, *force, *quiet)
	}
	var dtype format.DType
	if *dtypeStr != "" {
		var err error
		if dtype, err = format.ParseDType(*dtypeStr); err != nil || dtype == format.Int8 {
			return cli.Usagef("--dtype %q: want f32, f16 or bf16", *dtypeStr)
		}
	}
	if *out == "-" {
		if *force {
			return cli.Usagef("--force applies to a file, not to standard output")
		}
		if cli.IsTerminal(e.Stdout) {
			return cli.Usagef("-o -: standard output is a terminal; redirect it to a file or a pipe")
		}
		_, err := pack.ExportTo(context.Background(), e.Stdout, fs.Arg(0), dtype, packOptions(nil, false))
		return err
	}
	info, err := pack.Export(context.Background(), *out, fs.Arg(0), dtype, packOptions(nil, *force))
	if err != nil {
		return err
	}
	if !*quiet {
		fmt.Fprintf(e.Stderr, "embpack: wrote %s", *out)
		if info.MaxAbsError > 0 {
			fmt.Fprintf(e.Stderr, " (%s, largest absolute error %g)", info.DType, info.MaxAbsError)
		}
		fmt.Fprintln(e.Stderr)
	}
	return nil
}
