package format

// Provenance is the metadata document embpack writes (see SPEC.md,
// "Metadata"): how the table was made. Readers must ignore keys they do not
// know, so that later writers can add some; encoding/json does.
type Provenance struct {
	Creator    string      `json:"creator"`          // program that wrote the file, e.g. "embpack 0.1.0"
	Source     string      `json:"source"`           // "seed", "safetensors" or "convert"
	Seed       *SeedSource `json:"seed,omitempty"`   // for seeded tables
	Import     any         `json:"import,omitempty"` // for imported tables
	Conversion any         `json:"conversion,omitempty"`
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
