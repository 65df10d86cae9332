package main

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"github.com/embstore/embstore/internal/cli"
	"github.com/embstore/embstore/internal/vecout"
	"github.com/embstore/embstore/store"
)

var bagCommand = cli.Command{
	Name:     "embquery bag",
	Synopsis: "embquery bag FILE [--ids 1,2,3,4] [--offsets 0,2 | --bag-size K] [--mode sum|mean|max] [flags]",
	Help: `
Bag pools the rows of bags of ids into one row per bag, as
torch.nn.functional.embedding_bag(ids, weight, offsets, mode=...) does.
Ids come from --ids or from standard input (all are read before pooling).
Bags are given by --offsets (where each bag starts in the ids; the first
must be 0), by --bag-size K (consecutive bags of K ids, like a 2-D input), or,
with neither, all ids form one bag.

--padding-idx P skips ids equal to P (not counted by mean; negative counts from
the end of the table, as in torch); --weights gives one weight per id (mode
sum only); --include-last-offset says the last offset ends the last bag.
Empty bags pool to zeros. Sums accumulate in float32 in id order, so they can
differ from torch's in the last bits (torch's order depends on its build).`,
}

func runBag(e env, args []string) error {
	fs := cli.NewFlagSet(bagCommand)
	idList := cli.ListFlag(fs, "ids", "comma-separated token `ids` (once); without it, ids are read from standard input")
	offList := cli.ListFlag(fs, "offsets", "comma-separated start of each bag in the ids (once)")
	bagSize := fs.Int("bag-size", 0, "pool consecutive bags of `K` ids (instead of --offsets)")
	mode := fs.String("mode", "mean", "pooling: sum, mean or max")
	includeLast := fs.Bool("include-last-offset", false, "the last offset is the end of the last bag")
	weightList := cli.ListFlag(fs, "weights", "comma-separated per-sample weights, one per id (mode sum; once)")
	padding := fs.Int64("padding-idx", 0, "skip ids equal to `P` (negative counts from the end)")
	outFormat := fs.String("format", "text", "output format: text, json, raw or npy")
	threads := fs.Int("threads", runtime.GOMAXPROCS(0), "goroutines that gather a large batch together")
	if err := cli.Parse(fs, bagCommand, args, e.Stdout); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return cli.Usagef("want exactly one table FILE, got %d arguments", fs.NArg())
	}
	if err := checkThreads(*threads); err != nil {
		return err
	}
	opts := &store.BagOptions{IncludeLastOffset: *includeLast}
	if fs.Changed("padding-idx") {
		opts.PaddingIdx = padding
	}
	switch *mode {
	case "sum":
		opts.Mode = store.BagSum
	case "mean":
		opts.Mode = store.BagMean
	case "max":
		opts.Mode = store.BagMax
	default:
		return cli.Usagef("--mode %q: want sum, mean or max", *mode)
	}
	if fs.Changed("offsets") && fs.Changed("bag-size") {
		return cli.Usagef("give --offsets or --bag-size, not both")
	}
	if fs.Changed("bag-size") && *bagSize < 1 {
		return cli.Usagef("--bag-size %d: want a positive size", *bagSize)
	}
	if *includeLast && !fs.Changed("offsets") {
		return cli.Usagef("--include-last-offset applies to --offsets")
	}
	if !validFormat(*outFormat) {
		return cli.Usagef("--format %q: want text, json, raw or npy", *outFormat)
	}
	var ids []int64
	var err error
	if fs.Changed("ids") {
		if ids, err = cli.ParseIDList(*idList); err != nil {
			return cli.Usagef("--ids: %v", err)
		}
	} else if ids, err = readAll(newStdinIDs(e.Stdin, "standard input")); err != nil {
		return err
	}
	var offsets []int64
	switch {
	case fs.Changed("offsets"):
		if offsets, err = cli.ParseIDList(*offList); err != nil {
			return cli.Usagef("--offsets: %v", err)
		}
	case fs.Changed("bag-size"):
		if len(ids)%*bagSize != 0 {
			return fmt.Errorf("%d ids are not a whole number of bags of %d", len(ids), *bagSize)
		}
		for o := 0; o < len(ids); o += *bagSize {
			offsets = append(offsets, int64(o))
		}
	default:
		offsets = []int64{0}
	}
	if fs.Changed("weights") {
		if opts.PerSampleWeights, err = parseWeights(*weightList); err != nil {
			return cli.Usagef("--weights: %v", err)
		}
		if len(opts.PerSampleWeights) != len(ids) {
			return cli.Usagef("--weights: %d weights for %d ids", len(opts.PerSampleWeights), len(ids))
		}
		if opts.Mode != store.BagSum {
			return cli.Usagef("--weights needs --mode sum, as in torch")
		}
	}

	t, err := store.Open(fs.Arg(0), &store.Options{Threads: *threads})
	if err != nil {
		return err
	}
	defer t.Close()
	bags := len(offsets)
	if *includeLast {
		bags--
	}
	dst := make([]float32, max(0, bags)*t.Header().Dim)
	if err := t.Bag(dst, ids, offsets, opts); err != nil {
		return err
	}
	out, err := vecout.New(e.Stdout, *outFormat, t.Header().Dim, int64(max(0, bags)))
	if err != nil {
		return err
	}
	if err := out.WriteRows(dst); err != nil {
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return tableUnchanged(t)
}

func parseWeights(s string) ([]float32, error) {
	parts := strings.Split(s, ",")
	w := make([]float32, len(parts))
	for i, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 32)
		if err != nil {
			return nil, fmt.Errorf("weight %d: %q is not a number", i+1, p)
		}
		w[i] = float32(v)
	}
	return w, nil
}
