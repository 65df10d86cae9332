package pack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/wordvec"
)

// A WordVectorFormat names one of the classic word-vector file formats.
type WordVectorFormat string

// The word-vector formats ImportWordVectors reads (and, but for the
// fastText ones, ExportWordVectors writes).
const (
	// DetectWordVectors ("") detects the format by content.
	DetectWordVectors WordVectorFormat = ""
	// Word2Vec is word2vec's binary format: a "rows dim" line, then per row
	// the word, a space and dim little-endian float32 (and usually "\n").
	Word2Vec WordVectorFormat = "word2vec"
	// Word2VecText is word2vec's text format: a "rows dim" line, then one
	// "word v1 ... vD" line per row.
	Word2VecText WordVectorFormat = "word2vec-text"
	// GloVe is the text format without the header line.
	GloVe WordVectorFormat = "glove"
	// FastTextVec is fastText's .vec, word2vec text by another name (the
	// content cannot tell them apart: detection says word2vec-text).
	FastTextVec WordVectorFormat = "fasttext-vec"
	// FastTextBin is fastText's binary model (.bin): the words, their
	// vectors and the subword n-gram rows.
	FastTextBin WordVectorFormat = "fasttext-bin"
)

func (f WordVectorFormat) reader() (wordvec.Format, error) {
	if f == DetectWordVectors {
		return wordvec.Auto, nil
	}
	if f == "auto" {
		return 0, &SpecError{Field: "WordVectorSpec.Format", Value: string(f), Problem: `to detect the format, leave it empty`}
	}
	wf, err := wordvec.ParseFormat(string(f))
	if err != nil {
		return 0, &SpecError{Field: "WordVectorSpec.Format", Value: string(f), Problem: "want word2vec, word2vec-text, glove, fasttext-vec or fasttext-bin"}
	}
	return wf, nil
}

// Errors of word-vector sources. Every problem with a source is a
// *WordVectorError that wraps one of these or another kind (see its Err);
// test with errors.Is.
var (
	// ErrNotWordVectors: the source is none of the word-vector formats, or
	// not the one named.
	ErrNotWordVectors = wordvec.ErrUnknownFormat
	// ErrRowCount: the header claims more or fewer rows than the file
	// holds (the message says both).
	ErrRowCount = wordvec.ErrRowCount
	// ErrInvalidUTF8: a word is not valid UTF-8 and StrictUTF8 is set.
	ErrInvalidUTF8 = wordvec.ErrUTF8
	// ErrUnsupportedWordVectors: valid input this package does not read,
	// such as a quantised fastText model (.ftz) or an xz-compressed file.
	ErrUnsupportedWordVectors = wordvec.ErrUnsupported
)

// A WordVectorError reports a problem with a word-vector source: its
// format, where (Line, the 1-based text line; else Row; else Offset in the
// decompressed data) and what (Err, Msg).
type WordVectorError = wordvec.FormatError

// A WordVectorSpec says what to import from a word-vector file.
type WordVectorSpec struct {
	// Src is the file: word2vec binary or text, GloVe, fastText .vec or
	// .bin, plain or compressed with gzip, bzip2 or zstd, or in a zip
	// archive (all detected by their magic bytes). It must be a regular
	// file: a named pipe is refused rather than waited on (read one through
	// Stream).
	Src string
	// Stream, if not nil, is read instead of the file Src (which then only
	// names the source in errors and the metadata): a pipe, standard input.
	// Text and word2vec binary stream as from a file; a zip archive cannot be
	// read (it needs random access), and a fastText .bin is held in memory
	// (its word and bucket rows) before its rows are written.
	Stream io.Reader
	// Format names the format; DetectWordVectors ("") detects it by
	// content.
	Format WordVectorFormat
	// Member names the file to read in a zip archive that holds several.
	Member string
	// DType is the table's storage dtype (token and subword rows); zero
	// means F32.
	DType format.DType
	// StrictUTF8 refuses a word that is not valid UTF-8; by default such
	// words are kept, byte for byte, and counted.
	StrictUTF8 bool
	// SkipBadLines skips (and counts) text lines with a bad word, the wrong
	// number of values or a value that is not a number; by default the
	// first is an error naming its line.
	SkipBadLines bool
	// Workers is the number of goroutines parsing text; 0 means GOMAXPROCS.
	Workers int
}

