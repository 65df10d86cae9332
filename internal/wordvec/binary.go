package wordvec

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"math"
)

// binarySource reads word2vec's binary rows: the word up to a space (a
// leading "\n", which the C tool writes after each vector and gensim does
// not, is dropped, as gensim does), then dim little-endian float32.
type binarySource struct {
	r     *bufio.Reader
	dim   int
	claim int64
	opts  *Options
	stats *Stats
	off   int64 // offset in the stream of the next byte
	row   int64
	blk   Block
	raw   []byte
	err   error
}

// binaryBlockBytes bounds the words and vectors a block holds.
const binaryBlockBytes = 1 << 20

func newBinarySource(r io.Reader, dim int, claim int64, off int64, opts *Options, stats *Stats) *binarySource {
	return &binarySource{
		r: bufio.NewReaderSize(r, 64<<10), dim: dim, claim: claim, opts: opts, stats: stats, off: off,
		raw: make([]byte, 4*dim),
	}
}

func (s *binarySource) close() {}

// readWord reads one row's word into dst. It returns io.EOF when the stream
// ends before the row's first byte, after any newlines.
func (s *binarySource) readWord(dst []byte) ([]byte, error) {
	// Newlines between rows.
	for {
		c, err := s.r.ReadByte()
		if err != nil {
			return dst, err
		}
		if c != '\n' {
			s.r.UnreadByte()
			break
		}
		s.off++
	}
	start := len(dst)
	for {
		frag, err := s.r.ReadSlice(' ')
		if len(dst)-start+len(frag) > MaxWordBytes+1 {
			return dst, rowErr(Word2Vec, s.row, ErrLimit, "no space within %d bytes: the word is longer than allowed, or the data is not word2vec binary", MaxWordBytes)
		}
		dst = append(dst, frag...)
		s.off += int64(len(frag))
		if err == nil {
			return dst[:len(dst)-1], nil
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			return dst, rowErr(Word2Vec, s.row, ErrTruncated, "the data ends inside the word %s", quote(dst[start:]))
		}
		return dst, err
	}
}

// readRow reads one row, appending its word to the block's data and its
// vector to the block's vectors.
func (s *binarySource) readRow(b *Block) error {
	start := len(b.data)
	data, err := s.readWord(b.data)
	b.data = data
	if err != nil {
		return err
	}
	w := data[start:]
	if bad := checkWord(w, s.dim, s.opts.StrictUTF8); bad != nil && bad.kind != ErrFields {
		return rowErr(Word2Vec, s.row, bad.kind, "%s", bad.msg)
	}
	n, err := io.ReadFull(s.r, s.raw)
	s.off += int64(n)
	if err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return rowErr(Word2Vec, s.row, ErrTruncated, "the data ends after %d of the %d bytes of the vector of %s", n, len(s.raw), quote(w))
		}
		return err
	}
	for i := range s.dim {
		b.Vectors = append(b.Vectors, math.Float32frombits(binary.LittleEndian.Uint32(s.raw[4*i:])))
	}
	b.spans = append(b.spans, span{uint32(start), uint32(len(data))})
	return nil
}

func (s *binarySource) next() (*Block, error) {
	if s.err != nil {
		return nil, s.err
	}
	b := &s.blk
	b.reset(s.dim, b.data[:0])
	for s.row < s.claim && len(b.data)+4*len(b.Vectors) < binaryBlockBytes {
		if err := s.readRow(b); err != nil {
			if err == io.EOF {
				err = newErr(Word2Vec, ErrRowCount, "the header claims %d rows, the file has %d", s.claim, s.row)
			}
			s.err = s.wrap(err)
			return nil, s.err
		}
		s.row++
	}
	if b.Len() > 0 {
		return b, nil
	}
	s.err = s.wrap(s.finish())
	return nil, s.err
}

// finish checks what follows the rows the header claims: nothing but
// newlines. If whole rows follow, it counts them to report the row count.
func (s *binarySource) finish() error {
	var scratch Block
	start := s.off
	extra := int64(0)
	for {
		scratch.reset(s.dim, scratch.data[:0])
		err := s.readRow(&scratch)
		if err == io.EOF {
			break
		}
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				return err
			}
			if extra == 0 {
				return offErr(Word2Vec, start, ErrRowCount, "data that is not a row follows the %d rows the header claims", s.claim)
			}
			return newErr(Word2Vec, ErrRowCount, "the header claims %d rows, the file has %d and part of another", s.claim, s.row)
		}
		extra++
		s.row++
	}
	if extra > 0 {
		return newErr(Word2Vec, ErrRowCount, "the header claims %d rows, the file has %d", s.claim, s.row)
	}
	return io.EOF
}

func (s *binarySource) wrap(err error) error {
	var fe *FormatError
	if errors.As(err, &fe) {
		fe.Format = Word2Vec
		return fe
	}
	return err
}
