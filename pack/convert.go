package pack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/errctx"
	"github.com/embstore/embstore/internal/shardmeta"
)

// ConversionInfo is the "conversion" metadata of a converted table.
type ConversionInfo struct {
	From string `json:"from"` // dtype converted from
	To   string `json:"to"`   // dtype converted to
	// MaxAbsError is the largest absolute difference between a token value
	// before and after conversion, measured while converting.
	MaxAbsError float64 `json:"max_abs_error"`
	// Original is the metadata of the table converted from.
	Original json.RawMessage `json:"original,omitempty"`
}

// A ConvertSpec says how ConvertWith writes a table again. The zero value
// copies it as it is, every section kept.
type ConvertSpec struct {
	// DType is the storage dtype of the token (and subword) rows: F32, F16,
	// BF16 or Int8; zero keeps the source's. Rows whose dtype does not
	// change are copied byte for byte.
	DType format.DType
	// Tokenizer, if not "", replaces the table's tokenizer and vocabulary
	// with the tokenizer at this path (a file or a directory, as
	// ImportSpec.Tokenizer); NoTokenizer drops them. A table whose
	// vocabulary has subwords (fastText) cannot change it this way.
	Tokenizer   string
	NoTokenizer bool
	// Norms adds (NormsAdd) or drops (NormsDrop) the norms section; the
	// zero value keeps it if the source has one.
	Norms NormsChoice
}

// A NormsChoice says what ConvertWith does with the norms section.
type NormsChoice int

// The norms choices.
const (
	NormsKeep NormsChoice = iota // as the source has it (the zero value)
	NormsAdd                     // a norms section, computed from the rows written
	NormsDrop                    // none
)

// Convert writes the table at src again at dst with token rows stored as
// dtype (F32, F16, BF16 or Int8): ConvertWith with only ConvertSpec.DType.
func Convert(ctx context.Context, dst, src string, dtype format.DType, o *Options) (*ConversionInfo, error) {
	if !dtype.Valid() {
		return nil, &SpecError{Field: "dtype", Value: dtype, Problem: "want F32, F16, BF16 or Int8"}
	}
	return ConvertWith(ctx, dst, src, ConvertSpec{DType: dtype}, o)
}