// WordVectorInfo is the "word_vectors" metadata of a table imported from a
// word-vector file, and what ImportWordVectors returns.
type WordVectorInfo struct {
	Format      string   `json:"format"`                // the format read (detected or named)
	Source      string   `json:"source"`                // the file's base name
	Size        int64    `json:"size"`                  // its size in bytes, as stored (a stream: the bytes read)
	Compression []string `json:"compression,omitempty"` // compressions undone, outermost first
	Member      string   `json:"member,omitempty"`      // the zip member read
	HeaderRows  int64    `json:"header_rows,omitempty"` // rows the header claims (0: no header, GloVe)
	Rows        int64    `json:"rows"`                  // rows of the table (distinct words)
	Dim         int      `json:"dim"`
	// Lines counts the text lines read (the header included), BlankLines
	// the blank ones ignored, SkippedLines the bad ones skipped.
	Lines        int64 `json:"lines,omitempty"`
	BlankLines   int64 `json:"blank_lines,omitempty"`
	SkippedLines int64 `json:"skipped_lines,omitempty"`
	// Labels counts a supervised fastText model's labels, which have no
	// vectors and are not imported.
	Labels int64 `json:"labels,omitempty"`
	// Subwords describes the subword section of a fastText .bin import
	// (nil if none).
	Subwords *SubwordInfo `json:"subwords,omitempty"`
	// DType is the table's storage dtype; MaxAbsError the largest
	// difference its rounding made (0 for f32; +Inf when a finite value
	// overflowed a 16-bit dtype, which the metadata records as Overflow).
	DType       string  `json:"dtype"`
	MaxAbsError float64 `json:"max_abs_error,omitempty"`
	// Overflow says that the rounding error is not finite: a value out of
	// the dtype's range became an infinity.
	Overflow bool `json:"overflow,omitempty"`

	// Vocabulary is what the "vocabulary" metadata records.
	Vocabulary VocabularyInfo `json:"-"`
	// Warnings are things the import went past. They are not recorded.
	Warnings []string `json:"-"`
}

// SubwordInfo describes fastText's character n-grams: the n-grams of
// "<word>" from MinN to MaxN characters, hashed into Bucket rows.
type SubwordInfo struct {
	MinN   int   `json:"minn"`
	MaxN   int   `json:"maxn"`
	Bucket int64 `json:"bucket"`
}

