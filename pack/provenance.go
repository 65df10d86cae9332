package pack

import (
	"encoding/json"
	"fmt"

	"github.com/embstore/embstore/format"
)

// Provenance is the metadata document this package writes (see
// format/SPEC.md, "Metadata"): how the table was made. Readers must ignore
// keys they do not know, so that later writers can add some; encoding/json
// does.
type Provenance struct {
	Creator    string          `json:"creator"`              // program that wrote the file, e.g. "embpack 0.1.0"
	Source     string          `json:"source"`               // "seed", "safetensors", "convert", a word-vector format ("word2vec", "glove", ...; see ImportWordVectors) or "shard" (see Shard)
	Seed       *SeedSource     `json:"seed,omitempty"`       // for seeded tables
	Import     *ImportInfo     `json:"import,omitempty"`     // for imported tables
	Conversion *ConversionInfo `json:"conversion,omitempty"` // for converted tables, and seeded ones stored as f16, bf16 or int8

	// The keys of format 1.1's sections (SPEC.md, "Metadata"); a converted
	// table carries them over from its source.
	Pooling    *Pooling        `json:"pooling,omitempty"`    // how text inputs are pooled, when the source says
	Vocabulary *VocabularyInfo `json:"vocabulary,omitempty"` // where the vocabulary section came from
	Tokenizer  *TokenizerInfo  `json:"tokenizer,omitempty"`  // where the tokenizer section came from

	WordVectors *WordVectorInfo `json:"word_vectors,omitempty"` // for tables imported from word vectors (ImportWordVectors)
}

// Pooling is the "pooling" metadata: how a model turns the rows of a text's
// tokens into one vector, the default for text inputs (embquery embed, the
// server's embeddings). A table without it pools by the mean, without
// normalising.
type Pooling struct {
	Mode      string `json:"mode"`      // "mean", "cls", "last" or "max"
	Normalize bool   `json:"normalize"` // L2-normalise the pooled vector
}

// VocabularyInfo is the "vocabulary" metadata of a table with a vocabulary
// section: where its strings came from and what was left out of it.
type VocabularyInfo struct {
	// Source is "tokenizer" (the token of every id a tokenizer defines), or
	// the word-vector format the words were read from ("word2vec",
	// "word2vec-text", "glove", "fasttext-vec", "fasttext-bin").
	Source string `json:"source"`
	// InvalidUTF8 counts strings that are not valid UTF-8 (stored as they
	// are).
	InvalidUTF8 int64 `json:"invalid_utf8,omitempty"`
	// Duplicates counts rows left without a string because another row has
	// it (a vocabulary maps each string to one row), or, for word vectors,
	// rows dropped because their word came earlier (the first row is kept,
	// as gensim keeps it); DuplicateWords lists the first 100 such strings
	// (as JSON strings: a byte that is not UTF-8 reads as U+FFFD).
	Duplicates     int64    `json:"duplicates,omitempty"`
	DuplicateWords []string `json:"duplicate_words,omitempty"`
}

// SeedSource records how a seeded table was drawn, enough to draw it again:
// torch.manual_seed(Seed), then the token table (and the positional table, if
// Positions > 0) initialised with Init and Params on the TorchMath path.
type SeedSource struct {
	Seed      uint64             `json:"seed"`       // the 64-bit torch seed
	Init      string             `json:"init"`       // "embedding", "normal" or "uniform"
	Params    map[string]float64 `json:"params"`     // mean and std, or low and high
	TorchMath string             `json:"torch_math"` // "avx2" or "default"
	Generator string             `json:"generator"`  // "torch.mt19937"
	Positions int64              `json:"positions"`  // rows of the positional table, 0 if none
}

// ReadProvenance decodes the metadata document of a table written by this
// package (or by embpack). Keys it does not know are ignored; a table that
// other software wrote may have none of these.
func ReadProvenance(md []byte) (*Provenance, error) {
	var p Provenance
	if err := json.Unmarshal(md, &p); err != nil {
		return nil, fmt.Errorf("pack: metadata: %w", err)
	}
	return &p, nil
}

// setProvenance encodes p as the metadata of fw.
func setProvenance(fw *format.FileWriter, p *Provenance) error {
	md, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("pack: encode metadata: %w", err)
	}
	return fw.SetMetadata(md)
}
