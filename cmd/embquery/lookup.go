package main

import (
	"errors"
	"fmt"
	"io"
	"runtime"

	"github.com/embstore/embstore/internal/cli"
	"github.com/embstore/embstore/internal/errctx"
	"github.com/embstore/embstore/internal/vecout"
	"github.com/embstore/embstore/store"
)

var lookupCommand = cli.Command{
	Name:     "embquery lookup",
	Synopsis: "embquery lookup FILE [--ids 2,3,5,1 | --text S | --token T... | --word W... | --words] [--positions [--start K] [--seq-len T]] [--table tokens|positions] [--format text|json|raw|npy]",
	Help: `
Lookup prints the embedding rows of token ids, as torch.nn.Embedding returns
them, one row per id. Ids come from --ids, or, without it, from standard input
as whitespace-separated integers, read and answered as a stream, so
'seq 0 50256 | embquery lookup t.emb --format raw' never holds the whole
output, and each line of input is answered as soon as it is complete (a
program that writes one line of ids and waits gets its rows).

With --positions the positional table is added: the ids form sequences of
--seq-len ids each (by default all ids are one sequence), and the p-th id of
each sequence gets position start+p. --table positions prints rows of the
positional table itself (raw row numbers) instead.

Output formats: text (one row per line, every value with the digits that read
back as the same float32), json (an array of arrays), raw (little-endian
float32, row-major, nothing else) and npy (a NumPy .npy file). With npy the
ids read from standard input are collected first, since the file header holds
the row count. Ids and positions given with --ids, or collected for npy, are
all checked before anything is printed; when streaming, an id out of range
stops the output there, with an error and exit status 1.

Instead of ids: --text S looks up the tokens of a text, tokenized with the
table's tokenizer (special tokens added unless --add-special-tokens=false),
as one sequence for --positions; --token T (repeatable) looks up exact
vocabulary strings ("Ġworld" for GPT-2's " world"). --word W (repeatable),
or --words with one word per line of standard input (answered as they come),
prints word vectors: the word's row, or, for a word outside the vocabulary
of a fastText table (one imported with its subword buckets), fastText's
vector of the word's character n-grams; another unknown word is an error
naming it. Words have no positions.

JSON cannot hold NaN or infinities: --format json prints them as null (text,
raw and npy keep them). --ids may be given once. If the table file is
written to in place while lookup reads it, lookup fails at the end (the rows
printed may mix old and new values).`,
}

// lookupChunk is how many ids are looked up at a time when streaming.
const lookupChunk = 4096

