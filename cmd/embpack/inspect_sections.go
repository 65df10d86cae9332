package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/shardmeta"
	"github.com/embstore/embstore/pack"
	"github.com/embstore/embstore/tokenizer"
)

// What inspect shows of the optional sections of format 1.1.

// vocabularyJSON describes a vocabulary section (its fixed fields: inspect
// does not read the strings).
type vocabularyJSON struct {
	Rows     int64         `json:"rows"`
	Strings  int64         `json:"strings"` // rows that have one
	Bytes    int64         `json:"bytes"`   // of string data
	Slots    int64         `json:"index_slots"`
	Subwords *subwordsJSON `json:"subwords,omitempty"`
}

// subwordsJSON describes the subword scheme and table.
type subwordsJSON struct {
	Scheme  string `json:"scheme"`
	MinN    int    `json:"minn"`
	MaxN    int    `json:"maxn"`
	Buckets int64  `json:"buckets"`
	DType   string `json:"dtype"`
}

// tokenizerJSON describes a tokenizer section: its sizes and, when this
// embpack can run it, what tokenizer.Info says; else why not.
type tokenizerJSON struct {
	Bytes           int64           `json:"bytes"`            // the document
	CompressedBytes int64           `json:"compressed_bytes"` // as stored
	Info            *tokenizer.Info `json:"info,omitempty"`
	Error           string          `json:"error,omitempty"`
}

// describeSections fills in the 1.1 sections of info from r. The tokenizer
// is decompressed and loaded; a tokenizer that fails is described by its
// error (verify fails on it).
func describeSections(info *inspectJSON, r *format.Reader) {
	if v, ok := r.VocabInfo(); ok {
		vj := &vocabularyJSON{Rows: v.Rows, Strings: v.Count, Bytes: v.BlobLength, Slots: v.Slots}
		if s, ok := r.Section(format.SectionSubwords); ok && v.Subwords == format.SubwordsFastText {
			vj.Subwords = &subwordsJSON{Scheme: "fasttext", MinN: v.MinN, MaxN: v.MaxN, Buckets: s.Rows, DType: s.DType.String()}
		}
		info.Vocabulary = vj
	}
	if _, ok := r.Section(format.SectionNorms); ok {
		info.Norms = true
	}
	if ti, ok := r.TokenizerInfo(); ok {
		s, _ := r.Section(format.SectionTokenizer)
		tj := &tokenizerJSON{Bytes: ti.RawLength, CompressedBytes: s.Length - format.TokenizerHeader}
		if tk, err := loadTokenizer(r); err != nil {
			tj.Error = err.Error()
		} else {
			in := tk.Info()
			tj.Info = &in
		}
		info.Tokenizer = tj
	}
}

// loadTokenizer decompresses and loads the table's tokenizer, and checks
// that its ids fit the table: for a shard (embpack shard), which carries
// the whole table's tokenizer, the whole table's rows.
func loadTokenizer(r *format.Reader) (*tokenizer.Tokenizer, error) {
	doc, err := r.TokenizerJSON()
	if err != nil {
		return nil, err
	}
	tk, err := tokenizer.Load(doc)
	if err != nil {
		return nil, err
	}
	rows, table := r.Rows, "the table"
	if d, err := shardmeta.Parse(r.Metadata()); err == nil && d.Info.Validate(r.Rows) == nil {
		rows, table = d.Info.RowsTotal, fmt.Sprintf("table %s, of which this is shard %d of %d,", d.Info.Table, d.Info.Index, d.Info.Count)
	}
	if n := int64(tk.VocabSize()); n > rows {
		return nil, fmt.Errorf("the tokenizer has ids up to %d; %s has %d rows", n-1, table, rows)
	}
	return tk, nil
}

// printSections prints the 1.1 sections of info, in inspect's text form.
func printSections(w io.Writer, info inspectJSON) {
	if v := info.Vocabulary; v != nil {
		fmt.Fprintf(w, "vocabulary\t%d strings for %d rows (%s), hash index of %d slots\n", v.Strings, v.Rows, humanBytes(v.Bytes), v.Slots)
		if s := v.Subwords; s != nil {
			fmt.Fprintf(w, "subwords\tfastText character n-grams of %d to %d characters, %d buckets of %s rows\n", s.MinN, s.MaxN, s.Buckets, s.DType)
		}
	} else {
		fmt.Fprintf(w, "vocabulary\tnone\n")
	}
	if info.Norms {
		fmt.Fprintf(w, "norms\tone per token row\n")
	}
	// The metadata's keys for text inputs (pack.Provenance).
	var md struct {
		Pooling   *pack.Pooling       `json:"pooling"`
		Tokenizer *pack.TokenizerInfo `json:"tokenizer"`
	}
	_ = json.Unmarshal(info.Metadata, &md)
	t := info.Tokenizer
	if t == nil {
		fmt.Fprintf(w, "tokenizer\tnone\n")
	} else {
		printTokenizer(w, t, md.Tokenizer)
	}
	if md.Pooling != nil {
		fmt.Fprintf(w, "pooling\t%s (the default for text inputs)\n", describePooling(*md.Pooling))
	} else if t != nil {
		fmt.Fprintf(w, "pooling\tmean (not recorded: the default for text inputs)\n")
	}
}

// printTokenizer prints a tokenizer section and, if the metadata has one,
// its "tokenizer" key.
func printTokenizer(w io.Writer, t *tokenizerJSON, src *pack.TokenizerInfo) {
	from := ""
	if src != nil {
		from = fmt.Sprintf(", from %s, sha256 %s", src.Source, src.SHA256)
	}
	fmt.Fprintf(w, "tokenizer\ttokenizer.json of %s (%s compressed)%s\n", humanBytes(t.Bytes), humanBytes(t.CompressedBytes), from)
	if t.Error != "" {
		fmt.Fprintf(w, "\tthis embpack cannot use it: %s\n", t.Error)
		return
	}
	in := t.Info
	model := in.Model
	if in.ModelDetail != "" {
		model += " (" + in.ModelDetail + ")"
	}
	fmt.Fprintf(w, "\tmodel %s, %d ids (%d model tokens, %d added)\n", model, in.VocabSize, in.ModelTokens, in.AddedTokens)
	for _, kv := range [][2]string{{"normalizer", in.Normalizer}, {"pre-tokenizer", in.PreTokenizer},
		{"post-processor", in.PostProcessor}, {"decoder", in.Decoder}} {
		if kv[1] != "" {
			fmt.Fprintf(w, "\t%s %s\n", kv[0], kv[1])
		}
	}
	if len(in.SpecialTokens) > 0 {
		fmt.Fprintf(w, "\tspecial tokens %s\n", strings.Join(quoteAll(in.SpecialTokens), " "))
	}
}

func quoteAll(s []string) []string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = fmt.Sprintf("%q", x)
	}
	return q
}
