package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"unicode/utf8"

	"github.com/embstore/embstore/internal/cli"
	"github.com/embstore/embstore/store"
)

var similarCommand = cli.Command{
	Name: "embquery similar",
	Synopsis: "embquery similar FILE (--id N|- | --word W|- | --vector - | --positive A,B [--negative C]) " +
		"[-k 10] [--metric cosine|dot|l2] [--exclude-query] [--restrict N] [--format text|json]",
	Help: `
Similar prints the rows most similar to a query, exactly: every row of the
table is scored (cosine similarity by default, or the dot product, or the
Euclidean distance with --metric l2), best first, with ties by the lower id.
Cosine uses the table's norms section when it has one.

The query is a row (--id N), the row of a word of the table's vocabulary
(--word W; a word the vocabulary lacks gets fastText's subword vector when
the table has a subword table), or vectors (--vector -). With '-', --id and
--word read one id or word per line of standard input, and --vector reads
one vector per line (the row width of numbers, separated by spaces, tabs or
commas, optionally inside [ ]). Queries read from standard input are
answered together, in passes over the table of up to --batch queries (each
pass reads the table once, however many queries it answers); a pass starts
when --batch queries are waiting or when no more input is buffered, so a
program that writes one line and waits gets its answer. Blank lines are
skipped.

--exclude-query leaves a row query's own row (--id, --word) out of its
results. --restrict N searches only the first N rows (gensim's
restrict_vocab: vocabularies are usually sorted by frequency).

--positive and --negative ask an analogy as gensim's most_similar does
(king - man + woman: --positive king,woman --negative man): the inputs are
words (comma-separated, or the flags repeated; quote a word holding a comma
as in CSV), each scaled to unit length, the positives added and the negatives
subtracted; the rows of highest cosine similarity to the mean are printed,
the input words left out.

Output: text prints one line per neighbour, rank (from 1), the word (or the
id when the table has no vocabulary or the row has no string; a word holding
a tab, a line break or bytes that are not UTF-8 is printed Go-quoted) and
the score, separated by tabs, with a blank line between queries. json prints
one line per query: an array of {"id", "word", "score"}, best first, "word"
only when the table has a vocabulary (bytes that are not UTF-8 become
U+FFFD). Scores are the shortest decimals that read back as the same
float32.`,
}

// similarBatchQueries is the default of --batch.
const similarBatchQueries = 256

// maxQueryLine bounds a line of standard input: a vector of the widest rows
// the format allows, written out in full, fits.
const maxQueryLine = 64 << 20