func runLookup(e env, args []string) error {
	fs := cli.NewFlagSet(lookupCommand)
	idList := cli.ListFlag(fs, "ids", "comma-separated token `ids` (once); without it, ids are read from standard input")
	text := fs.String("text", "", "look up the tokens of `TEXT`, tokenized with the table's tokenizer")
	special := fs.Bool("add-special-tokens", true, "with --text: add the special tokens the model adds")
	tokens := fs.StringArray("token", nil, "look up the row of vocabulary string `TOKEN` (repeatable)")
	wordList := fs.StringArray("word", nil, "print the vector of `WORD` (repeatable)")
	words := fs.Bool("words", false, "print the vectors of the words on standard input, one per line")
	positions := fs.Bool("positions", false, "add the positional table")
	start := fs.Int64("start", 0, "with --positions: position of the first id of each sequence")
	seqLen := fs.Int("seq-len", 0, "with --positions: split the ids into sequences of `T` (default: one sequence)")
	table := fs.String("table", "tokens", "table to read: tokens, or positions (the positional table's raw rows)")
	outFormat := fs.String("format", "text", "output format: text, json, raw or npy")
	threads := fs.Int("threads", runtime.GOMAXPROCS(0), "goroutines that gather a large batch together")
	cold := addColdFlags(fs, false)
	if err := cli.Parse(fs, lookupCommand, args, e.Stdout); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return cli.Usagef("want exactly one table FILE, got %d arguments", fs.NArg())
	}
	if err := checkThreads(*threads); err != nil {
		return err
	}
	switch {
	case *table != "tokens" && *table != "positions":
		return cli.Usagef("--table %q: want tokens or positions", *table)
	case *table == "positions" && *positions:
		return cli.Usagef("--positions adds positions to token rows; it does not apply to --table positions")
	case !*positions && (fs.Changed("start") || fs.Changed("seq-len")):
		return cli.Usagef("--start and --seq-len apply only with --positions")
	case fs.Changed("seq-len") && *seqLen < 1:
		return cli.Usagef("--seq-len %d: want a positive sequence length", *seqLen)
	case *start < 0:
		return cli.Usagef("--start %d: positions are not negative", *start)
	}
	if !validFormat(*outFormat) {
		return cli.Usagef("--format %q: want text, json, raw or npy", *outFormat)
	}
	inputs := 0
	for _, name := range []string{"ids", "text", "token", "word", "words"} {
		if fs.Changed(name) {
			inputs++
		}
	}
	wordInput := fs.Changed("word") || fs.Changed("words")
	switch {
	case inputs > 1:
		return cli.Usagef("give one of --ids, --text, --token, --word and --words")
	case fs.Changed("add-special-tokens") && !fs.Changed("text"):
		return cli.Usagef("--add-special-tokens goes with --text")
	case (fs.Changed("text") || fs.Changed("token") || wordInput) && *table == "positions":
		return cli.Usagef("--table positions takes row numbers (--ids), not texts, tokens or words")
	case wordInput && *positions:
		return cli.Usagef("--positions adds positions to the tokens of a sequence; words have none (use --text or --token)")
	}
	var ids []int64
	if fs.Changed("ids") {
		var err error
		if ids, err = cli.ParseIDList(*idList); err != nil {
			return cli.Usagef("--ids: %v", err)
		}
	}

	opts := &store.Options{Threads: *threads}
	if err := cold.apply(fs, opts); err != nil {
		return err
	}
	t, err := store.Open(fs.Arg(0), opts)
	if err != nil {
		return err
	}
	defer t.Close()
	q := &lookup{t: t, table: *table, positions: *positions, start: *start, seqLen: *seqLen}
	if *table == "positions" && t.Header().Positions() == 0 {
		return errctx.In("embstore", fs.Arg(0), store.ErrNoPositions)
	}

	if wordInput {
		return lookupWords(e, t, fs.Arg(0), *wordList, *words, *outFormat)
	}
	switch {
	case fs.Changed("text"):
		tk, err := textTokenizer(t, fs.Arg(0))
		if err != nil {
			return err
		}
		if ids = tk.Encode(nil, *text, *special); len(ids) == 0 {
			return fmt.Errorf("--text %q makes no tokens", *text)
		}
	case fs.Changed("token"):
		if ids, err = tokenIDs(t, fs.Arg(0), *tokens); err != nil {
			return err
		}
	}

	src := idSource(nil)
	if ids == nil {
		src = newStdinIDs(e.Stdin, "standard input")
		if *outFormat == "npy" { // the header needs the count: collect the ids
			if ids, err = readAll(src); err != nil {
				return err
			}
		}
	}
	if ids != nil {
		if err := q.checkAll(ids); err != nil {
			return err
		}
		src = &sliceIDs{ids: ids}
	}
	rows := int64(-1)
	if ids != nil {
		rows = int64(len(ids))
	}
	out, err := vecout.New(e.Stdout, *outFormat, t.Header().Dim, rows)
	if err != nil {
		return err
	}
	if err := q.run(src, out); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return tableUnchanged(t)
}

// checkThreads checks a --threads value against what the store accepts.
func checkThreads(n int) error {
	if n < 1 || n > store.MaxThreads() {
		return cli.Usagef("--threads %d: want 1 to %d (4 per CPU)", n, store.MaxThreads())
	}
	return nil
}

// tableUnchanged fails if the table file was written to in place while the
// command read it: the rows printed may mix the old file's and the new's.
func tableUnchanged(t *store.Table) error {
	if err := t.CheckFile(); err != nil {
		return fmt.Errorf("%w; the rows printed may mix old and new values", err)
	}
	return nil
}

func validFormat(f string) bool {
	for _, name := range vecout.Formats {
		if f == name {
			return true
		}
	}
	return false
}

// lookup is one embquery lookup run.
type lookup struct {
	t         *store.Table
	table     string
	positions bool
	start     int64
	seqLen    int // 0: all ids are one sequence
}

// checkAll validates a whole id list before any output, with the store's
// checks (store.Bounds), which the lookups then make again per batch.
func (q *lookup) checkAll(ids []int64) error {
	b := store.BoundsOf(q.t.Header())
	if q.table == "positions" {
		return b.CheckPositionRows(ids)
	}
	if err := b.CheckIDs(ids); err != nil {
		return err
	}
	if !q.positions {
		return nil
	}
	if q.seqLen > 0 && len(ids)%q.seqLen != 0 {
		return fmt.Errorf("%d ids are not a whole number of sequences of %d", len(ids), q.seqLen)
	}
	n := q.seqLen
	if n == 0 {
		n = len(ids)
	}
	return b.CheckPositions(max(n, 1), q.start)
}

