package wordvec

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"runtime/debug"
	"sync"
	"unicode/utf8"
)

// fastText's file signature (fasttext.cc).
const (
	fastTextMagic   = 793712314
	fastTextVersion = 12
)

// FastTextArgs are the training arguments a fastText model stores
// (args.cc), in file order.
type FastTextArgs struct {
	Dim, WS, Epoch, MinCount, Neg, WordNgrams, Loss, Model, Bucket, MinN, MaxN, LRUpdateRate int32
	T                                                                                        float64
}

// A FastTextModel is what a fastText .bin holds besides its word rows: the
// arguments, the dictionary counts and the subword bucket rows, which give
// out-of-vocabulary words their vectors.
//
// Its methods are safe for concurrent use, until the Reader it came from is
// closed. The bucket rows are read from
// the file through a memory mapping when the file is plain (or through the
// io.ReaderAt given to NewReader); from a compressed file they are held in
// memory (Bucket × Dim float32: 2.4 GB for the 2 M buckets of fastText's
// published 300-dimensional models), and Open reads the file twice, the
// first time for the bucket rows, so that the word rows, which come first,
// need not be held too. NewReader, which cannot read twice, holds the word
// rows as well.
type FastTextModel struct {
	// Version is the file format version (11 or 12).
	Version int32
	// Args are the training arguments.
	Args FastTextArgs
	// Words is the number of words (rows of the word table), Labels the
	// number of labels of a supervised model (which have no input rows and
	// are not read), Tokens the number of tokens trained on.
	Words, Labels, Tokens int64
	// Counts holds each word's count in the training data, in row order.
	Counts []int64
	// Subwords are the n-gram parameters: MinN, MaxN and Bucket from Args
	// (MaxN 0 for a version-11 supervised model, as fastText does).
	Subwords Subwords

	dim        int
	matrixOff  int64        // offset of input row 0 in the decompressed stream
	ra         io.ReaderAt  // random access to the input matrix, or nil
	wordsMem   *memMatrix   // word rows held in memory (NewReader on a stream)
	bucketsMem *memMatrix   // bucket rows held in memory (compressed sources)
	closer     func() error // unmaps
}

// Dim returns the vector width.
func (m *FastTextModel) Dim() int { return m.dim }

// BucketRow reads the row of bucket b (0 <= b < Subwords.Bucket) into dst.
func (m *FastTextModel) BucketRow(dst []float32, b int64) error {
	if b < 0 || b >= m.Subwords.Bucket {
		return newErr(FastTextBin, ErrLimit, "bucket %d out of range [0, %d)", b, m.Subwords.Bucket)
	}
	if len(dst) < m.dim {
		return newErr(FastTextBin, ErrLimit, "destination of %d values for rows of %d", len(dst), m.dim)
	}
	return guard(func() error { return m.readRows(dst[:m.dim], m.Words+b, nil) })
}

// BucketRows calls fn with the bucket rows in order, a run of rows at a
// time: rows holds whole rows, the first of which is bucket first. rows is
// only valid during the call. It stops at fn's first error.
func (m *FastTextModel) BucketRows(fn func(first int64, rows []float32) error) error {
	per := max(1, (1<<18)/m.dim)
	buf := make([]float32, per*m.dim)
	var raw []byte
	for b := int64(0); b < m.Subwords.Bucket; b += int64(per) {
		n := int(min(int64(per), m.Subwords.Bucket-b))
		if err := guard(func() error { return m.readRows(buf[:n*m.dim], m.Words+b, &raw) }); err != nil {
			return err
		}
		if err := fn(b, buf[:n*m.dim]); err != nil {
			return err
		}
	}
	return nil
}

// OOVVector computes into dst (of Dim values) the vector of a word that is
// not in the vocabulary, as gensim does: see Subwords.OOVVector. It returns
// the number of n-grams averaged, and ErrNoSubwords for a model without
// buckets.
func (m *FastTextModel) OOVVector(dst []float32, word []byte) (int, error) {
	if m.Subwords.Bucket == 0 {
		return 0, newErr(FastTextBin, ErrNoSubwords, "the model has no subword buckets: no vector for out-of-vocabulary %s", quote(word))
	}
	buckets := m.Subwords.AppendBuckets(nil, word)
	row := m.rowFunc()
	return len(buckets), guard(func() error { return m.Subwords.OOVVector(dst[:m.dim], buckets, row) })
}

// rowFunc returns a RowFunc over the bucket rows with its own scratch space
// (one for each goroutine). Calls that may read a mapping run under guard.
func (m *FastTextModel) rowFunc() RowFunc {
	if m.bucketsMem != nil {
		return m.bucketsMem.row
	}
	row := make([]float32, m.dim)
	var raw []byte
	return func(b int64) ([]float32, error) {
		if b < 0 || b >= m.Subwords.Bucket {
			return nil, newErr(FastTextBin, ErrLimit, "bucket %d out of range [0, %d)", b, m.Subwords.Bucket)
		}
		return row, m.readRows(row, m.Words+b, &raw)
	}
}

