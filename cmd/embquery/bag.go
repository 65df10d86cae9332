package main

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/embstore/embstore/internal/cli"
	"github.com/embstore/embstore/internal/fma32"
	"github.com/embstore/embstore/internal/vecout"
	"github.com/embstore/embstore/store"
)

var bagCommand = cli.Command{
	Name:     "embquery bag",
	Synopsis: "embquery bag FILE [--ids 1,2,3,4 | --text S... | --word W... | --words] [--offsets 0,2 | --bag-size K] [--mode sum|mean|max] [flags]",
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
Empty bags pool to zeros.

Instead of ids: --text S (repeatable) pools the tokens of each text, one bag
per text, tokenized with the table's tokenizer (special tokens added unless
--add-special-tokens=false); --text S --mode mean is what 'embquery embed
--pooling mean' gives. --word W (repeatable), or --words with one word per
line of standard input, pools word vectors (bags as --offsets or --bag-size
say, like ids): the words' rows, and, for a word outside the vocabulary of a
fastText table, fastText's vector of its character n-grams, pooled with the
same float32 arithmetic; another unknown word is an error naming it. Sums accumulate in float32 in id order, so they can
differ from torch's in the last bits (torch's order depends on its build).`,
}

func runBag(e env, args []string) error {
	fs := cli.NewFlagSet(bagCommand)
	idList := cli.ListFlag(fs, "ids", "comma-separated token `ids` (once); without it, ids are read from standard input")
	texts := fs.StringArray("text", nil, "pool the tokens of `TEXT`, one bag per text (repeatable)")
	special := fs.Bool("add-special-tokens", true, "with --text: add the special tokens the model adds")
	wordList := fs.StringArray("word", nil, "pool the vector of `WORD` (repeatable)")
	words := fs.Bool("words", false, "pool the vectors of the words on standard input, one per line")
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
	inputs := 0
	for _, name := range []string{"ids", "text", "word", "words"} {
		if fs.Changed(name) {
			inputs++
		}
	}
	wordInput := fs.Changed("word") || fs.Changed("words")
	switch {
	case inputs > 1:
		return cli.Usagef("give one of --ids, --text, --word and --words")
	case fs.Changed("add-special-tokens") && !fs.Changed("text"):
		return cli.Usagef("--add-special-tokens goes with --text")
	case fs.Changed("text") && (fs.Changed("offsets") || fs.Changed("bag-size")):
		return cli.Usagef("with --text each text is one bag: --offsets and --bag-size do not apply")
	case wordInput && fs.Changed("padding-idx"):
		return cli.Usagef("--padding-idx applies to ids and texts, not words")
	}
	var ids []int64
	var err error
	if fs.Changed("ids") {
		if ids, err = cli.ParseIDList(*idList); err != nil {
			return cli.Usagef("--ids: %v", err)
		}
	}
	t, err := store.Open(fs.Arg(0), &store.Options{Threads: *threads})
	if err != nil {
		return err
	}
	defer t.Close()
	var textStarts []int64
	var wordStrs []string
	switch {
	case fs.Changed("text"):
		tk, err := textTokenizer(t, fs.Arg(0))
		if err != nil {
			return err
		}
		ids = []int64{}
		for _, text := range *texts {
			textStarts = append(textStarts, int64(len(ids)))
			ids = tk.Encode(ids, text, *special)
		}
	case wordInput:
		wordStrs = *wordList
		if *words {
			read, err := allTexts(newLineTexts(e.Stdin, "word", false, false))
			if err != nil {
				return err
			}
			wordStrs = append(wordStrs, read...)
			if len(wordStrs) == 0 {
				return errors.New("no words on standard input")
			}
		}
		// ids stand for the words: their rows, or -1 for a word outside the
		// vocabulary (pooled through its vector).
		ids = make([]int64, len(wordStrs))
		for i, w := range wordStrs {
			id, err := t.WordID(w)
			var we *store.WordError
			switch {
			case errors.As(err, &we):
				ids[i] = -1
			case err != nil:
				return wordErr(err, fs.Arg(0), "")
			default:
				ids[i] = id
			}
		}
	case !fs.Changed("ids"):
		if ids, err = readAll(newStdinIDs(e.Stdin, "standard input")); err != nil {
			return err
		}
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
	case textStarts != nil:
		offsets = textStarts
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

	bags := len(offsets)
	if *includeLast {
		bags--
	}
	dst := make([]float32, max(0, bags)*t.Header().Dim)
	if slices.Contains(ids, -1) && wordInput {
		err = bagWords(t, fs.Arg(0), dst, ids, wordStrs, offsets, opts)
	} else {
		err = t.Bag(dst, ids, offsets, opts)
	}
	if err != nil {
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

// bagWords pools bags of words some of which are outside the vocabulary
// (ids[i] == -1), with the arithmetic of Table.Bag (kernel's reference
// pooling): rows summed in float32 in order from zero (with per-sample
// weights, a fused multiply-add each), the mean the sum times
// float32(1)/float32(n), the maximum started by the bag's first row and
// replaced only by strictly greater values; an empty bag is zeros. The
// words' vectors come from Table.Vector: a word's row, or fastText's
// vector of its n-grams.
func bagWords(t *store.Table, path string, dst []float32, ids []int64, words []string, offsets []int64, opts *store.BagOptions) error {
	dim := t.Header().Dim
	bags := len(dst) / dim
	// Check the bags as Bag does, with a valid row standing for the words
	// outside the vocabulary.
	check := slices.Clone(ids)
	for i, id := range check {
		if id < 0 {
			check[i] = 0
		}
	}
	if _, err := store.BoundsOf(t.Header()).CheckBag(dst, check, offsets, opts); err != nil {
		return err
	}
	if opts.IncludeLastOffset {
		last := offsets[len(offsets)-1]
		ids, offsets = ids[:last], offsets[:len(offsets)-1]
	}
	row := make([]float32, dim)
	for k := range bags {
		lo, hi := offsets[k], int64(len(ids))
		if k+1 < len(offsets) {
			hi = offsets[k+1]
		}
		out := dst[k*dim : (k+1)*dim]
		clear(out)
		for i := lo; i < hi; i++ {
			if err := t.Vector(row, words[i]); err != nil {
				return wordErr(err, path, fmt.Sprintf("word %d", i+1))
			}
			switch {
			case opts.Mode == store.BagMax && i == lo:
				copy(out, row)
			case opts.Mode == store.BagMax:
				for j, v := range row {
					if v > out[j] {
						out[j] = v
					}
				}
			case opts.PerSampleWeights != nil:
				w := opts.PerSampleWeights[i]
				for j, v := range row {
					out[j] = fma32.FMA(w, v, out[j])
				}
			default:
				for j, v := range row {
					out[j] += v
				}
			}
		}
		if opts.Mode == store.BagMean && hi > lo {
			inv := float32(1) / float32(hi-lo)
			for j := range out {
				out[j] *= inv
			}
		}
	}
	return nil
}