// run looks up the ids of src batch by batch and writes the rows to out,
// flushing after every batch: a source reading a pipe returns a short batch
// when a line is complete and no more input is waiting, and its rows go out
// before run waits for more. Sequences (--seq-len) are never cut: the ids of
// an incomplete sequence wait for the rest.
func (q *lookup) run(src idSource, out vecout.Writer) error {
	chunk := lookupChunk
	if q.positions && q.seqLen > 0 {
		chunk = max(1, lookupChunk/q.seqLen) * q.seqLen // whole sequences per chunk
	}
	ids := make([]int64, chunk)
	dst := make([]float32, chunk*q.t.Header().Dim)
	done := int64(0)
	have := 0 // ids of an incomplete sequence carried from the last batch
	for {
		n, err := src.next(ids[have:])
		n += have
		use := n
		if q.positions && q.seqLen > 0 {
			use = n / q.seqLen * q.seqLen
			if err == io.EOF && use != n {
				return fmt.Errorf("%d ids are not a whole number of sequences of %d", done+int64(n), q.seqLen)
			}
		}
		if use > 0 {
			batch, vals := ids[:use], dst[:use*q.t.Header().Dim]
			var lerr error
			switch {
			case q.table == "positions":
				lerr = q.t.LookupPositionRows(vals, batch)
			case !q.positions:
				lerr = q.t.Lookup(vals, batch)
			case q.seqLen == 0: // one sequence: the batch continues it
				lerr = q.t.LookupPositions(vals, batch, use, q.start+done)
			default:
				lerr = q.t.LookupPositions(vals, batch, q.seqLen, q.start)
			}
			if lerr != nil {
				return offsetIndexError(lerr, done)
			}
			if err := out.WriteRows(vals); err != nil {
				return err
			}
			if err := out.Flush(); err != nil {
				return err
			}
			done += int64(use)
		}
		have = copy(ids, ids[use:n])
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// offsetIndexError makes an *IndexError from a chunk refer to the index in
// the whole input.
func offsetIndexError(err error, base int64) error {
	var ie *store.IndexError
	if errors.As(err, &ie) {
		c := *ie
		c.Index += int(base)
		return &c
	}
	return err
}

// An idSource yields ids in order.
type idSource interface {
	// next fills ids with up to len(ids) ids and returns how many, and
	// io.EOF once there are no more.
	next(ids []int64) (int, error)
}

type sliceIDs struct {
	ids []int64
}

func (s *sliceIDs) next(ids []int64) (int, error) {
	n := copy(ids, s.ids)
	s.ids = s.ids[n:]
	if len(s.ids) == 0 {
		return n, io.EOF
	}
	return n, nil
}

func readAll(src idSource) ([]int64, error) {
	var all []int64
	buf := make([]int64, lookupChunk)
	for {
		n, err := src.next(buf)
		all = append(all, buf[:n]...)
		if err == io.EOF {
			if len(all) == 0 {
				return nil, errors.New("no ids on standard input")
			}
			return all, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// lookupWords prints the vectors of words: those given with --word, or,
// with fromStdin, one per line of standard input, answered as they come.
func lookupWords(e env, t *store.Table, path string, given []string, fromStdin bool, format string) error {
	var src textSource = &listTexts{texts: given}
	var lines *lineTexts
	if fromStdin {
		lines = newLineTexts(e.Stdin, "word", false, false)
		src = lines
	}
	rows := int64(len(given))
	if format == "npy" && fromStdin { // the header needs the count
		all, err := allTexts(src)
		if err != nil {
			return err
		}
		if len(all) == 0 {
			return errors.New("no words on standard input")
		}
		src, rows = &listTexts{texts: all}, int64(len(all))
	} else if fromStdin {
		rows = -1
	}
	out, err := vecout.New(e.Stdout, format, t.Header().Dim, rows)
	if err != nil {
		return err
	}
	row := make([]float32, t.Header().Dim)
	for n := 1; ; n++ {
		w, err := src.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			out.Close()
			return err
		}
		if err := t.Vector(row, w); err != nil {
			out.Close()
			where := fmt.Sprintf("--word %d", n)
			if lines != nil {
				where = fmt.Sprintf("line %d of standard input", lines.line)
			}
			return wordErr(err, path, where)
		}
		if err := out.WriteRows(row); err != nil {
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
