package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/cli"
	"github.com/embstore/embstore/internal/regfile"
	"github.com/embstore/embstore/pack"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// The word-vector side of 'embpack import': word2vec, GloVe and fastText
// files, recognised by content.

const importWordVectorsHelp = `
Word vectors: a word2vec binary or text file, GloVe (text without a header),
fastText's .vec or .bin, plain or compressed with gzip, bzip2 or zstd, or in
a zip archive, are recognised by their content (a safetensors file, an index
or a checkpoint directory is imported as above); --from names the format.
The table gets a row per distinct word, in file order, a vocabulary section
with the words (embquery looks up by word), a norms section (cosine search),
and for a fastText .bin with character n-grams a subwords section, which gives
out-of-vocabulary words fastText's vector. Vectors are gensim 4.2's, bit for
bit. A word seen before keeps its first row (as gensim), and words that are
not valid UTF-8 are kept as bytes: both are counted in the summary and the
metadata. A bad line (a wrong number of values, a value that is not a number)
stops the import naming its line, unless --skip-bad-lines; a header that
claims more or fewer rows than the file has is an error saying both.
Quantised fastText models (.ftz) are refused: use the model's .bin or .vec.
SRC - reads word vectors from standard input (zcat vectors.txt.gz | embpack
import - -o t.emb, with --from if the content does not tell): not a zip
archive, which needs random access; a fastText .bin is held in memory first.
A named pipe given by name is refused, as every other command refuses one.`

// wordVectorFlags are import's flags for word vectors.
type wordVectorFlags struct {
	from         *string
	member       *string
	strictUTF8   *bool
	skipBadLines *bool
	workers      *int
}

func addWordVectorFlags(fs *pflag.FlagSet) *wordVectorFlags {
	return &wordVectorFlags{
		from:         fs.String("from", "", "read SRC as word vectors of `FORMAT`: word2vec, word2vec-text, glove, fasttext-vec or fasttext-bin (default: recognised by content)"),
		member:       fs.String("member", "", "the file to read in a zip archive of several (word vectors)"),
		strictUTF8:   fs.Bool("strict-utf8", false, "refuse words that are not valid UTF-8 (word vectors; default: keep and count them)"),
		skipBadLines: fs.Bool("skip-bad-lines", false, "skip and count bad lines of a word-vector text file instead of stopping at the first"),
		workers:      fs.Int("workers", 0, "goroutines parsing word-vector text (default: one per core)"),
	}
}

// checkpointFlags are the flags that only a checkpoint import takes.
var checkpointFlags = []string{"list", "tensor", "positions-tensor", "no-positions", "tokenizer", "no-tokenizer", "shape", "position-offset", "scale", "compute-dtype"}

// wordVectorFlagNames are the flags that only a word-vector import takes.
var wordVectorFlagNames = []string{"from", "member", "strict-utf8", "skip-bad-lines", "workers"}

// isWordVectors decides whether SRC is a word-vector file: --from says so,
// or the file is neither a safetensors file (an 8-byte header length, then
// "{") nor a JSON index, nor a directory (a checkpoint).
func isWordVectors(fs *pflag.FlagSet, src string) (bool, error) {
	if fs.Changed("from") || src == "-" {
		return true, nil
	}
	st, err := os.Stat(src)
	if err != nil || st.IsDir() {
		return false, nil // the checkpoint import reports it
	}
	if !st.Mode().IsRegular() {
		return false, &os.PathError{Op: "open", Path: src, Err: regfile.NotRegular(st.Mode())}
	}
	f, _, err := regfile.Open(src)
	if err != nil {
		return false, err
	}
	defer f.Close()
	head := make([]byte, 16)
	n, _ := f.ReadAt(head, 0)
	head = head[:n]
	if n >= 9 && head[8] == '{' && binary.LittleEndian.Uint64(head) > 1 {
		return false, nil // safetensors
	}
	if t := bytes.TrimLeft(head, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		return false, nil // a sharded checkpoint's index
	}
	return true, nil
}

