package format

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ErrNoSection is returned by the Reader's accessors of optional sections
// (Vocabulary, TokenizerJSON, ReadNorms) when the table has no such
// section.
var ErrNoSection = errors.New("embstore: the table has no such section")

// VocabInfo returns the fixed fields of the vocabulary section, checked by
// NewReader, and whether the table has one.
func (r *Reader) VocabInfo() (VocabInfo, bool) {
	if r.vocab == nil {
		return VocabInfo{}, false
	}
	return *r.vocab, true
}

// Vocabulary reads the vocabulary section into memory and returns it. It
// is meant for tools that copy tables; lookups on a mapped table go
// through the store package, which reads the section in place.
func (r *Reader) Vocabulary() (*Vocabulary, error) {
	s, ok := r.Section(SectionVocabulary)
	if !ok || r.vocab == nil {
		return nil, fmt.Errorf("%w: vocabulary", ErrNoSection)
	}
	data, err := r.readSection(s)
	if err != nil {
		return nil, err
	}
	return NewVocabulary(data, s.Offset, r.Rows)
}

// VocabularyOf returns the vocabulary whose section's bytes are data (all
// Length of them, for instance from a mapping of the file), trusting the
// fixed fields NewReader read and checked instead of reading them again:
// it touches none of data. Lookups check what they read, as NewVocabulary's
// do.
func (r *Reader) VocabularyOf(data []byte) (*Vocabulary, error) {
	s, ok := r.Section(SectionVocabulary)
	if !ok || r.vocab == nil {
		return nil, fmt.Errorf("%w: vocabulary", ErrNoSection)
	}
	if int64(len(data)) != s.Length {
		return nil, fmt.Errorf("embstore: %d bytes for a %d-byte vocabulary section", len(data), s.Length)
	}
	return newVocabulary(data, s.Offset, *r.vocab), nil
}

// TokenizerInfo returns the fixed fields of the tokenizer section, checked
// by NewReader, and whether the table has one.
func (r *Reader) TokenizerInfo() (TokenizerInfo, bool) {
	if r.tokenizer == nil {
		return TokenizerInfo{}, false
	}
	return *r.tokenizer, true
}

// TokenizerJSON returns the table's tokenizer document, decompressed and
// checked (ParseTokenizerSection). The section's stored bytes, for a copy
// that keeps them, are SectionReader's.
func (r *Reader) TokenizerJSON() ([]byte, error) {
	s, ok := r.Section(SectionTokenizer)
	if !ok {
		return nil, fmt.Errorf("%w: tokenizer", ErrNoSection)
	}
	data, err := r.readSection(s)
	if err != nil {
		return nil, err
	}
	return ParseTokenizerSection(data, s.Offset)
}

// ReadNorms reads the norms of token rows [first, first+len(dst)) into dst.
func (r *Reader) ReadNorms(dst []float32, first int64) error {
	s, ok := r.Section(SectionNorms)
	if !ok {
		return fmt.Errorf("%w: norms", ErrNoSection)
	}
	n := int64(len(dst))
	if first < 0 || first > r.Rows-n {
		return fmt.Errorf("embstore: norms [%d, %d) out of range of %d rows", first, first+n, r.Rows)
	}
	buf := make([]byte, 4*min(n, 1<<16))
	for done := int64(0); done < n; {
		k := min(n-done, int64(len(buf))/4)
		b := buf[:4*k]
		if err := readAt(r.r, b, s.Offset+4*(first+done)); err != nil {
			return fmt.Errorf("embstore: read norms: %w", err)
		}
		for i := range k {
			dst[done+i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		done += k
	}
	return nil
}

// readSection reads all of section s into memory. Its length was checked
// against the file's size by ParseHeader.
func (r *Reader) readSection(s Section) ([]byte, error) {
	data := make([]byte, s.Length)
	if err := readAt(r.r, data, s.Offset); err != nil {
		return nil, fmt.Errorf("embstore: read %s section: %w", s.Kind, err)
	}
	return data, nil
}

// Layout returns the layout a Writer needs to write a table like this one:
// its shape, dtype, positional table, conventions, alignment and optional
// sections. A table this package wrote, written again with this layout and
// the same rows, strings, tokenizer section and metadata, is the same file
// (copies of a table, shards and their joins rely on it).
func (r *Reader) Layout() Layout {
	l := Layout{
		Rows: r.Rows, Dim: r.Dim, DType: r.DType, Positions: r.Positions(), PositionOffset: r.PositionOffset,
		TokenScale: r.TokenScale, ComputeDType: r.ComputeDType, Alignment: r.Alignment,
	}
	_, l.Norms = r.Section(SectionNorms)
	if v, ok := r.VocabInfo(); ok {
		l.Vocabulary = true
		if s, ok := r.Section(SectionSubwords); ok {
			l.Subwords, l.SubwordMinN, l.SubwordMaxN = s.Rows, v.MinN, v.MaxN
		}
	}
	return l
}
