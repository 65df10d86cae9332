// Package pooling turns the token rows of a text into one vector, as
// sentence-transformers' Pooling module does: the mean or the maximum of
// the rows, the first token's row (CLS) or the last token's, optionally
// L2-normalised. It also reads a table's default pooling from its metadata
// (the "pooling" key; format/SPEC.md, "Metadata"). embquery embed and the
// server's text routes share it, so that both pool alike.
package pooling

import (
	"encoding/json"
	"fmt"
	"math"
)

// A Mode is how the rows of one input become one vector.
type Mode int

// The modes. Mean and Max are the bag poolings of store.Table.Bag (BagMean,
// BagMax); CLS and Last keep one token's row as Lookup returns it.
const (
	Mean Mode = iota // the mean of the rows, as embquery bag --mode mean
	Max              // the maximum of each column, as embquery bag --mode max
	CLS              // the first token's row
	Last             // the last token's row
)

// Names lists the names ParseMode accepts, in Mode order.
var Names = []string{"mean", "max", "cls", "last"}

// String returns the mode's name.
func (m Mode) String() string {
	if m < 0 || int(m) >= len(Names) {
		return fmt.Sprintf("Mode(%d)", int(m))
	}
	return Names[m]
}

// ParseMode returns the mode named s (mean, max, cls or last).
func ParseMode(s string) (Mode, error) {
	for i, n := range Names {
		if s == n {
			return Mode(i), nil
		}
	}
	return 0, fmt.Errorf("pooling mode %q: want mean, max, cls or last", s)
}

// Pooling is a mode and whether the pooled vector is L2-normalised.
type Pooling struct {
	Mode      Mode
	Normalize bool
}

// Default is the pooling of a table whose metadata records none.
var Default = Pooling{Mode: Mean}

// FromMetadata returns the pooling a table's metadata document records
// under "pooling" ({"mode": "mean"|"max"|"cls"|"last", "normalize": bool}),
// or Default when it records none (or the table has no metadata). A
// "pooling" value of another shape is an error naming what is wrong.
func FromMetadata(md []byte) (Pooling, error) {
	if len(md) == 0 {
		return Default, nil
	}
	var doc struct {
		Pooling json.RawMessage `json:"pooling"`
	}
	if err := json.Unmarshal(md, &doc); err != nil {
		return Default, nil // not an object: no pooling recorded (format checks the document)
	}
	if len(doc.Pooling) == 0 || string(doc.Pooling) == "null" {
		return Default, nil
	}
	var p struct {
		Mode      *string `json:"mode"`
		Normalize *bool   `json:"normalize"`
	}
	if err := json.Unmarshal(doc.Pooling, &p); err != nil {
		return Default, fmt.Errorf("metadata \"pooling\": %s; want {\"mode\": \"mean\"|\"max\"|\"cls\"|\"last\", \"normalize\": true|false}", doc.Pooling)
	}
	out := Default
	if p.Mode != nil {
		m, err := ParseMode(*p.Mode)
		if err != nil {
			return Default, fmt.Errorf("metadata \"pooling\": %w", err)
		}
		out.Mode = m
	}
	if p.Normalize != nil {
		out.Normalize = *p.Normalize
	}
	return out, nil
}

// Pick appends to dst the id that mode m (CLS or Last) keeps of each input,
// where input i is ids[starts[i]:starts[i+1]] (the last runs to the end of
// ids). Every input must hold at least one id.
func Pick(dst, ids, starts []int64, m Mode) []int64 {
	for i, s := range starts {
		end := int64(len(ids))
		if i+1 < len(starts) {
			end = starts[i+1]
		}
		if m == Last {
			s = end - 1
		}
		dst = append(dst, ids[s])
	}
	return dst
}

// Normalize scales each row of dim values of vals to unit L2 norm, as TEI's
// normalize (and torch.nn.functional.normalize, eps 1e-12) does: the norm is
// summed in float64 and every value divided by max(norm, 1e-12) in float32.
func Normalize(vals []float32, dim int) {
	for r := 0; r+dim <= len(vals); r += dim {
		row := vals[r : r+dim]
		var ss float64
		for _, v := range row {
			// The product of two float32 values is exact in float64, so
			// fusing would change nothing; the conversion keeps the build
			// the same at every GOAMD64 level, which CI checks.
			ss += float64(float64(v) * float64(v))
		}
		n := float32(max(math.Sqrt(ss), 1e-12))
		for i := range row {
			row[i] /= n
		}
	}
}
