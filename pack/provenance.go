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
	Source     string          `json:"source"`               // "seed", "safetensors" or "convert" ("shard" for shards: see Shard)
	Seed       *SeedSource     `json:"seed,omitempty"`       // for seeded tables
	Import     *ImportInfo     `json:"import,omitempty"`     // for imported tables
	Conversion *ConversionInfo `json:"conversion,omitempty"` // for converted tables, and seeded ones stored as f16, bf16 or int8
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
