package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/embstore/embstore/internal/cli"
	"github.com/embstore/embstore/internal/vecout"
	"github.com/embstore/embstore/pack"
	"github.com/embstore/embstore/store"
)

var demoCommand = cli.Command{
	Name:     "embpack demo",
	Synopsis: "embpack demo [-o FILE [--force]] [--format text|json]",
	Help: `
Demo runs embstore's main job end to end on the seed example:

    torch.manual_seed(123)
    wte = torch.nn.Embedding(50257, 256)   # token table
    wpe = torch.nn.Embedding(4, 256)       # positional table
    ids = [2, 3, 5, 1]
    x = wte(ids) + wpe(range(4))

It draws both tables exactly as PyTorch does (AVX2 math path), writes them to a
table file (a temporary one unless -o is given), maps it with the store and
prints the four input embeddings, which equal torch's bit for bit.`,
}

func runDemo(e env, args []string) error {
	fs := cli.NewFlagSet(demoCommand)
	out := fs.StringP("output", "o", "", "keep the table in `FILE` instead of a temporary file")
	force := fs.BoolP("force", "f", false, "replace FILE if it exists")
	outFormat := fs.String("format", "text", "output format: text or json")
	if err := cli.Parse(fs, demoCommand, args, e.Stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("unexpected argument %q", fs.Arg(0))
	}
	if *outFormat != "text" && *outFormat != "json" {
		return cli.Usagef("--format %q: want text or json", *outFormat)
	}
	path := *out
	if path == "" {
		dir, err := os.MkdirTemp("", "embstore-demo-")
		if err != nil {
			return err
		}
		cancel := cli.OnInterrupt(func() { os.RemoveAll(dir) })
		defer cancel()
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "seed123.emb")
	} else if err := cli.TableOutput(path); err != nil {
		return err
	}
	spec := pack.SeedSpec{Rows: 50257, Dim: 256, Seed: 123, Positions: 4, Init: pack.Init{Kind: pack.InitEmbedding}, Math: pack.MathAVX2}
	if err := pack.Seed(context.Background(), path, spec, packOptions(nil, *force)); err != nil {
		return err
	}
	t, err := store.Open(path, nil)
	if err != nil {
		return err
	}
	defer t.Close()
	ids := []int64{2, 3, 5, 1}
	vals := make([]float32, len(ids)*t.Header().Dim)
	if err := t.LookupPositions(vals, ids, len(ids), 0); err != nil {
		return err
	}
	fmt.Fprintf(e.Stderr, "embpack demo: seed 123, 50257 x 256 token table + 4 positions; input embeddings of ids 2,3,5,1:\n")
	w, err := vecout.New(e.Stdout, *outFormat, t.Header().Dim, int64(len(ids)))
	if err != nil {
		return err
	}
	if err := w.WriteRows(vals); err != nil {
		return err
	}
	return w.Close()
}