func runSimilar(e env, args []string) error {
	fs := cli.NewFlagSet(similarCommand)
	idArg := fs.String("id", "", "query: row `N`; - reads one id per line of standard input")
	wordArg := fs.String("word", "", "query: the row of word `W`; - reads one word per line of standard input")
	vectorArg := fs.String("vector", "", "query: vectors, one per line of standard input (give -)")
	positive := fs.StringSlice("positive", nil, "analogy: `words` added (gensim's most_similar positive)")
	negative := fs.StringSlice("negative", nil, "analogy: `words` subtracted (gensim's most_similar negative)")
	k := fs.IntP("k", "k", 10, "neighbours per query")
	metricName := fs.String("metric", "cosine", "score: cosine, dot or l2 (analogies: cosine)")
	excludeQuery := fs.Bool("exclude-query", false, "leave the query's own row out of its results (--id, --word)")
	restrict := fs.Int64("restrict", 0, "search only the first `N` rows")
	outFormat := fs.String("format", "text", "output format: text or json")
	batch := fs.Int("batch", similarBatchQueries, "queries from standard input answered in one pass, at most")
	threads := fs.Int("threads", runtime.GOMAXPROCS(0), "goroutines that search together")
	if err := cli.Parse(fs, similarCommand, args, e.Stdout); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return cli.Usagef("want exactly one table FILE, got %d arguments", fs.NArg())
	}
	if err := checkThreads(*threads); err != nil {
		return err
	}
	analogy := fs.Changed("positive") || fs.Changed("negative")
	kinds := 0
	for _, set := range []bool{fs.Changed("id"), fs.Changed("word"), fs.Changed("vector"), analogy} {
		if set {
			kinds++
		}
	}
	metric, err := store.ParseMetric(*metricName)
	switch {
	case kinds != 1:
		return cli.Usagef("give one query: --id, --word, --vector or --positive/--negative")
	case fs.Changed("vector") && *vectorArg != "-":
		return cli.Usagef("--vector %q: vectors are read from standard input: give --vector -", *vectorArg)
	case err != nil:
		return cli.Usagef("--metric: %v", err)
	case analogy && metric != store.Cosine:
		return cli.Usagef("--metric %s: analogies are scored by cosine similarity, as gensim's most_similar", metric)
	case analogy && len(*positive)+len(*negative) == 0:
		return cli.Usagef("--positive and --negative name no word")
	case *k < 1:
		return cli.Usagef("-k %d: want at least 1 neighbour", *k)
	case fs.Changed("restrict") && *restrict < 1:
		return cli.Usagef("--restrict %d: want at least 1 row", *restrict)
	case *outFormat != "text" && *outFormat != "json":
		return cli.Usagef("--format %q: want text or json", *outFormat)
	case *batch < 1:
		return cli.Usagef("--batch %d: want at least 1 query", *batch)
	}
	var id int64
	if fs.Changed("id") && *idArg != "-" {
		if id, err = cli.ParseID(*idArg); err != nil {
			return cli.Usagef("--id: %v", err)
		}
	}

	t, err := store.Open(fs.Arg(0), &store.Options{Threads: *threads})
	if err != nil {
		return err
	}
	defer t.Close()
	s, err := newSimilar(t, fs.Arg(0), e.Stdout, *outFormat, *k, *batch, *excludeQuery,
		&store.NearestOptions{Metric: metric, Restrict: *restrict}, fs.Changed("word") || analogy)
	if err != nil {
		return err
	}
	switch {
	case analogy:
		err = s.analogy(*positive, *negative)
	case fs.Changed("vector"):
		err = s.stream(e.Stdin, s.vectorLine)
	case *idArg == "-":
		err = s.stream(e.Stdin, s.idLine)
	case *wordArg == "-":
		err = s.stream(e.Stdin, s.wordLine)
	case fs.Changed("id"):
		if err = s.addID(id); err == nil {
			err = s.flush()
		}
	default:
		if err = s.addWord([]byte(*wordArg)); err == nil {
			err = s.flush()
		}
	}
	if err != nil {
		return err
	}
	if err := s.out.Flush(); err != nil {
		return err
	}
	return tableUnchanged(t)
}

// similar is one embquery similar run: the queries waiting for a pass and
// what answering them needs.
type similar struct {
	t       *store.Table
	path    string            // the table's file, for messages
	vocab   *store.Vocabulary // nil when the table has none
	dim     int
	out     *bufio.Writer
	json    bool
	k       int // neighbours asked for
	kq      int // neighbours searched per query: k, one more with exclude
	exclude bool
	opts    *store.NearestOptions
	// The pass being gathered: nq queries of dim values, each query's own
	// row (-1 for none) and its number in the output.
	queries []float32
	own     []int64
	nq, cap int
	done    int // queries answered
	dst     []store.Neighbour
	counts  []int
	word    []byte
	line    []byte
}

func newSimilar(t *store.Table, path string, w io.Writer, format string, k, batch int, exclude bool, opts *store.NearestOptions, needVocab bool) (*similar, error) {
	h := t.Header()
	s := &similar{t: t, path: path, dim: h.Dim, out: bufio.NewWriterSize(w, 64<<10), json: format == "json",
		k: k, exclude: exclude, opts: opts}
	v, err := t.Vocabulary()
	switch {
	case err == nil:
		s.vocab = v
	case errors.Is(err, store.ErrNoVocabulary) && needVocab:
		return nil, fmt.Errorf("%s has no vocabulary: words cannot be looked up (query by --id or --vector)", path)
	case !errors.Is(err, store.ErrNoVocabulary):
		return nil, err
	}
	// Rows searched: k past them only asks for room that stays empty.
	rows := h.Rows
	if opts.Restrict > 0 {
		rows = min(rows, opts.Restrict)
	}
	s.k = int(min(int64(k), max(rows, 1)))
	s.kq = s.k
	if exclude {
		s.kq = int(min(int64(s.k)+1, max(rows, 1)))
	}
	// A pass holds at most 64 MiB of results and of queries.
	s.cap = max(1, min(batch, (64<<20)/(16*s.kq), (64<<20)/(4*s.dim)))
	s.queries = make([]float32, s.cap*s.dim)
	s.own = make([]int64, s.cap)
	s.dst = make([]store.Neighbour, s.cap*s.kq)
	s.counts = make([]int, s.cap)
	return s, nil
}

