package pack

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/atomicfile"
	"github.com/embstore/embstore/internal/wordvec"
)

// ErrNoVocabulary is returned by ExportWordVectors for a table without a
// vocabulary section, or with rows that have no string: a word-vector file
// needs a word for every row.
var ErrNoVocabulary = errors.New("pack: the table has no word for every row")

// writer returns the wordvec format to write f as.
func (f WordVectorFormat) writer() (wordvec.Format, error) {
	switch f {
	case Word2Vec:
		return wordvec.Word2Vec, nil
	case Word2VecText:
		return wordvec.Word2VecText, nil
	case GloVe:
		return wordvec.GloVe, nil
	}
	return 0, &SpecError{Field: "format", Value: string(f), Problem: "want word2vec, word2vec-text or glove"}
}

// ExportWordVectors writes the table at src as a word-vector file at dst,
// atomically, in format to (Word2Vec, Word2VecText or GloVe): every token
// row, in row order, under its vocabulary string, with its vector as a
// lookup returns it (the token scale and compute dtype applied; positional
// and subword rows are not part of a word-vector file). Binary values are
// the float32 bits, so that a table imported from word2vec binary exports
// to the same vectors bit for bit; text values are the shortest decimal
// that reads back to the same float32. Binary rows end with "\n", as the
// original word2vec tool writes them (gensim writes none; both read
// either).
//
// A table without a vocabulary section, or with a row that has no string
// (a tokenizer's table can have such rows), is refused (ErrNoVocabulary):
// naming rows by their ids would write a file whose words mean nothing. So
// is a word the format cannot hold (a space in binary word2vec, a newline
// in text), naming its row. Options.Progress counts rows.
func ExportWordVectors(ctx context.Context, dst, src string, to WordVectorFormat, o *Options) error {
	o = opts(o)
	wf, err := to.writer()
	if err != nil {
		return err
	}
	in, voc, err := openForWordVectors(src)
	if err != nil {
		return err
	}
	defer in.Close()
	f, err := atomicfile.Create(dst, &atomicfile.Options{NoReplace: o.NoReplace, Inputs: []string{src}})
	if err != nil {
		return err
	}
	defer f.Abort()
	if err := exportWordVectors(ctx, f.File, src, in, voc, wf, o); err != nil {
		return err
	}
	return f.Commit()
}

// ExportWordVectorsTo writes what ExportWordVectors writes to w, as a
// stream. Options.NoReplace does not apply.
func ExportWordVectorsTo(ctx context.Context, w io.Writer, src string, to WordVectorFormat, o *Options) error {
	wf, err := to.writer()
	if err != nil {
		return err
	}
	in, voc, err := openForWordVectors(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return exportWordVectors(ctx, w, src, in, voc, wf, opts(o))
}

func openForWordVectors(src string) (*format.File, *format.Vocabulary, error) {
	in, err := format.Open(src)
	if err != nil {
		return nil, nil, err
	}
	voc, err := in.Vocabulary()
	if errors.Is(err, format.ErrNoSection) {
		in.Close()
		return nil, nil, fmt.Errorf("%w: %s has no vocabulary section (import word vectors, or a checkpoint with its tokenizer, to have one)", ErrNoVocabulary, src)
	}
	if err != nil {
		in.Close()
		return nil, nil, err
	}
	if voc.Count != in.Rows {
		in.Close()
		return nil, nil, fmt.Errorf("%w: %d of the %d rows of %s have a string", ErrNoVocabulary, voc.Count, in.Rows, src)
	}
	return in, voc, nil
}

func exportWordVectors(ctx context.Context, w io.Writer, src string, in *format.File, voc *format.Vocabulary, wf wordvec.Format, o *Options) error {
	ww, err := wordvec.NewWriter(w, wf, in.Rows, in.Dim, nil)
	if err != nil {
		return err
	}
	tok := in.Tokens()
	stride := tok.RowStride
	step := rowsStep(int64(in.Dim))
	raw := make([]byte, min(step, in.Rows)*stride)
	vec := make([]float32, in.Dim)
	sr := in.SectionReader(tok)
	count := o.counter(in.Rows)
	for first := int64(0); first < in.Rows; first += step {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(step, in.Rows-first)
		if _, err := sr.ReadAt(raw[:n*stride], first*stride); err != nil {
			return fmt.Errorf("pack: %s: token rows %d to %d: %w", src, first, first+n, err)
		}
		for i := range n {
			format.LookupValues(vec, raw[i*stride:(i+1)*stride], in.DType, in.TokenScale, in.ComputeDType)
			word, err := voc.String(first + i)
			if err != nil {
				return err
			}
			if err := ww.WriteRow(word, vec); err != nil {
				return err
			}
		}
		count.add(n)
	}
	return ww.Close()
}
