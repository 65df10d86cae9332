package safetensors

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"golang.org/x/exp/mmap"

	"github.com/embstore/embstore/internal/faultguard"
	"github.com/embstore/embstore/internal/regfile"
)

// A File is an open safetensors file whose header has been validated.
//
// A File is safe for concurrent use by multiple goroutines, except Close,
// which must not run concurrently with any read. Each RowReader it returns
// belongs to one goroutine.
type File struct {
	Header

	// Name is the path the file was opened with; empty for NewFile.
	Name string

	r      io.ReaderAt
	closer io.Closer
}

// Open memory-maps the named file read-only and validates its header (see
// ParseHeader). Data are copied out of the mapping when read, never
// referenced; reads that fault because the file was truncated after it was
// opened return ErrReadFault rather than crashing.
func Open(name string) (*File, error) {
	// Check the type on a descriptor opened without blocking: mmap.Open
	// would wait forever on a named pipe.
	rf, _, err := regfile.Open(name)
	if err != nil {
		return nil, err
	}
	rf.Close()
	m, err := mmap.Open(name)
	if err != nil {
		return nil, err
	}
	f, err := newFile(&faultSafeReaderAt{m}, int64(m.Len()), name)
	if err != nil {
		m.Close()
		return nil, err
	}
	f.closer = m
	return f, nil
}

// NewFile validates the header of the safetensors file of the given size
// that r reads, and returns a File reading its tensors through r. Close does
// not close r.
func NewFile(r io.ReaderAt, size int64) (*File, error) {
	return newFile(r, size, "")
}

func newFile(r io.ReaderAt, size int64, name string) (*File, error) {
	h, err := parseHeader(r, size, name)
	if err != nil {
		return nil, err
	}
	return &File{Header: *h, Name: name, r: r}, nil
}

// Close unmaps a file opened with Open; for a File from NewFile it does
// nothing. It must not be called while another goroutine reads the file.
func (f *File) Close() error {
	if f.closer == nil {
		return nil
	}
	err := f.closer.Close()
	f.closer = nil
	return err
}

// Tensor returns the description of the named tensor, or an error wrapping
// ErrTensorNotFound. The result must not be modified.
func (f *File) Tensor(name string) (*TensorInfo, error) {
	i, ok := f.index[name]
	if !ok {
		return nil, &FormatError{File: f.Name, Offset: -1, Tensor: name, Err: ErrTensorNotFound}
	}
	return &f.Tensors[i], nil
}

// RawReader returns a reader of the named tensor's bytes exactly as stored,
// whatever its dtype.
func (f *File) RawReader(name string) (*io.SectionReader, error) {
	t, err := f.Tensor(name)
	if err != nil {
		return nil, err
	}
	return io.NewSectionReader(f.r, t.Offset, t.Size()), nil
}

// hashBufferSize is the size of the buffer SHA256 streams the file through.
const hashBufferSize = 1 << 20

// SHA256 returns the SHA-256 digest of the whole file, reading it in 1 MiB
// pieces.
func (f *File) SHA256() ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	h := sha256.New()
	if _, err := io.CopyBuffer(h, io.NewSectionReader(f.r, 0, f.Size), make([]byte, hashBufferSize)); err != nil {
		return sum, readError(f.Name, "hashing", err)
	}
	h.Sum(sum[:0])
	return sum, nil
}

// faultSafeReaderAt reads a memory-mapped file, turning the fault raised
// when the mapped file has shrunk under us (SIGBUS) into ErrReadFault (see
// package faultguard).
type faultSafeReaderAt struct {
	r io.ReaderAt
}

// ReadAt reads from the mapping with faults turned into errors.
func (m *faultSafeReaderAt) ReadAt(p []byte, off int64) (n int, err error) {
	err = faultguard.Run(func() error {
		var rerr error
		n, rerr = m.r.ReadAt(p, off)
		return rerr
	})
	if f, ok := err.(*faultguard.Fault); ok {
		return 0, fmt.Errorf("%w at address %#x", ErrReadFault, f.Addr)
	}
	return n, err
}

// readFullAt reads exactly len(p) bytes at off. Following the io.ReaderAt
// contract, a read that fills p is a success even if it also returns
// io.EOF.
func readFullAt(r io.ReaderAt, p []byte, off int64) error {
	if len(p) == 0 {
		return nil
	}
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// readError reports an I/O error while reading a file.
func readError(file, what string, err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	if file == "" {
		return fmt.Errorf("safetensors: %s: %w", what, err)
	}
	return fmt.Errorf("safetensors: %s: %s: %w", file, what, err)
}
