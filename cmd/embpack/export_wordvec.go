package main

import (
	"context"
	"fmt"

	"github.com/embstore/embstore/internal/cli"
	"github.com/embstore/embstore/pack"
	"github.com/spf13/pflag"
)

// The word-vector side of 'embpack export': --to word2vec, word2vec-text or
// glove.

const exportWordVectorsHelp = `
--to word2vec|word2vec-text|glove writes the table as a classic word-vector
file instead: every token row under its vocabulary string, as lookups return
it. Binary word2vec holds the float32 bits, so a table imported from word2vec
binary exports to the same vectors bit for bit; text holds the shortest decimal
that reads back to the same float32. A table without a word for every row (no
vocabulary section: a seeded table, or a checkpoint imported without its
tokenizer) is refused, as is a word the format cannot hold (a space in binary
word2vec).`

func runExportWordVectors(e env, fs *pflag.FlagSet, to, src, out string, force, quiet bool) error {
	if fs.Changed("dtype") {
		return cli.Usagef("--dtype applies to safetensors; word-vector files hold float32 (binary) or decimals (text)")
	}
	f := pack.WordVectorFormat(to)
	switch f {
	case pack.Word2Vec, pack.Word2VecText, pack.GloVe:
	default:
		return cli.Usagef("--to %q: want word2vec, word2vec-text or glove", to)
	}
	if out == "-" {
		if force {
			return cli.Usagef("--force applies to a file, not to standard output")
		}
		if f == pack.Word2Vec && cli.IsTerminal(e.Stdout) {
			return cli.Usagef("-o -: standard output is a terminal; redirect binary word2vec to a file or a pipe")
		}
		return pack.ExportWordVectorsTo(context.Background(), e.Stdout, src, f, packOptions(nil, false))
	}
	progress, finish := cli.NewProgress(e.Stderr, quiet, "exporting")
	err := pack.ExportWordVectors(context.Background(), out, src, f, packOptions(progress, force))
	finish()
	if err != nil {
		return err
	}
	if !quiet {
		fmt.Fprintf(e.Stderr, "embpack: wrote %s (%s)\n", out, f)
	}
	return nil
}