// readRows reads input rows first, first+1, ... into dst (whole rows),
// through *scratch (grown as needed; nil: allocate) when they come from the
// file. Reads of a mapping run under guard.
func (m *FastTextModel) readRows(dst []float32, first int64, scratch *[]byte) error {
	if m.bucketsMem != nil && first >= m.Words {
		return m.bucketsMem.read(dst, first-m.Words)
	}
	if m.wordsMem != nil && first < m.Words {
		return m.wordsMem.read(dst, first)
	}
	if m.ra == nil {
		return newErr(FastTextBin, ErrUnsupported, "the input rows are not available at random")
	}
	var buf []byte
	if scratch == nil {
		buf = make([]byte, 4*len(dst))
	} else {
		if cap(*scratch) < 4*len(dst) {
			*scratch = make([]byte, 4*len(dst))
		}
		buf = (*scratch)[:4*len(dst)]
	}
	off := m.matrixOff + first*int64(4*m.dim)
	if n, err := m.ra.ReadAt(buf, off); n < len(buf) {
		if err == nil || err == io.EOF {
			err = offErr(FastTextBin, off+int64(n), ErrTruncated, "the input matrix ends early")
		}
		return err
	}
	decodeF32(dst, buf)
	return nil
}

// guard runs fn turning a memory fault (a mapped file truncated under us)
// into an error instead of a crash.
func guard(fn func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			if f, ok := r.(interface{ Addr() uintptr }); ok && f.Addr() >= 4096 {
				err = newErr(FastTextBin, ErrTruncated, "the file shrank while it was read")
				return
			}
			panic(r)
		}
	}()
	return fn()
}

func decodeF32(dst []float32, b []byte) {
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
}

// memMatrix is a run of rows held in memory, in chunks allocated as the
// data arrives (a header cannot make it allocate more than the data holds,
// plus one chunk).
type memMatrix struct {
	dim       int
	chunkRows int
	rows      int64
	chunks    [][]float32
}

func readMatrix(r io.Reader, rows int64, dim int, off *int64) (*memMatrix, error) {
	m := &memMatrix{dim: dim, chunkRows: max(1, (4<<20)/(4*dim))}
	buf := make([]byte, 4*dim*int(min(int64(m.chunkRows), max(rows, 1))))
	for m.rows < rows {
		n := int(min(int64(m.chunkRows), rows-m.rows))
		b := buf[:4*dim*n]
		got, err := io.ReadFull(r, b)
		*off += int64(got)
		if err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return nil, offErr(FastTextBin, *off, ErrTruncated, "the input matrix ends after %d of its rows", m.rows+int64(got/(4*dim)))
			}
			return nil, err
		}
		c := make([]float32, n*dim)
		decodeF32(c, b)
		m.chunks = append(m.chunks, c)
		m.rows += int64(n)
	}
	return m, nil
}

func (m *memMatrix) row(i int64) ([]float32, error) {
	if i < 0 || i >= m.rows {
		return nil, newErr(FastTextBin, ErrLimit, "row %d out of range [0, %d)", i, m.rows)
	}
	c := m.chunks[i/int64(m.chunkRows)]
	j := int(i%int64(m.chunkRows)) * m.dim
	return c[j : j+m.dim : j+m.dim], nil
}

func (m *memMatrix) read(dst []float32, first int64) error {
	for k := 0; k < len(dst); k += m.dim {
		r, err := m.row(first + int64(k/m.dim))
		if err != nil {
			return err
		}
		copy(dst[k:k+m.dim], r)
	}
	return nil
}

// countingReader tracks the offset of a buffered stream.
type countingReader struct {
	r   *bufio.Reader
	off int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.off += int64(n)
	return n, err
}

func (c *countingReader) full(p []byte, what string) error {
	n, err := io.ReadFull(c.r, p)
	c.off += int64(n)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return offErr(FastTextBin, c.off, ErrTruncated, "the file ends inside %s", what)
	}
	return err
}

func (c *countingReader) i32(what string) (int32, error) {
	var b [4]byte
	err := c.full(b[:], what)
	return int32(binary.LittleEndian.Uint32(b[:])), err
}

func (c *countingReader) i64(what string) (int64, error) {
	var b [8]byte
	err := c.full(b[:], what)
	return int64(binary.LittleEndian.Uint64(b[:])), err
}

