package wordvec

import (
	"fmt"
	"strings"
)

// A Format is one of the word-vector file formats.
type Format int

// The formats. Auto asks the reader to detect the format by content.
const (
	Auto Format = iota
	// Word2Vec is the binary format of the original word2vec tool: a
	// "rows dim\n" header, then per row the word, a space and dim
	// little-endian float32, usually followed by "\n".
	Word2Vec
	// Word2VecText is the text format of word2vec: a "rows dim" header line,
	// then one "word v1 ... vD" line per row.
	Word2VecText
	// GloVe is Word2VecText without the header line.
	GloVe
	// FastTextVec is fastText's .vec: Word2VecText by another name (the
	// content cannot tell them apart; only the caller can).
	FastTextVec
	// FastTextBin is fastText's binary model (.bin), format version 12.
	FastTextBin
)

var formatNames = [...]string{"auto", "word2vec", "word2vec-text", "glove", "fasttext-vec", "fasttext-bin"}

// String returns the name of f as ParseFormat accepts it.
func (f Format) String() string {
	if f < 0 || int(f) >= len(formatNames) {
		return fmt.Sprintf("Format(%d)", int(f))
	}
	return formatNames[f]
}

// ParseFormat returns the Format named s: auto, word2vec, word2vec-text,
// glove, fasttext-vec or fasttext-bin.
func ParseFormat(s string) (Format, error) {
	for i, n := range formatNames {
		if s == n {
			return Format(i), nil
		}
	}
	return Auto, fmt.Errorf("unknown word-vector format %q (want one of %s)", s, strings.Join(formatNames[:], ", "))
}

// text reports whether f is one of the line-per-row formats.
func (f Format) text() bool { return f == Word2VecText || f == GloVe || f == FastTextVec }

// Limits. Nothing is allocated from a count read from a file before it is
// checked against these.
const (
	// MaxDim is the largest vector width accepted, the table format's.
	MaxDim = 65536
	// MaxRows is the largest row count a header may claim, the table
	// format's (row ids are 32-bit).
	MaxRows = 1<<32 - 1
	// MaxWordBytes is the longest word accepted, in bytes.
	MaxWordBytes = 65536
	// MaxSubwordN bounds fastText's minn and maxn.
	MaxSubwordN = 256
)

// maxWorkers bounds Options.Workers: each text worker has two blocks of
// text in flight.
const maxWorkers = 256

// maxLine returns the longest text line accepted for vectors of width dim:
// the longest word, and 128 bytes a value (Python accepts arbitrarily long
// decimals; exact ones of float32 midpoints take up to about 110 digits).
func maxLine(dim int) int { return MaxWordBytes + 1024 + 128*dim }

// Options control a Reader. The zero value (or nil) detects the format and
// uses every core.
type Options struct {
	// Format is the format to read; Auto detects it by content.
	Format Format
	// Member names the member of a zip archive to read. Without it, an
	// archive must hold exactly one file.
	Member string
	// StrictUTF8 refuses words that are not valid UTF-8 (ErrUTF8) instead
	// of keeping their bytes and counting them in Stats.InvalidUTF8.
	StrictUTF8 bool
	// SkipBadLines skips text lines with a bad word, the wrong number of
	// values or a value that is not a number, counting them in
	// Stats.SkippedLines, instead of failing on the first.
	SkipBadLines bool
	// Workers is the number of goroutines parsing text (and composing
	// fastText vectors); 0 means GOMAXPROCS, and at most 256 are used.
	// Memory grows with it: two blocks of text (about 1.5 MiB each, text
	// and values) a worker.
	Workers int
	// MaxListedDuplicates bounds Stats.DuplicateWords; 0 means 100, a
	// negative value lists none.
	MaxListedDuplicates int
	// BlockBytes is the size of the text blocks parsed in parallel; 0
	// means 1 MiB. Tests set it small to cross block boundaries.
	BlockBytes int
}

// Header describes a source, as known once it has been opened.
type Header struct {
	// Format is the format being read (detected or given).
	Format Format
	// Dim is the width of every vector.
	Dim int
	// Rows is the row count the file's header claims, -1 for GloVe (which
	// has no header). The rows delivered are at most this many: duplicate
	// words and skipped lines are dropped.
	Rows int64
	// Compression lists the compressions undone, outermost first (e.g.
	// ["zip", "gzip"]), nil for a plain file.
	Compression []string
	// Member is the zip member read, "" when the source is not a zip.
	Member string
	// Size is the size in bytes of the word-vector data itself (a plain
	// file's size, a zip member's uncompressed size), -1 when nothing tells
	// it (a stream, gzip, bzip2, zstd): with Dim, it bounds the rows a
	// source without a header can hold.
	Size int64
}

// Stats counts what a Reader met. It is complete once Next has returned
// io.EOF.
type Stats struct {
	// Rows is the number of rows delivered (after dropping duplicates).
	Rows int64
	// Lines is the number of text lines read, the header included.
	Lines int64
	// BlankLines counts lines holding only whitespace, which are ignored.
	BlankLines int64
	// SkippedLines counts bad lines skipped under Options.SkipBadLines.
	SkippedLines int64
	// InvalidUTF8 counts delivered words that are not valid UTF-8.
	InvalidUTF8 int64
	// Duplicates counts rows dropped because their word came earlier (the
	// first row of a word is kept, as gensim does).
	Duplicates int64
	// DuplicateWords lists the first duplicated words (each once per
	// dropped row), up to Options.MaxListedDuplicates.
	DuplicateWords [][]byte
	// Labels counts the labels of a supervised fastText model, which have
	// no input vectors and are not delivered.
	Labels int64
	// BOM reports that a UTF-8 byte-order mark at the start of a text file
	// was skipped.
	BOM bool
}
