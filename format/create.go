package format

import (
	"github.com/embstore/embstore/internal/atomicfile"
)

// Errors Create refuses a destination with. They come wrapped in an
// *fs.PathError naming the destination; test for them with errors.Is.
var (
	// ErrNotRegular: the destination exists and is not a regular file (a
	// directory, device, named pipe or socket, or a symbolic link to a
	// missing file).
	ErrNotRegular = atomicfile.ErrNotRegular
	// ErrSameFile: the destination is one of CreateOptions.Inputs.
	ErrSameFile = atomicfile.ErrSameFile
	// ErrNoSpace: the file system has less free space than the table
	// needs. Where the system has ENOSPC, errors.Is also matches it.
	ErrNoSpace = atomicfile.ErrNoSpace
)

// CreateOptions are the optional rules of CreateWith. The zero value is
// what Create does: replace an existing destination.
type CreateOptions struct {
	// NoReplace refuses a destination that already exists, with an error
	// wrapping fs.ErrExist, both when the writer is created and, atomically,
	// when Commit renames the table into place.
	NoReplace bool
	// Inputs are the files the table is made from (the table it converts,
	// the checkpoint it imports). A destination that is the same file as
	// one of them, by device and inode, is refused with ErrSameFile before
	// anything is written.
	Inputs []string
	// NoReserve skips the check of free space and the reservation of the
	// file's size before anything is written. It is for a RowsAtMost layout
	// whose Rows is only a loose bound (a GloVe stream whose length nothing
	// tells), where reserving room for Rows rows would refuse the table, or
	// hold space for rows that never come.
	NoReserve bool
}

// A FileWriter writes a table file atomically: rows go to a temporary file in
// the destination's directory, and Commit renames it over the destination
// only once it is complete and synced. Until then the destination is
// untouched; a crash leaves at most the temporary file, which a later Create
// in the same directory removes. A file another process has mapped is never
// rewritten in place. The rules for destinations (file types, symbolic and
// hard links, modes, free space) are in SPEC.md, "Writing". On Linux the
// kernel is asked to start writing the rows to disk as they come
// (writeback.go), so that Commit's sync waits less.
//
// Its methods are a Writer's (see Writer for the rows and the metadata),
// and it ends with exactly one of Commit, which publishes the table, or
// Abort, which removes it. It has no Close: a FileWriter is not an
// io.Closer, so that a deferred Close cannot be mistaken for the Commit
// it is not. Any method after Commit or Abort returns an error.
type FileWriter struct {
	w *Writer
	f *atomicfile.File
}

// Create starts writing a table with layout l to path, replacing the file
// there when Commit succeeds. Write the rows, then Commit; call Abort (for
// instance deferred) to give up, which removes the temporary file. Create
// also removes temporary files that killed writers left in the directory.
//
// Create refuses a destination that is not a regular file (ErrNotRegular),
// follows a symbolic link to the file it names, and fails at once
// (ErrNoSpace) when the file system cannot hold the table. See CreateWith
// for more rules.
func Create(path string, l Layout) (*FileWriter, error) { return CreateWith(path, l, nil) }

// CreateWith is Create with options; a nil o means the zero CreateOptions.
func CreateWith(path string, l Layout, o *CreateOptions) (*FileWriter, error) {
	if o == nil {
		o = &CreateOptions{}
	}
	size, err := l.reserveSize()
	if err != nil {
		return nil, err
	}
	if o.NoReserve {
		size = 0
	}
	f, err := atomicfile.Create(path, &atomicfile.Options{NoReplace: o.NoReplace, Inputs: o.Inputs, Size: size})
	if err != nil {
		return nil, err
	}
	w, err := NewWriter(&writebackFile{File: f.File}, l)
	if err != nil {
		f.Abort()
		return nil, err
	}
	w.name = path
	return &FileWriter{w: w, f: f}, nil
}

// Header returns the header the file will have, without its metadata
// section (Writer.Header).
func (fw *FileWriter) Header() *Header { return fw.w.Header() }

// WriteTokens appends token rows (Writer.WriteTokens).
func (fw *FileWriter) WriteTokens(vals []float32) error { return fw.w.WriteTokens(vals) }

// WritePositions appends positional rows (Writer.WritePositions).
func (fw *FileWriter) WritePositions(vals []float32) error { return fw.w.WritePositions(vals) }

// WriteTokenRows appends token rows as stored (Writer.WriteTokenRows).
func (fw *FileWriter) WriteTokenRows(b []byte) error { return fw.w.WriteTokenRows(b) }

// WritePositionRows appends positional rows as stored
// (Writer.WritePositionRows).
func (fw *FileWriter) WritePositionRows(b []byte) error { return fw.w.WritePositionRows(b) }

// EndTokens ends the token table of a RowsAtMost layout (Writer.EndTokens).
func (fw *FileWriter) EndTokens() error { return fw.w.EndTokens() }

// WriteSubwords appends subword rows (Writer.WriteSubwords).
func (fw *FileWriter) WriteSubwords(vals []float32) error { return fw.w.WriteSubwords(vals) }

// WriteSubwordRows appends subword rows as stored (Writer.WriteSubwordRows).
func (fw *FileWriter) WriteSubwordRows(b []byte) error { return fw.w.WriteSubwordRows(b) }

// WriteStrings appends vocabulary strings in row order (Writer.WriteStrings).
func (fw *FileWriter) WriteStrings(strs ...[]byte) error { return fw.w.WriteStrings(strs...) }

// SetTokenizer sets the tokenizer document (Writer.SetTokenizer).
func (fw *FileWriter) SetTokenizer(doc []byte) error { return fw.w.SetTokenizer(doc) }

// SetTokenizerSection sets an encoded tokenizer section as it is
// (Writer.SetTokenizerSection).
func (fw *FileWriter) SetTokenizerSection(sec []byte) error { return fw.w.SetTokenizerSection(sec) }

// SetMetadata sets the metadata document (Writer.SetMetadata).
func (fw *FileWriter) SetMetadata(md []byte) error { return fw.w.SetMetadata(md) }

// MaxError returns the largest error conversion has made so far
// (Writer.MaxError).
func (fw *FileWriter) MaxError() float64 { return fw.w.MaxError() }

// Finish ends the table and writes its header without committing it
// (Writer.Finish): the header it returns is what a copy of a table (a join
// of shards) checks against its original before it calls Commit, which then
// only syncs and renames. After an error, Commit fails and removes the file.
func (fw *FileWriter) Finish() (*Header, error) { return fw.w.Finish() }

// Commit finishes the table (the metadata and the header, after checking
// that every row was written), syncs it, renames it to the destination path
// and syncs the directory. On error the temporary file is removed and the
// destination left as it was. A second Commit, or a Commit after Abort,
// returns an error.
func (fw *FileWriter) Commit() error {
	if err := fw.w.Close(); err != nil {
		fw.f.Abort()
		return err
	}
	if fw.w.layout.RowsAtMost {
		// The space reserved for Rows rows that were not written is
		// released (it lies past the end of the file).
		if err := fw.f.File.Truncate(fw.w.written); err != nil {
			fw.f.Abort()
			return fw.w.ioErr("truncate", err)
		}
	}
	return fw.f.Commit()
}

// Abort abandons the table and removes the temporary file; the writer's
// methods then return errors. It does nothing after Commit, so it can be
// deferred.
func (fw *FileWriter) Abort() {
	fw.f.Abort()
	fw.w.abandon()
}