// ImportWordVectors writes the word vectors of spec.Src to a table at dst,
// atomically: a token row per distinct word, in file order, with a
// vocabulary section holding the words (so that a lookup by word needs no
// side file), a norms section (so that cosine search needs no pass over
// the table first) and, for a fastText .bin whose model has character
// n-grams, a subwords section with the bucket rows, minn and maxn, from
// which store's Vocabulary.WordVector gives an out-of-vocabulary word
// fastText's vector (as gensim computes it).
//
// The source is read as a stream (never decompressed to disk, never held
// in memory; a fastText .bin's bucket rows are the exception when it is
// compressed) and text is parsed on spec.Workers goroutines in parallel
// blocks, written in order. Vectors are gensim 4.2's, bit for bit: text
// values parse as gensim parses them, a fastText word's vector is its own
// row plus its n-gram rows, averaged, as gensim's FastTextKeyedVectors
// gives it. Words are kept as bytes; a duplicate word keeps its first row
// (as gensim), and the metadata counts and lists the dropped ones.
//
// Errors: a *WordVectorError (errors.Is ErrNotWordVectors, ErrRowCount,
// ErrInvalidUTF8, ErrUnsupportedWordVectors, ...) for a problem with the
// source, naming its line, row or byte; a *SpecError for the spec; the
// format package's for the table. Options.Progress counts rows (and, for a
// fastText .bin, bucket rows) against the header's count, or -1 for GloVe,
// which has none. Cancelling ctx stops the import between two blocks and
// removes the temporary file.
func ImportWordVectors(ctx context.Context, dst string, spec WordVectorSpec, o *Options) (*WordVectorInfo, error) {
	o = opts(o)
	if spec.DType != 0 && !spec.DType.Valid() {
		return nil, &SpecError{Field: "WordVectorSpec.DType", Value: spec.DType, Problem: "want F32, F16, BF16 or Int8"}
	}
	if spec.DType == 0 {
		spec.DType = format.F32
	}
	if spec.Workers < 0 {
		return nil, &SpecError{Field: "WordVectorSpec.Workers", Value: spec.Workers, Problem: "want 0 (every core) or more"}
	}
	wf, err := spec.Format.reader()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	srcErr := func(err error) error { return fmt.Errorf("%s: %w", spec.Src, err) }
	ropts := &wordvec.Options{Format: wf, Member: spec.Member,
		StrictUTF8: spec.StrictUTF8, SkipBadLines: spec.SkipBadLines, Workers: spec.Workers}
	var r *wordvec.Reader
	var inputs []string
	if spec.Stream != nil {
		r, err = wordvec.NewReader(spec.Stream, ropts)
	} else {
		r, err = wordvec.Open(spec.Src, ropts)
		inputs = []string{spec.Src}
	}
	if err != nil {
		var fe *wordvec.FormatError
		if errors.As(err, &fe) {
			return nil, srcErr(err)
		}
		return nil, err
	}
	defer r.Close()
	h := r.Header()
	_, size := r.SourceBytes()
	info := &WordVectorInfo{
		Format: h.Format.String(), Source: filepath.Base(spec.Src), Size: size,
		Compression: h.Compression, Member: h.Member, HeaderRows: max(h.Rows, 0), Dim: h.Dim,
		DType: spec.DType.String(),
	}
	if wf == wordvec.FastTextVec {
		info.Format = string(FastTextVec)
	}
	info.Vocabulary.Source = info.Format

	bound, fromHeader, err := rowBound(h)
	if err != nil {
		return nil, srcErr(err)
	}
	layout := format.Layout{Rows: bound, Dim: h.Dim, DType: spec.DType, RowsAtMost: true, Vocabulary: true, Norms: true}
	ft := r.FastText()
	if ft != nil {
		sw, warn, err := subwordLayout(ft)
		if err != nil {
			return nil, srcErr(err)
		}
		if warn != "" {
			info.Warnings = append(info.Warnings, warn)
		}
		if sw != nil {
			info.Subwords = sw
			layout.Subwords, layout.SubwordMinN, layout.SubwordMaxN = sw.Bucket, sw.MinN, sw.MaxN
		}
	}
	fw, err := format.CreateWith(dst, layout, &format.CreateOptions{
		NoReplace: o.NoReplace, Inputs: inputs,
		// A bound that is not a header's count (GloVe's, from the size of
		// the file or none) can be far above the rows to come.
		NoReserve: !fromHeader,
	})
	if err != nil {
		if fromHeader && errors.Is(err, format.ErrNoSpace) {
			return nil, fmt.Errorf("%w (room for the %d rows the header of %s claims)", err, h.Rows, spec.Src)
		}
		return nil, err
	}
	defer fw.Abort()

	total := int64(-1)
	if h.Rows >= 0 {
		total = h.Rows + layout.Subwords
	}
	count := o.counter(total)
	var words [][]byte
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			var fe *wordvec.FormatError
			if errors.As(err, &fe) {
				return nil, srcErr(err)
			}
			return nil, err
		}
		words = words[:0]
		for i := range b.Len() {
			words = append(words, b.Word(i))
		}
		if err := fw.WriteStrings(words...); err != nil {
			return nil, err
		}
		if err := fw.WriteTokens(b.Vectors); err != nil {
			return nil, err
		}
		count.add(int64(b.Len()))
	}
	st := r.Stats()
	if st.Rows == 0 {
		what := "no rows"
		if st.SkippedLines > 0 {
			what = fmt.Sprintf("no rows but the %d bad lines skipped", st.SkippedLines)
		}
		return nil, srcErr(fmt.Errorf("the %s file has %s: a table needs at least one", info.Format, what))
	}
	if err := fw.EndTokens(); err != nil {
		return nil, err
	}
	if info.Subwords != nil {
		err := ft.BucketRows(func(_ int64, rows []float32) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fw.WriteSubwords(rows); err != nil {
				return err
			}
			count.add(int64(len(rows) / h.Dim))
			return nil
		})
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, srcErr(err)
		}
	}

	if info.Size < 0 {
		info.Size, _ = r.SourceBytes()
	}
	info.Rows, info.Lines, info.BlankLines, info.SkippedLines, info.Labels = st.Rows, st.Lines, st.BlankLines, st.SkippedLines, st.Labels
	info.Vocabulary.InvalidUTF8, info.Vocabulary.Duplicates = st.InvalidUTF8, st.Duplicates
	for _, w := range st.DuplicateWords {
		info.Vocabulary.DuplicateWords = append(info.Vocabulary.DuplicateWords, string(w))
	}
	info.MaxAbsError = fw.MaxError()
	rec := *info
	if math.IsInf(info.MaxAbsError, 0) || math.IsNaN(info.MaxAbsError) {
		info.Overflow, rec.Overflow, rec.MaxAbsError = true, true, 0
		info.Warnings = append(info.Warnings, fmt.Sprintf("values out of the range of %s became infinities", spec.DType))
	}
	voc := info.Vocabulary
	if err := setProvenance(fw, &Provenance{Creator: o.creator(), Source: info.Format, WordVectors: &rec, Vocabulary: &voc}); err != nil {
		return nil, err
	}
	return info, fw.Commit()
}