// next returns the space for the next query's values.
func (s *similar) next() []float32 { return s.queries[s.nq*s.dim : (s.nq+1)*s.dim] }

// add counts the query just written to next(), whose own row is own (-1:
// none), and answers the pass when it is full.
func (s *similar) add(own int64) error {
	s.own[s.nq] = own
	s.nq++
	if s.nq == s.cap {
		return s.flush()
	}
	return nil
}

// addID queues row id as a query.
func (s *similar) addID(id int64) error {
	if err := s.t.Lookup(s.next(), []int64{id}); err != nil {
		var ie *store.IndexError
		if errors.As(err, &ie) {
			c := *ie
			c.Arg, c.Index = "id", -1
			return &c
		}
		return err
	}
	return s.add(id)
}

// addWord queues the row of word as a query, or, for a word the
// vocabulary lacks, its subword vector when the table has subwords.
func (s *similar) addWord(word []byte) error {
	id, err := s.vocab.IDBytes(word)
	if err == nil {
		return s.addID(id)
	}
	if !errors.Is(err, store.ErrNotInVocabulary) {
		return err
	}
	if err := s.vocab.WordVector(s.next(), string(word)); err != nil {
		return wordErr(err, s.path, "a query")
	}
	return s.add(-1)
}

// flush answers the queries waiting, in one pass over the table, and
// prints their neighbours.
func (s *similar) flush() error {
	if s.nq == 0 {
		return nil
	}
	nq := s.nq
	s.nq = 0
	if err := s.t.NearestBatch(s.dst[:nq*s.kq], s.counts[:nq], s.queries[:nq*s.dim], s.kq, s.opts); err != nil {
		if nq > 1 || s.done > 0 {
			return fmt.Errorf("queries %d to %d: %w", s.done+1, s.done+nq, err)
		}
		return err
	}
	for q := range nq {
		res := s.dst[q*s.kq : q*s.kq+s.counts[q]]
		if s.exclude && s.own[q] >= 0 {
			kept := res[:0]
			for _, nb := range res {
				if nb.ID != s.own[q] {
					kept = append(kept, nb)
				}
			}
			res = kept
		}
		if len(res) > s.k {
			res = res[:s.k]
		}
		if err := s.print(res); err != nil {
			return err
		}
		s.done++
	}
	return s.out.Flush()
}

// print writes one query's neighbours.
func (s *similar) print(res []store.Neighbour) error {
	var err error
	if s.json {
		s.out.WriteByte('[')
		for i, nb := range res {
			if i > 0 {
				s.out.WriteByte(',')
			}
			fmt.Fprintf(s.out, `{"id":%d`, nb.ID)
			if s.vocab != nil {
				if s.word, err = s.vocab.AppendString(s.word[:0], nb.ID); err != nil {
					return err
				}
				b, _ := json.Marshal(string(s.word)) // a string always marshals
				s.out.WriteString(`,"word":`)
				s.out.Write(b)
			}
			fmt.Fprintf(s.out, `,"score":%s}`, formatScore(nb.Score))
		}
		_, err = s.out.WriteString("]\n")
		return err
	}
	if s.done > 0 {
		s.out.WriteByte('\n')
	}
	for i, nb := range res {
		name := strconv.FormatInt(nb.ID, 10)
		if s.vocab != nil {
			if s.word, err = s.vocab.AppendString(s.word[:0], nb.ID); err != nil {
				return err
			}
			if len(s.word) > 0 {
				name = textWord(s.word)
			}
		}
		if _, err := fmt.Fprintf(s.out, "%d\t%s\t%s\n", i+1, name, formatScore(nb.Score)); err != nil {
			return err
		}
	}
	return nil
}

// formatScore returns the shortest decimal that reads back as v.
func formatScore(v float32) string { return strconv.FormatFloat(float64(v), 'g', -1, 32) }