// readFastTextHeader reads a model's signature, arguments and dictionary
// and the input matrix's shape, adding the words to vocab. It leaves c at
// the first input row.
func readFastTextHeader(c *countingReader, opts *Options, vocab *Vocab, stats *Stats) (*FastTextModel, error) {
	magic, err := c.i32("the signature")
	if err != nil {
		return nil, err
	}
	if magic != fastTextMagic {
		return nil, offErr(FastTextBin, 0, ErrUnknownFormat, "no fastText signature (magic %d, want %d)", magic, fastTextMagic)
	}
	m := &FastTextModel{}
	if m.Version, err = c.i32("the signature"); err != nil {
		return nil, err
	}
	if m.Version != 11 && m.Version != 12 {
		return nil, offErr(FastTextBin, 4, ErrUnsupported, "fastText format version %d (this reader knows versions 11 and 12)", m.Version)
	}
	a := &m.Args
	for _, p := range []*int32{&a.Dim, &a.WS, &a.Epoch, &a.MinCount, &a.Neg, &a.WordNgrams, &a.Loss, &a.Model, &a.Bucket, &a.MinN, &a.MaxN, &a.LRUpdateRate} {
		if *p, err = c.i32("the arguments"); err != nil {
			return nil, err
		}
	}
	t, err := c.i64("the arguments")
	if err != nil {
		return nil, err
	}
	a.T = math.Float64frombits(uint64(t))
	switch {
	case a.Dim <= 0 || a.Dim > MaxDim:
		return nil, offErr(FastTextBin, 8, ErrLimit, "dim %d is not in [1, %d]", a.Dim, MaxDim)
	case a.Bucket < 0:
		return nil, offErr(FastTextBin, 40, ErrFastText, "bucket %d is negative", a.Bucket)
	case a.MinN < 0 || a.MinN > MaxSubwordN || a.MaxN < 0 || a.MaxN > MaxSubwordN:
		return nil, offErr(FastTextBin, 44, ErrLimit, "minn %d, maxn %d: not in [0, %d]", a.MinN, a.MaxN, MaxSubwordN)
	}
	m.dim = int(a.Dim)
	m.Subwords = Subwords{MinN: int(a.MinN), MaxN: int(a.MaxN), Bucket: int64(a.Bucket)}
	if m.Version == 11 && a.Model == 3 {
		m.Subwords.MaxN = 0 // old supervised models have no character n-grams (fasttext.cc)
	}

	// Dictionary (dictionary.cc, Dictionary::save).
	size, err := c.i32("the dictionary")
	if err != nil {
		return nil, err
	}
	nwords, err := c.i32("the dictionary")
	if err != nil {
		return nil, err
	}
	nlabels, err := c.i32("the dictionary")
	if err != nil {
		return nil, err
	}
	if size < 0 || nwords < 0 || nlabels < 0 || int64(nwords)+int64(nlabels) != int64(size) {
		return nil, offErr(FastTextBin, c.off, ErrFastText, "dictionary of %d entries with %d words and %d labels", size, nwords, nlabels)
	}
	m.Words, m.Labels = int64(nwords), int64(nlabels)
	stats.Labels = m.Labels
	if m.Tokens, err = c.i64("the dictionary"); err != nil {
		return nil, err
	}
	prune, err := c.i64("the dictionary")
	if err != nil {
		return nil, err
	}
	if prune > 0 {
		return nil, offErr(FastTextBin, c.off, ErrUnsupported, "pruned dictionary (%d pruned n-gram ids): only quantised models have one", prune)
	}
	var word []byte
	var tail [9]byte
	for i := int64(0); i < int64(size); i++ {
		at := c.off
		word = word[:0]
		for {
			frag, err := c.r.ReadSlice(0)
			c.off += int64(len(frag))
			if len(word)+len(frag) > MaxWordBytes+1 {
				return nil, offErr(FastTextBin, at, ErrLimit, "dictionary entry %d: no NUL within %d bytes", i, MaxWordBytes)
			}
			word = append(word, frag...)
			if err == nil {
				break
			}
			if err == bufio.ErrBufferFull {
				continue
			}
			if err == io.EOF {
				return nil, offErr(FastTextBin, c.off, ErrTruncated, "the file ends inside dictionary entry %d", i)
			}
			return nil, err
		}
		word = word[:len(word)-1]
		if err := c.full(tail[:], "the dictionary"); err != nil {
			return nil, err
		}
		typ := tail[8]
		if i < m.Words && typ != 0 || i >= m.Words && typ != 1 {
			return nil, offErr(FastTextBin, at, ErrFastText, "dictionary entry %d (%s) has type %d; the %d words (type 0) must come before the %d labels (type 1)", i, quote(word), typ, m.Words, m.Labels)
		}
		if typ == 1 {
			continue
		}
		if len(word) == 0 {
			return nil, rowErr(FastTextBin, i, ErrWord, "empty word")
		}
		if !utf8.Valid(word) {
			if opts.StrictUTF8 {
				return nil, rowErr(FastTextBin, i, ErrUTF8, "word %s is not valid UTF-8", quote(word))
			}
			stats.InvalidUTF8++
		}
		if _, added, ok := vocab.Add(word); !ok {
			return nil, rowErr(FastTextBin, i, ErrLimit, "the vocabulary is over 4 GiB")
		} else if !added {
			return nil, rowErr(FastTextBin, i, ErrFastText, "word %s appears twice in the dictionary", quote(word))
		}
		m.Counts = append(m.Counts, int64(binary.LittleEndian.Uint64(tail[:8])))
	}

	// Input matrix (densematrix.cc): quantised flag, rows, columns.
	var q [1]byte
	if err := c.full(q[:], "the input matrix"); err != nil {
		return nil, err
	}
	switch q[0] {
	case 0:
	case 1:
		return nil, offErr(FastTextBin, c.off-1, ErrUnsupported, "quantised model (.ftz): its input matrix is product-quantised; use the model's .bin or .vec")
	default:
		return nil, offErr(FastTextBin, c.off-1, ErrFastText, "quantisation flag %d is not a bool", q[0])
	}
	rows, err := c.i64("the input matrix")
	if err != nil {
		return nil, err
	}
	cols, err := c.i64("the input matrix")
	if err != nil {
		return nil, err
	}
	if rows != m.Words+m.Subwords.Bucket || cols != int64(m.dim) {
		return nil, offErr(FastTextBin, c.off-16, ErrFastText, "input matrix of %d x %d; %d words + %d buckets at dim %d need %d x %d",
			rows, cols, m.Words, m.Subwords.Bucket, m.dim, m.Words+m.Subwords.Bucket, m.dim)
	}
	m.matrixOff = c.off
	return m, nil
}