// ConvertWith writes the table at src again at dst as spec says. The
// positional table, position offset, token scale, compute dtype,
// alignment, the vocabulary, tokenizer, norms and subword sections and the
// metadata's pooling, vocabulary and tokenizer keys carry over unless spec
// changes them; the metadata records the conversion, the largest error it
// made and the source's metadata. Values are rounded as torch's .to()
// does (see format.EncodeRow). dst must not be src.
func ConvertWith(ctx context.Context, dst, src string, spec ConvertSpec, o *Options) (*ConversionInfo, error) {
	o = opts(o)
	switch {
	case spec.DType != 0 && !spec.DType.Valid():
		return nil, &SpecError{Field: "ConvertSpec.DType", Value: spec.DType, Problem: "want F32, F16, BF16 or Int8"}
	case spec.Tokenizer != "" && spec.NoTokenizer:
		return nil, &SpecError{Field: "ConvertSpec.Tokenizer", Value: spec.Tokenizer, Problem: "names a tokenizer, and NoTokenizer says there is none"}
	case spec.Norms < NormsKeep || spec.Norms > NormsDrop:
		return nil, &SpecError{Field: "ConvertSpec.Norms", Value: int(spec.Norms), Problem: "want NormsKeep, NormsAdd or NormsDrop"}
	}
	in, err := format.Open(src)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	l := in.Layout()
	if spec.DType != 0 {
		l.DType = spec.DType
	}
	switch spec.Norms {
	case NormsAdd:
		l.Norms = true
	case NormsDrop:
		l.Norms = false
	}
	orig := in.Metadata()
	prov := &Provenance{Creator: o.creator(), Source: "convert"}
	if old, err := ReadProvenance(orig); err == nil {
		prov.Pooling, prov.Vocabulary, prov.Tokenizer = old.Pooling, old.Vocabulary, old.Tokenizer
	}
	_, hasTok := in.Section(format.SectionTokenizer)
	if d, err := shardmeta.Parse(orig); err == nil && (spec.Tokenizer != "" || hasTok && !spec.NoTokenizer) {
		// The copy is no shard (its metadata records the shard under
		// "conversion"), so a tokenizer with the whole table's ids would not
		// fit its rows; a given one would number them from the wrong row.
		return nil, fmt.Errorf("%s is shard %d of %d of table %s with a tokenizer: convert the whole table (embpack unshard), then shard it again, or drop the tokenizer (NoTokenizer)",
			src, d.Info.Index, d.Info.Count, d.Info.Table)
	}

	// The tokenizer and vocabulary: kept as stored, replaced or dropped.
	var tok *attached
	inputs := []string{src}
	switch {
	case spec.Tokenizer != "":
		if l.Subwords > 0 {
			return nil, &SpecError{Field: "ConvertSpec.Tokenizer", Value: spec.Tokenizer,
				Problem: "the table's vocabulary has subwords (fastText word vectors); a tokenizer would replace it"}
		}
		if tok, err = readTokenizer(spec.Tokenizer, l.Rows); err != nil {
			return nil, err
		}
		l.Vocabulary, inputs = true, append(inputs, tok.files...)
		prov.Tokenizer, prov.Vocabulary = &tok.info, tok.vocab
	case spec.NoTokenizer && hasTok:
		// A tokenizer table's vocabulary is its tokenizer's: both go. A
		// word-vector table (a vocabulary, no tokenizer) keeps its words.
		if l.Subwords == 0 {
			l.Vocabulary, prov.Vocabulary = false, nil
		}
		prov.Tokenizer = nil
	}

	fw, err := create(dst, l, o, inputs...)
	if err != nil {
		return nil, err
	}
	defer fw.Abort()
	count := o.counter(in.Rows + in.Positions() + l.Subwords)
	sameDType := l.DType == in.DType
	copySection := func(kind format.SectionKind, values func([]float32) error, raw func([]byte) error) error {
		s, ok := in.Section(kind)
		if !ok {
			return nil
		}
		if sameDType || kind == format.SectionPositions {
			// Rows that keep their dtype keep their bytes: int8 rows would
			// not survive a decode and re-encode.
			return copyRawRows(ctx, in.Reader, s, 0, s.Rows, raw, count.add)
		}
		return copyRows(ctx, in.Reader, s, values, count.add)
	}
	if err := copySection(format.SectionTokens, fw.WriteTokens, fw.WriteTokenRows); err != nil {
		return nil, err
	}
	if err := copySection(format.SectionPositions, fw.WritePositions, fw.WritePositionRows); err != nil {
		return nil, err
	}
	if l.Subwords > 0 {
		if err := copySection(format.SectionSubwords, fw.WriteSubwords, fw.WriteSubwordRows); err != nil {
			return nil, err
		}
	}
	switch {
	case tok != nil:
		if err := tok.write(fw); err != nil {
			return nil, err
		}
	default:
		if l.Vocabulary {
			v, err := in.Vocabulary()
			if err != nil {
				return nil, err
			}
			if err := writeStrings(v, 0, v.Len(), fw); err != nil {
				return nil, err
			}
		}
		if hasTok && !spec.NoTokenizer {
			s, _ := in.Section(format.SectionTokenizer)
			sec := make([]byte, s.Length)
			if _, err := io.ReadFull(in.SectionReader(s), sec); err != nil {
				return nil, fmt.Errorf("embstore: read tokenizer section: %w", err)
			}
			if err := fw.SetTokenizerSection(sec); err != nil {
				return nil, err
			}
		}
	}
	info := &ConversionInfo{From: in.DType.String(), To: l.DType.String(), MaxAbsError: fw.MaxError(), Original: orig}
	prov.Conversion = info
	if err := setProvenance(fw, prov); err != nil {
		return nil, err
	}
	return info, fw.Commit()
}

// copyRows decodes the rows of section s of r to float32 in chunks and
// hands them to write, reporting each chunk's row count to done.
func copyRows(ctx context.Context, r *format.Reader, s format.Section, write func([]float32) error, done func(int64)) error {
	dim := int64(r.Dim)
	err := stream(ctx, s.Rows, rowsStep(dim), dim,
		func(buf []float32, first, n int64) error { return r.ReadRows(s, first, n, buf) },
		write, done)
	return errctx.In("embstore", s.Kind.String(), err)
}
