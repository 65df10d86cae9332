// Package pack builds table files: seeded tables drawn exactly as PyTorch
// draws them, and (in other files) tables imported from checkpoints or
// converted from other tables. The embpack command is a thin layer over it.
package pack

import (
	"encoding/json"
	"fmt"

	"github.com/embstore/embstore/format"
)

// Creator is the creator recorded in the metadata of every table this
// package writes.
var Creator = "embpack"

// A Progress receives how many rows of how many have been written. It may be
// nil.
type Progress func(done, total int64)

func (p Progress) report(done, total int64) {
	if p != nil {
		p(done, total)
	}
}

// WriteOptions say how a table is written to its destination (see
// format.CreateWith for the rules every writer follows). The zero value
// replaces an existing file.
type WriteOptions struct {
	// NoReplace refuses a destination that exists (an error wrapping
	// fs.ErrExist).
	NoReplace bool
}

// create starts the table at path, refusing to write over inputs.
func create(path string, l format.Layout, o WriteOptions, inputs ...string) (*format.FileWriter, error) {
	return format.CreateWith(path, l, &format.CreateOptions{NoReplace: o.NoReplace, Inputs: inputs})
}

// chunkValues is how many values a writer is fed at a time: 1 MiB of f32.
const chunkValues = 1 << 18

// setProvenance encodes p as the metadata of fw.
func setProvenance(fw *format.FileWriter, p *format.Provenance) error {
	md, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode metadata: %w", err)
	}
	return fw.SetMetadata(md)
}