// fastTextSource delivers a model's word rows, composed with their n-gram
// rows as gensim composes them.
type fastTextSource struct {
	m       *FastTextModel
	vocab   *Vocab
	opts    *Options
	stream  io.Reader // the word rows, in order, when read as a stream
	off     int64
	row     int64
	blk     Block
	raw     []byte
	workers int
	err     error
}

func (s *fastTextSource) close() {}

func (s *fastTextSource) next() (*Block, error) {
	if s.err != nil {
		return nil, s.err
	}
	m := s.m
	if s.row == m.Words {
		s.err = io.EOF
		return nil, s.err
	}
	n := int(min(m.Words-s.row, int64(max(1, (1<<20)/m.dim))))
	b := &s.blk
	b.reset(m.dim, s.vocab.arena)
	b.Vectors = growF32(b.Vectors, n*m.dim)
	var err error
	if s.stream != nil {
		if cap(s.raw) < 4*n*m.dim {
			s.raw = make([]byte, 4*n*m.dim)
		}
		raw := s.raw[:4*n*m.dim]
		var got int
		got, err = io.ReadFull(s.stream, raw)
		s.off += int64(got)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			err = offErr(FastTextBin, s.off, ErrTruncated, "the input matrix ends after %d of its %d word rows", s.row+int64(got/(4*m.dim)), m.Words)
		}
		if err == nil {
			decodeF32(b.Vectors, raw)
		}
	} else {
		err = guard(func() error { return m.readRows(b.Vectors, s.row, &s.raw) })
	}
	if err == nil {
		err = s.compose(b, n)
	}
	if err != nil {
		s.err = err
		return nil, err
	}
	for i := range n {
		id := int(s.row) + i
		start := uint32(0)
		if id > 0 {
			start = s.vocab.ends[id-1]
		}
		b.spans = append(b.spans, span{start, s.vocab.ends[id]})
	}
	s.row += int64(n)
	return b, nil
}

// compose turns the block's own rows into gensim's word vectors, in
// parallel.
func (s *fastTextSource) compose(b *Block, n int) error {
	m := s.m
	if m.Subwords.Bucket == 0 {
		return nil
	}
	w := min(s.workers, max(1, n/16))
	per := (n + w - 1) / w
	errs := make([]error, w)
	var wg sync.WaitGroup
	for k := range w {
		lo, hi := k*per, min(n, (k+1)*per)
		if lo >= hi {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			row := m.rowFunc()
			var buf []int64
			errs[k] = guard(func() error {
				for i := lo; i < hi; i++ {
					id := int(s.row) + i
					v := b.Vectors[i*m.dim : (i+1)*m.dim]
					buf = m.Subwords.AppendBuckets(buf[:0], s.vocab.Word(id))
					if err := m.Subwords.WordVector(v, v, buf, row); err != nil {
						return err
					}
				}
				return nil
			})
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func growF32(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}
