package wordvec

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/embstore/embstore/internal/regfile"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zip"
	"github.com/klauspost/compress/zstd"
)

// maxLayers bounds nested compression (a .gz inside a .zip is two).
const maxLayers = 4

// A stream is a source with its compressions undone: r yields the bytes of
// the word-vector file itself.
type stream struct {
	r io.Reader
	// ra gives random access to the same bytes when the source is a plain
	// (uncompressed) file or io.ReaderAt; nil otherwise.
	ra     io.ReaderAt
	size   int64
	layers []string
	member string
	// dataSize is the size of the uncompressed data when known (a plain
	// file or io.ReaderAt, a zip member), -1 otherwise.
	dataSize int64
	closer   []io.Closer
}

func (s *stream) close() error {
	var first error
	for i := len(s.closer) - 1; i >= 0; i-- {
		if err := s.closer[i].Close(); err != nil && first == nil {
			first = err
		}
	}
	s.closer = nil
	return first
}

// sniff names the compression or archive whose magic bytes start b, or "".
func sniff(b []byte) string {
	switch {
	case len(b) >= 3 && b[0] == 0x1f && b[1] == 0x8b && b[2] == 8:
		return "gzip"
	case len(b) >= 4 && b[0] == 0x28 && b[1] == 0xb5 && b[2] == 0x2f && b[3] == 0xfd:
		return "zstd"
	case len(b) >= 10 && b[0] == 'B' && b[1] == 'Z' && b[2] == 'h' && b[3] >= '1' && b[3] <= '9' &&
		(bytes.Equal(b[4:10], []byte{0x31, 0x41, 0x59, 0x26, 0x53, 0x59}) || bytes.Equal(b[4:10], []byte{0x17, 0x72, 0x45, 0x38, 0x50, 0x90})):
		return "bzip2"
	case len(b) >= 4 && b[0] == 'P' && b[1] == 'K' && (b[2] == 3 && b[3] == 4 || b[2] == 5 && b[3] == 6):
		return "zip"
	case len(b) >= 6 && bytes.Equal(b[:6], []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return "xz"
	case len(b) >= 4 && b[0] == 0x04 && b[1] == 0x22 && b[2] == 0x4d && b[3] == 0x18:
		return "lz4"
	case len(b) >= 6 && bytes.Equal(b[:6], []byte{'7', 'z', 0xbc, 0xaf, 0x27, 0x1c}):
		return "7z"
	}
	return ""
}

// compressedErr wraps a decompressor's error as a FormatError
// (ErrCompressed), keeping I/O errors of the file itself as they are.
type compressedReader struct {
	r    io.Reader
	kind string
}

func (c *compressedReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err != nil && err != io.EOF {
		var pe *os.PathError
		if !errors.As(err, &pe) {
			err = newErr(Auto, ErrCompressed, "%s: %v", c.kind, err)
		}
	}
	return n, err
}

// unwrap undoes the compressions of raw, detected by their magic bytes. ra
// and size give random access to raw (nil, 0 for a pure stream), which zip
// archives need.
func unwrap(raw io.Reader, ra io.ReaderAt, size int64, member string) (*stream, error) {
	s := &stream{dataSize: -1}
	cur := raw
	for depth := 0; ; depth++ {
		br := bufio.NewReaderSize(cur, 64<<10)
		magic, err := br.Peek(16)
		if err != nil && err != io.EOF {
			s.close()
			return nil, err
		}
		kind := sniff(magic)
		if kind == "" {
			s.r = br
			if depth == 0 {
				s.ra, s.size = ra, size
				if ra != nil {
					s.dataSize = size
				}
			}
			if member != "" && s.member == "" {
				s.close()
				return nil, newErr(Auto, ErrArchive, "a member (%q) was named, but the source is not a zip archive", member)
			}
			return s, nil
		}
		if depth == maxLayers {
			s.close()
			return nil, newErr(Auto, ErrUnsupported, "more than %d nested compressions", maxLayers)
		}
		s.layers = append(s.layers, kind)
		s.dataSize = -1
		switch kind {
		case "gzip":
			zr, err := gzip.NewReader(br)
			if err != nil {
				s.close()
				return nil, newErr(Auto, ErrCompressed, "gzip: %v", err)
			}
			s.closer = append(s.closer, zr)
			cur = &compressedReader{zr, kind}
		case "zstd":
			zr, err := zstd.NewReader(br)
			if err != nil {
				s.close()
				return nil, newErr(Auto, ErrCompressed, "zstd: %v", err)
			}
			rc := zr.IOReadCloser()
			s.closer = append(s.closer, rc)
			cur = &compressedReader{rc, kind}
		case "bzip2":
			cur = &compressedReader{bzip2.NewReader(br), kind}
		case "zip":
			if depth > 0 || ra == nil {
				s.close()
				return nil, newErr(Auto, ErrUnsupported, "a zip archive needs random access: open it as a file, not a stream or inside another compression")
			}
			rc, name, msize, err := openMember(ra, size, member)
			if err != nil {
				s.close()
				return nil, err
			}
			s.member, s.dataSize = name, msize
			s.closer = append(s.closer, rc)
			cur = &compressedReader{rc, kind}
		default:
			s.close()
			return nil, newErr(Auto, ErrUnsupported, "%s-compressed data (this reader undoes gzip, bzip2, zstd and zip)", kind)
		}
	}
}

// openMember opens the member of a zip archive to read: the one named, or
// the only file in the archive.
func openMember(ra io.ReaderAt, size int64, member string) (io.ReadCloser, string, int64, error) {
	zr, err := zip.NewReader(ra, size)
	if err != nil {
		return nil, "", 0, newErr(Auto, ErrArchive, "%v", err)
	}
	var files []*zip.File
	for _, f := range zr.File {
		if !f.FileInfo().IsDir() {
			files = append(files, f)
		}
	}
	var pick *zip.File
	if member != "" {
		for _, f := range files {
			if f.Name == member {
				pick = f
				break
			}
		}
		if pick == nil {
			return nil, "", 0, newErr(Auto, ErrArchive, "no member %q; the archive holds %s", member, listNames(files))
		}
	} else {
		switch len(files) {
		case 0:
			return nil, "", 0, newErr(Auto, ErrArchive, "the archive holds no file")
		case 1:
			pick = files[0]
		default:
			return nil, "", 0, newErr(Auto, ErrArchive, "the archive holds %d files, name the one to read: %s", len(files), listNames(files))
		}
	}
	rc, err := pick.Open()
	if err != nil {
		return nil, "", 0, newErr(Auto, ErrArchive, "member %q: %v", pick.Name, err)
	}
	msize := int64(-1)
	if pick.UncompressedSize64 <= 1<<62 {
		msize = int64(pick.UncompressedSize64) // the zip reader checks it as it reads
	}
	return rc, pick.Name, msize, nil
}

// listNames lists up to 10 member names, sorted.
func listNames(files []*zip.File) string {
	names := make([]string, 0, len(files))
	for _, f := range files {
		names = append(names, fmt.Sprintf("%q", f.Name))
	}
	sort.Strings(names)
	if len(names) > 10 {
		return strings.Join(names[:10], ", ") + fmt.Sprintf(" and %d more", len(names)-10)
	}
	return strings.Join(names, ", ")
}

// countingReader counts the bytes read from the source, for progress.
type sourceCounter struct {
	r  io.Reader
	ra io.ReaderAt
	n  atomic.Int64
}

func (c *sourceCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *sourceCounter) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.ra.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

// Open opens the word-vector file name: plain, compressed with gzip, bzip2
// or zstd, or inside a zip archive, all detected by their magic bytes; the
// format is detected by content unless opts names it. The file is read as a
// stream, never decompressed to disk or held in memory; a plain fastText
// .bin is read through a memory mapping (its n-gram rows are needed at
// random), a compressed one is read twice (see FastTextModel).
//
// name must be a regular file: a named pipe, a device or a directory is
// refused (an error wrapping regfile.ErrNotRegular) without blocking, as
// every file embstore reads is. To read a stream (a pipe, standard input),
// use NewReader.
func Open(name string, opts *Options) (*Reader, error) {
	f, st, err := regfile.Open(name)
	if err != nil {
		return nil, err
	}
	reopen := func() (*os.File, error) {
		f, _, err := regfile.Open(name)
		return f, err
	}
	r, err := newReader(f, f, st.Size(), reopen, name, opts)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.closers = append(r.closers, f)
	return r, nil
}

// NewReader reads word vectors from r, undoing gzip, bzip2 and zstd
// compression. A zip archive, and random access to a plain fastText .bin,
// need r to be an io.ReaderAt with a Size() int64 method too (as
// *bytes.Reader, *strings.Reader and *io.SectionReader are). Closing the
// Reader does not close r.
func NewReader(r io.Reader, opts *Options) (*Reader, error) {
	var ra io.ReaderAt
	var size int64
	if s, ok := r.(interface {
		io.ReaderAt
		Size() int64
	}); ok {
		ra, size = s, s.Size()
	}
	return newReader(r, ra, size, nil, "", opts)
}