func runImportWordVectors(e env, fs *pflag.FlagSet, wv *wordVectorFlags, src, out, dtypeStr string, force, quiet bool) error {
	for _, name := range checkpointFlags {
		if fs.Changed(name) {
			return cli.Usagef("--%s applies to safetensors checkpoints, and %s is read as word vectors", name, src)
		}
	}
	if err := cli.TableOutput(out); err != nil {
		return err
	}
	if src == "-" {
		if f, ok := e.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			return cli.Usagef("SRC -: standard input is a terminal; pipe the word vectors in")
		}
	}
	spec := pack.WordVectorSpec{Src: src, Format: pack.WordVectorFormat(*wv.from), Member: *wv.member,
		StrictUTF8: *wv.strictUTF8, SkipBadLines: *wv.skipBadLines, Workers: *wv.workers}
	if fs.Changed("from") && (*wv.from == "" || *wv.from == "auto") {
		return cli.Usagef("--from %q: want word2vec, word2vec-text, glove, fasttext-vec or fasttext-bin (leave it out to recognise the format)", *wv.from)
	}
	if *wv.workers < 0 {
		return cli.Usagef("--workers %d: want 1 or more", *wv.workers)
	}
	var err error
	if spec.DType, err = format.ParseDType(dtypeStr); err != nil {
		return cli.Usagef("--dtype: %v", err)
	}
	if src == "-" {
		spec.Src, spec.Stream = "standard input", e.Stdin
	}
	progress, finish := cli.NewProgress(e.Stderr, quiet, "importing")
	start := time.Now()
	info, err := pack.ImportWordVectors(context.Background(), out, spec, packOptions(progress, force))
	finish()
	if err != nil {
		return wordVectorHint(err)
	}
	for _, w := range info.Warnings {
		fmt.Fprintf(e.Stderr, "embpack import: warning: %s\n", w)
	}
	if !quiet {
		summarize(e, out, time.Since(start))
		fmt.Fprintln(e.Stderr, "embpack: "+wordVectorSummary(info))
	}
	return nil
}

// wordVectorSummary says what an import read: format, rows, dim, and what
// it dropped, kept or skipped.
func wordVectorSummary(info *pack.WordVectorInfo) string {
	var b strings.Builder
	b.WriteString(info.Format)
	if len(info.Compression) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(info.Compression, ", "))
	}
	fmt.Fprintf(&b, ": %d words of dim %d", info.Rows, info.Dim)
	v := info.Vocabulary
	fmt.Fprintf(&b, ", %d duplicates dropped", v.Duplicates)
	if v.Duplicates > 0 {
		fmt.Fprintf(&b, " (first row kept; e.g. %q)", v.DuplicateWords[0])
	}
	fmt.Fprintf(&b, ", %d invalid UTF-8 kept, %d bad lines skipped", v.InvalidUTF8, info.SkippedLines)
	if s := info.Subwords; s != nil {
		fmt.Fprintf(&b, "; subwords: %d buckets, n-grams of %d to %d characters", s.Bucket, s.MinN, s.MaxN)
	}
	if info.Labels > 0 {
		fmt.Fprintf(&b, "; %d labels not imported", info.Labels)
	}
	return b.String()
}

// wordVectorHint adds to an import error the flag that gets past it.
func wordVectorHint(err error) error {
	var we *pack.WordVectorError
	switch {
	case errors.Is(err, pack.ErrInvalidUTF8):
		return fmt.Errorf("%w (without --strict-utf8 such words are kept and counted)", err)
	case errors.As(err, &we) && we.Line > 0 && we.Err != pack.ErrRowCount:
		return fmt.Errorf("%w (--skip-bad-lines skips such lines)", err)
	case errors.Is(err, pack.ErrNotWordVectors):
		return fmt.Errorf("%w (--from names the format)", err)
	}
	return specError(err, map[string]string{"WordVectorSpec.DType": "--dtype", "WordVectorSpec.Format": "--from"})
}
