// Package pack builds embstore table files: seeded tables drawn exactly as
// PyTorch draws them (Seed), tables imported from Hugging Face safetensors
// checkpoints (Import), tables of word vectors imported from word2vec,
// GloVe and fastText files (ImportWordVectors) and exported back to them
// (ExportWordVectors), tables converted to another storage dtype (Convert,
// ConvertWith), tables exported back to safetensors (Export), and tables
// split into row-range shards and joined back (Shard, Unshard). Seeded,
// imported and converted tables can carry a tokenizer and its vocabulary
// (format 1.1), so that text turns into ids and rows. The embpack command
// is a thin layer over it.
//
// Every function writes through format.CreateWith (or, for a safetensors
// file or a manifest, the same atomic writer): the destination is replaced
// only once the new file is complete and synced, a destination that is one
// of the inputs is refused, and Options.NoReplace refuses one that exists.
// Every function takes a context: cancelling it stops the work between two
// chunks of rows (about 1 MiB), removes the temporary file and returns the
// context's error; nothing is left at the destination. Progress reports the
// rows written so far.
//
// # Errors
//
// Errors say what was wrong and where, without naming any command-line
// flag (the embpack command turns them into messages about its flags):
//
//   - *SpecError: a field of a spec (SeedSpec, ImportSpec, ShardSpec) or
//     an argument is out of range or contradicts another.
//   - *ChoiceError (wrapping ErrNoTable): Import cannot tell which tensor
//     is the token or positional table.
//   - *ConventionError: a model convention (position offset, token scale,
//     compute dtype) from the spec, the source's metadata or config.json
//     does not fit the table.
//   - *ConfigError: config.json is needed for a convention and cannot be
//     read.
//   - ErrNotMatrix (errors.Is): a tensor that is not 2-D, without
//     ImportSpec.Shape to read it as rows.
//   - *TokenizerError: a tokenizer to store (ImportSpec.Tokenizer, the one
//     beside the weights, SeedSpec.Tokenizer, ConvertSpec.Tokenizer)
//     cannot be read, is one the tokenizer package refuses (a
//     *tokenizer.LoadError naming the component), or defines an id past
//     the table's rows (*TokenIDError, naming the first).
//   - the format package's errors (*format.FormatError, fs errors such as
//     format.ErrSameFile, fs.ErrExist) for the files read and written, and
//     ctx.Err() when the context ends.
//
// # Who checks what
//
// A function checks its spec before it creates anything (SpecError); the
// format package checks the layout again as the one owner of the file's
// rules (format.Layout.Header), and the writer checks every row it is
// given. The sources are checked by their readers: format.Open for tables,
// the safetensors reader for checkpoints (every header rule, before a
// byte of data is read).
package pack

import (
	"context"
	"fmt"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/errctx"
)

// DefaultCreator is the creator recorded in the metadata of the tables this
// package writes when Options.Creator is empty.
const DefaultCreator = "embstore"

// A Progress receives how many rows of how many have been written.
type Progress func(done, total int64)

// Options are what every function of the package takes besides its spec. A
// nil *Options means the zero value: no progress, an existing destination
// replaced, DefaultCreator.
type Options struct {
	// Progress, if not nil, is called after each chunk of rows (about
	// 1 MiB) with the rows written so far and the total.
	Progress Progress
	// NoReplace refuses a destination that exists (an error wrapping
	// fs.ErrExist), both when the writer starts and, atomically, when it
	// commits.
	NoReplace bool
	// Creator is recorded as the metadata's "creator": the program that
	// wrote the table, e.g. "embpack 0.1.0". "" records DefaultCreator.
	Creator string
}

// opts returns o, or the zero Options for nil.
func opts(o *Options) *Options {
	if o == nil {
		return &Options{}
	}
	return o
}

func (o *Options) creator() string {
	if o.Creator == "" {
		return DefaultCreator
	}
	return o.Creator
}

// counter reports progress: total rows, done so far.
type counter struct {
	fn          Progress
	done, total int64
}

func (o *Options) counter(total int64) *counter { return &counter{fn: o.Progress, total: total} }

// add reports n more rows written.
func (c *counter) add(n int64) {
	c.done += n
	if c.fn != nil {
		c.fn(c.done, c.total)
	}
}

// create starts the table at path, refusing to write over inputs.
func create(path string, l format.Layout, o *Options, inputs ...string) (*format.FileWriter, error) {
	return format.CreateWith(path, l, &format.CreateOptions{NoReplace: o.NoReplace, Inputs: inputs})
}

// chunkBytes is how much a stream loop reads and writes at a time.
const chunkBytes = 1 << 20

// stream copies n units (rows) in steps of step, through buf (at least
// step units of per elements each): read fills buf with units [first,
// first+m), write takes them, done counts them. It stops at the first
// error, or when ctx ends. It is the one loop behind every copy of rows in
// this package: decoded values (float32) or stored bytes.
func stream[T any](ctx context.Context, n, step, per int64, read func(buf []T, first, m int64) error, write func([]T) error, done func(int64)) error {
	buf := make([]T, min(step, max(n, 1))*per)
	for first := int64(0); first < n; first += step {
		if err := ctx.Err(); err != nil {
			return err
		}
		m := min(step, n-first)
		b := buf[:m*per]
		if err := read(b, first, m); err != nil {
			return err
		}
		if err := write(b); err != nil {
			return errctx.In("embstore", fmt.Sprintf("rows %d to %d", first, first+m), err)
		}
		done(m)
	}
	return nil
}

// rowsStep is how many rows of dim float32 values make a chunk.
func rowsStep(dim int64) int64 { return max(1, chunkBytes/4/dim) }