// rowBound returns the most rows the source can hold, for a RowsAtMost
// layout, and whether that is its header's count. A header is checked
// against the size of the data when that is known: a claim of more rows
// than the bytes can hold is refused before anything is written. Without a
// header (GloVe) the bound comes from the size of the data, or is the
// format's limit.
func rowBound(h wordvec.Header) (int64, bool, error) {
	fit := int64(format.MaxRows)
	if h.Size >= 0 {
		// The fewest bytes a row takes: a one-byte word, its space and dim
		// float32 (binary); a one-byte word and dim one-digit values, each
		// after a space, and a newline but for the last (text).
		if h.Format == wordvec.Word2Vec {
			fit = min(fit, h.Size/int64(2+4*h.Dim))
		} else if h.Format != wordvec.FastTextBin {
			fit = min(fit, (h.Size+1)/int64(2*h.Dim+2))
		}
	}
	if h.Rows < 0 {
		return max(fit, 1), false, nil
	}
	if h.Rows > fit {
		return 0, false, &wordvec.FormatError{Format: h.Format, Line: 1, Row: -1, Offset: -1, Err: wordvec.ErrRowCount,
			Msg: fmt.Sprintf("the header claims %d rows; %d bytes hold at most %d rows of %d values", h.Rows, h.Size, fit, h.Dim)}
	}
	return max(h.Rows, 1), true, nil
}

// subwordLayout decides the subwords section of a fastText import: none
// when the model has no character n-grams (no buckets, maxn 0, or minn
// above maxn), else its parameters, which the table's format must hold.
func subwordLayout(ft *wordvec.FastTextModel) (*SubwordInfo, string, error) {
	s := ft.Subwords
	minN := max(s.MinN, 1) // n-grams have at least one character: minn 0 is minn 1
	switch {
	case s.Bucket == 0:
		return nil, "the fastText model has no subword buckets: out-of-vocabulary words will have no vector", nil
	case s.MaxN == 0 || minN > s.MaxN:
		return nil, fmt.Sprintf("the fastText model has no character n-grams (minn %d, maxn %d): its %d bucket rows are not imported, and out-of-vocabulary words will have no vector", s.MinN, s.MaxN, s.Bucket), nil
	case s.MaxN > format.MaxSubwordN:
		return nil, "", &wordvec.FormatError{Format: wordvec.FastTextBin, Row: -1, Offset: -1, Err: wordvec.ErrUnsupported,
			Msg: fmt.Sprintf("maxn %d: a table's subwords section holds n-grams of at most %d characters", s.MaxN, format.MaxSubwordN)}
	case s.Bucket > format.MaxRows:
		return nil, "", &wordvec.FormatError{Format: wordvec.FastTextBin, Row: -1, Offset: -1, Err: wordvec.ErrUnsupported,
			Msg: fmt.Sprintf("%d buckets: a table holds at most %d subword rows", s.Bucket, int64(format.MaxRows))}
	}
	return &SubwordInfo{MinN: minN, MaxN: s.MaxN, Bucket: s.Bucket}, "", nil
}
