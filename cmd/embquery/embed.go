package main

import (
	"fmt"
	"io"
	"runtime"

	"github.com/embstore/embstore/internal/cli"
	"github.com/embstore/embstore/internal/errctx"
	"github.com/embstore/embstore/internal/pooling"
	"github.com/embstore/embstore/internal/vecout"
	"github.com/embstore/embstore/store"
)

var embedCommand = cli.Command{
	Name:     "embquery embed",
	Synopsis: "embquery embed FILE [--text S]... [--jsonl] [--pooling mean|max|cls|last] [--normalize] [--format text|json|raw|npy]",
	Help: `
Embed turns each text into one vector: the text is tokenized with the
table's tokenizer (special tokens added, unless --add-special-tokens=false),
and the rows of its tokens are pooled. Texts come from --text (repeatable),
or, without it, from standard input: one text per line, or with --jsonl one
JSON string per line. Lines are answered as they come (except with --format
npy, whose header needs the count).

Pooling: mean (the mean of the rows: bit for bit what 'embquery bag --mode
mean' gives for the same ids, and what model2vec-style static embedding
models do), max (the maximum of each column), cls (the first token's row)
or last (the last token's row). --normalize divides each vector by its
Euclidean norm. Both default to what the table's metadata records under
"pooling" (embquery serve uses the same default), else mean without
normalisation. A text that makes no tokens is an error, and so is a shard
(embpack shard) that holds part of its table: its tokenizer's ids are the
whole table's rows.

Output formats as for lookup: text, json, raw, npy.`,
}

func runEmbed(e env, args []string) error {
	fs := cli.NewFlagSet(embedCommand)
	texts := fs.StringArray("text", nil, "embed `TEXT` (repeatable); without it, texts are read from standard input, one per line")
	jsonl := fs.Bool("jsonl", false, "standard input holds one JSON string per line")
	poolName := fs.String("pooling", "", "mean, max, cls or last (default: the table's metadata, else mean)")
	normalize := fs.Bool("normalize", false, "L2-normalise each vector (default: the table's metadata, else no)")
	special := fs.Bool("add-special-tokens", true, "add the special tokens the model adds (--add-special-tokens=false: none)")
	outFormat := fs.String("format", "text", "output format: text, json, raw or npy")
	threads := fs.Int("threads", runtime.GOMAXPROCS(0), "goroutines that gather a large batch together")
	if err := cli.Parse(fs, embedCommand, args, e.Stdout); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return cli.Usagef("want exactly one table FILE, got %d arguments", fs.NArg())
	}
	if err := checkThreads(*threads); err != nil {
		return err
	}
	var mode pooling.Mode
	if fs.Changed("pooling") {
		var err error
		if mode, err = pooling.ParseMode(*poolName); err != nil {
			return cli.Usagef("--pooling %q: want mean, max, cls or last", *poolName)
		}
	}
	switch {
	case !validFormat(*outFormat):
		return cli.Usagef("--format %q: want text, json, raw or npy", *outFormat)
	case fs.Changed("text") && *jsonl:
		return cli.Usagef("--jsonl says how standard input holds texts; it does not go with --text")
	}
	path := fs.Arg(0)
	t, err := store.Open(path, &store.Options{Threads: *threads})
	if err != nil {
		return err
	}
	defer t.Close()
	tk, err := textTokenizer(t, path)
	if err != nil {
		return err
	}
	pool := pooling.Pooling{Mode: mode, Normalize: *normalize}
	if !fs.Changed("pooling") || !fs.Changed("normalize") {
		def, err := pooling.FromMetadata(t.Metadata())
		if err != nil {
			return errctx.In("embstore", path, err)
		}
		if !fs.Changed("pooling") {
			pool.Mode = def.Mode
		}
		if !fs.Changed("normalize") {
			pool.Normalize = def.Normalize
		}
	}

	var src textSource = &listTexts{texts: *texts}
	var lines *lineTexts
	if !fs.Changed("text") {
		lines = newLineTexts(e.Stdin, "text", *jsonl, true)
		src = lines
	}
	rows := int64(-1)
	if *outFormat == "npy" { // the header needs the count: collect the texts
		all, err := allTexts(src)
		if err != nil {
			return err
		}
		src, rows = &listTexts{texts: all}, int64(len(all))
	}
	out, err := vecout.New(e.Stdout, *outFormat, t.Header().Dim, rows)
	if err != nil {
		return err
	}
	em := &embedder{t: t, pool: pool, row: make([]float32, t.Header().Dim)}
	for n := 1; ; n++ {
		text, err := src.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			out.Close()
			return err
		}
		em.ids = tk.Encode(em.ids[:0], text, *special)
		if err := em.embed(); err != nil {
			out.Close()
			where := fmt.Sprintf("text %d", n)
			if lines != nil {
				where = fmt.Sprintf("line %d of standard input", lines.line)
			}
			return fmt.Errorf("%s: %w", where, err)
		}
		if err := out.WriteRows(em.row); err != nil {
			return err
		}
		if src.waiting() {
			if err := out.Flush(); err != nil {
				return err
			}
		}
	}
	if err := out.Close(); err != nil {
		return err
	}
	return tableUnchanged(t)
}

// An embedder pools the rows of one text's ids into row.
type embedder struct {
	t    *store.Table
	pool pooling.Pooling
	ids  []int64
	row  []float32
}

var firstBag = []int64{0}

func (em *embedder) embed() error {
	ids := em.ids
	if len(ids) == 0 {
		return fmt.Errorf("the text makes no tokens")
	}
	var err error
	switch em.pool.Mode {
	case pooling.Mean:
		err = em.t.Bag(em.row, ids, firstBag, &store.BagOptions{Mode: store.BagMean})
	case pooling.Max:
		err = em.t.Bag(em.row, ids, firstBag, &store.BagOptions{Mode: store.BagMax})
	case pooling.CLS:
		err = em.t.Lookup(em.row, ids[:1])
	case pooling.Last:
		err = em.t.Lookup(em.row, ids[len(ids)-1:])
	}
	if err != nil {
		return err
	}
	if em.pool.Normalize {
		pooling.Normalize(em.row, len(em.row))
	}
	return nil
}