// textWord returns word for the text output: as it is, or Go-quoted when
// it holds a tab, a line break or bytes that are not UTF-8.
func textWord(word []byte) string {
	if !utf8.Valid(word) || bytes.ContainsAny(word, "\t\n\r") {
		return strconv.Quote(string(word))
	}
	return string(word)
}

// analogy prints gensim's most_similar(positive, negative).
func (s *similar) analogy(positive, negative []string) error {
	terms := func(words []string, arg string) ([]store.Term, error) {
		ts := make([]store.Term, len(words))
		for i, w := range words {
			id, err := s.vocab.ID(w)
			switch {
			case err == nil:
				ts[i].ID = id
				continue
			case !errors.Is(err, store.ErrNotInVocabulary):
				return nil, err
			}
			vec := make([]float32, s.dim)
			if err := s.vocab.WordVector(vec, w); err != nil {
				return nil, wordErr(err, s.path, "--"+arg)
			}
			ts[i].Vector = vec
		}
		return ts, nil
	}
	pos, err := terms(positive, "positive")
	if err != nil {
		return err
	}
	neg, err := terms(negative, "negative")
	if err != nil {
		return err
	}
	n, err := s.t.MostSimilar(s.dst[:s.k], pos, neg, s.k, &store.SimilarOptions{Restrict: s.opts.Restrict})
	if err != nil {
		return err
	}
	return s.print(s.dst[:n])
}

// stream reads queries from r, one per line, and answers them in passes:
// when a pass is full, and when no more input is buffered (before waiting
// for more).
func (s *similar) stream(r io.Reader, parse func(line []byte) error) error {
	br := bufio.NewReaderSize(r, 1<<20)
	for n := 1; ; n++ {
		line, err := s.readLine(br)
		if len(bytes.TrimSpace(line)) > 0 {
			if perr := parse(line); perr != nil {
				return fmt.Errorf("line %d of standard input: %w", n, perr)
			}
		}
		if err == io.EOF {
			return s.flush()
		}
		if err != nil {
			return fmt.Errorf("line %d of standard input: %w", n, err)
		}
		if br.Buffered() == 0 {
			if err := s.flush(); err != nil {
				return err
			}
		}
	}
}

// readLine returns the next line of br without its line break, and io.EOF
// with the last one.
func (s *similar) readLine(br *bufio.Reader) ([]byte, error) {
	s.line = s.line[:0]
	for {
		frag, err := br.ReadSlice('\n')
		s.line = append(s.line, frag...)
		if len(s.line) > maxQueryLine {
			return nil, fmt.Errorf("longer than %d bytes", maxQueryLine)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		line := bytes.TrimSuffix(s.line, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if err == io.EOF && len(s.line) > 0 {
			return line, io.EOF
		}
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("read standard input: %w", err)
		}
		return line, err
	}
}

func (s *similar) idLine(line []byte) error {
	id, err := cli.ParseID(string(bytes.TrimSpace(line)))
	if err != nil {
		return err
	}
	return s.addID(id)
}

func (s *similar) wordLine(line []byte) error { return s.addWord(line) }

// vectorLine parses a vector: the row width of numbers separated by
// spaces, tabs or commas, optionally inside [ ].
func (s *similar) vectorLine(line []byte) error {
	line = bytes.TrimSpace(line)
	if len(line) > 0 && line[0] == '[' {
		if line[len(line)-1] != ']' {
			return errors.New("a vector that opens with [ must close with ]")
		}
		line = line[1 : len(line)-1]
	}
	v := s.next()
	n := 0
	for f := range bytes.FieldsFuncSeq(line, func(r rune) bool { return r == ' ' || r == '\t' || r == ',' }) {
		if n == s.dim {
			n++
			break
		}
		x, err := strconv.ParseFloat(string(f), 32)
		if err != nil {
			return fmt.Errorf("value %d: %q is not a number", n+1, f)
		}
		v[n] = float32(x)
		n++
	}
	if n != s.dim {
		if n > s.dim {
			return fmt.Errorf("more than %d values; the table's rows have %d", s.dim, s.dim)
		}
		return fmt.Errorf("%d values; the table's rows have %d", n, s.dim)
	}
	// The store's checks of a query (finite values; not zero for cosine),
	// made here so that the error names the line.
	if err := store.BoundsOf(s.t.Header()).CheckNearest(s.dst[:s.kq], v, s.kq, s.opts); err != nil {
		return err
	}
	return s.add(-1)
}
