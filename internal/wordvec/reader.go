package wordvec

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"runtime"
	"strconv"
	"unicode/utf8"

	"golang.org/x/exp/mmap"
)

// A Reader reads the rows of a word-vector source in order, a Block at a
// time, dropping rows whose word came before (keeping the first, as gensim
// does) and collecting the words in a Vocab.
//
// A Reader is not safe for concurrent use.
type Reader struct {
	h    Header
	opts Options
	src  interface {
		next() (*Block, error)
		close()
	}
	stream  *stream
	counter *sourceCounter
	size    int64
	rawRA   io.ReaderAt // the source itself, for random access uncounted
	closers []io.Closer
	vocab   *Vocab
	stats   Stats
	ft      *FastTextModel
	dedupe  bool
	err     error
}

// Header describes the source.
func (r *Reader) Header() Header { return r.h }

// Stats returns what the Reader has met so far; it is complete once Next has
// returned io.EOF.
func (r *Reader) Stats() Stats { return r.stats }

// SourceBytes returns how many bytes of the source (as stored: compressed,
// or the archive) have been read so far, and its size, -1 if unknown (a
// stream), for a progress bar. The text pipeline reads ahead of the rows
// delivered by a few blocks. A fastText .bin is read at random through a
// mapping, or (compressed) read once to its end during Open and again for
// its word rows: count its progress in rows, Stats().Rows against
// Header().Rows. It is safe to call from another goroutine.
func (r *Reader) SourceBytes() (read, size int64) { return r.counter.n.Load(), r.size }

// Vocab returns the words of the rows delivered so far, in row order (for
// a fastText .bin, all the model's words from the start).
func (r *Reader) Vocab() *Vocab { return r.vocab }

// FastText returns the model of a fastText .bin source (its subword bucket
// rows and parameters), nil for the other formats.
func (r *Reader) FastText() *FastTextModel { return r.ft }

// Next returns the next rows, or io.EOF after the last. Any other error is
// final: a *FormatError for a problem with the source, or an I/O error. The
// Block is valid until the next call to Next or Close.
func (r *Reader) Next() (*Block, error) {
	if r.err != nil {
		return nil, r.err
	}
	for {
		b, err := r.src.next()
		if err != nil {
			r.err = err
			return nil, err
		}
		if r.dedupe {
			if err := r.dedupeBlock(b); err != nil {
				r.err = err
				return nil, err
			}
		}
		if b.Len() == 0 {
			continue
		}
		b.first = r.stats.Rows
		r.stats.Rows += int64(b.Len())
		return b, nil
	}
}

func (r *Reader) dedupeBlock(b *Block) error {
	var fail error
	b.filter(func(i int) bool {
		if fail != nil {
			return false
		}
		w := b.Word(i)
		var added, ok bool
		if len(b.hashes) > 0 {
			_, added, ok = r.vocab.addHashed(w, b.hashes[i]) // hashed by the parsing goroutines
		} else {
			_, added, ok = r.vocab.Add(w)
		}
		if !ok {
			fail = newErr(r.h.Format, ErrLimit, "the vocabulary is over %d words or 4 GiB", int64(MaxRows))
			return false
		}
		if !added {
			r.stats.Duplicates++
			if len(r.stats.DuplicateWords) < r.opts.MaxListedDuplicates {
				r.stats.DuplicateWords = append(r.stats.DuplicateWords, bytes.Clone(w))
			}
			return false
		}
		if !utf8.Valid(w) {
			r.stats.InvalidUTF8++
		}
		return true
	})
	return fail
}

// Close stops the Reader and closes what it opened. It does not close the
// io.Reader given to NewReader, but waits for a read from it in progress
// to return.
func (r *Reader) Close() error {
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	if r.src != nil {
		r.src.close() // stop, and wait for the goroutine reading the source
	}
	if r.ft != nil && r.ft.closer != nil {
		keep(r.ft.closer())
		r.ft.closer = nil
	}
	if r.stream != nil {
		keep(r.stream.close())
	}
	for i := len(r.closers) - 1; i >= 0; i-- {
		keep(r.closers[i].Close())
	}
	r.closers = nil
	if r.err == nil {
		r.err = errors.New("wordvec: reader closed")
	}
	return first
}

func newReader(raw io.Reader, ra io.ReaderAt, size int64, reopen func() (*os.File, error), path string, o *Options) (*Reader, error) {
	r := &Reader{vocab: NewVocab()}
	if o != nil {
		r.opts = *o
	}
	if r.opts.Workers <= 0 {
		r.opts.Workers = runtime.GOMAXPROCS(0)
	}
	r.opts.Workers = min(r.opts.Workers, maxWorkers)
	switch {
	case r.opts.MaxListedDuplicates == 0:
		r.opts.MaxListedDuplicates = 100
	case r.opts.MaxListedDuplicates < 0:
		r.opts.MaxListedDuplicates = 0
	}
	if r.opts.Format < Auto || r.opts.Format > FastTextBin {
		return nil, newErr(Auto, ErrUnsupported, "format %d", int(r.opts.Format))
	}
	r.counter = &sourceCounter{r: raw, ra: ra}
	r.size = -1
	r.rawRA = ra
	if ra != nil {
		r.size = size
		ra = r.counter
	}
	s, err := unwrap(r.counter, ra, size, r.opts.Member)
	if err != nil {
		return nil, err
	}
	r.stream = s
	r.h.Compression, r.h.Member, r.h.Size = s.layers, s.member, s.dataSize
	if err := r.detect(reopen, path); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// detect reads the start of the stream, decides the format and starts the
// row source.
func (r *Reader) detect(reopen func() (*os.File, error), path string) error {
	br := r.stream.r.(*bufio.Reader)
	f := r.opts.Format
	magic, _ := br.Peek(4)
	isFT := len(magic) == 4 && binary.LittleEndian.Uint32(magic) == fastTextMagic
	if f == FastTextBin || f == Auto && isFT {
		return r.openFastText(br, reopen, path)
	}
	if isFT {
		return newErr(f, ErrUnknownFormat, "the file is a fastText .bin model, not %s", f)
	}

	// The first line, and the second if the first is a header.
	head, eof, err := readHead(br, 2, maxLine(MaxDim)+64)
	if err != nil {
		return err
	}
	if bytes.HasPrefix(head, []byte("\xef\xbb\xbf")) {
		head = head[3:]
		r.stats.BOM = true
	}
	line1, rest, has1 := cutLine(head)
	if !has1 && !eof {
		return newErr(f, ErrUnknownFormat, "no line end within the first %d bytes", len(head))
	}
	if len(head) == 0 {
		return newErr(f, ErrUnknownFormat, "the file is empty")
	}
	rows, dim, herr := parseHeader(line1)
	switch f {
	case Auto:
		if herr == nil {
			f = Word2Vec
			line2, _, has2 := cutLine(rest)
			if len(rest) == 0 || (has2 || eof) && (textRow(line2, dim) || !binaryBytes(line2)) {
				f = Word2VecText
			}
		} else if fe := (*FormatError)(nil); errors.As(herr, &fe) && fe.Err == ErrLimit {
			return herr
		} else if d, ok := gloveDim(line1); ok {
			f, rows, dim = GloVe, -1, d
		} else {
			return newErr(Auto, ErrUnknownFormat, "the first line is neither a \"rows dim\" header nor a word and its values: %s", quote(line1))
		}
	case Word2Vec, Word2VecText, FastTextVec:
		if herr != nil {
			herr.(*FormatError).Format = f
			return herr
		}
	case GloVe:
		d, ok := gloveDim(line1)
		if !ok {
			return lineErr(GloVe, 1, ErrFields, "the first line is not a word and its values: %s", quote(line1))
		}
		rows, dim = -1, d
	}
	r.h.Format, r.h.Rows, r.h.Dim = f, rows, dim
	r.dedupe = true
	body := io.MultiReader(bytes.NewReader(rest), br)
	switch f {
	case Word2Vec:
		r.src = newBinarySource(body, dim, rows, int64(len(line1)+1), &r.opts, &r.stats)
	case GloVe:
		body = io.MultiReader(bytes.NewReader(head), br)
		r.src = newTextSource(body, f, dim, rows, 0, &r.opts, &r.stats, r.vocab)
	default:
		r.stats.Lines = 1
		r.src = newTextSource(body, f, dim, rows, 1, &r.opts, &r.stats, r.vocab)
	}
	return nil
}

// readHead reads from br until it has n line ends, limit bytes or the end
// of the stream.
func readHead(br *bufio.Reader, n, limit int) (head []byte, eof bool, err error) {
	for len(head) < limit {
		chunk, err := br.ReadSlice('\n')
		head = append(head, chunk...)
		switch err {
		case nil:
			n--
			if n == 0 {
				return head, false, nil
			}
		case bufio.ErrBufferFull:
		case io.EOF:
			return head, true, nil
		default:
			return nil, false, err
		}
	}
	return head, false, nil
}

// cutLine splits b after its first line end.
func cutLine(b []byte) (line, rest []byte, found bool) {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i], b[i+1:], true
	}
	return b, nil, false
}

// parseHeader parses a "rows dim" header line: two decimal integers
// separated by whitespace (Python's split() and int(), as gensim reads it),
// rows at most MaxRows, dim from 1 to MaxDim.
func parseHeader(line []byte) (rows int64, dim int, err error) {
	fields := bytes.Fields(line)
	if len(fields) != 2 {
		return 0, 0, lineErr(Auto, 1, ErrHeader, "the header %s is not two numbers \"rows dim\"", quote(line))
	}
	var v [2]uint64
	for i, fld := range fields {
		for _, c := range fld {
			if c < '0' || c > '9' {
				return 0, 0, lineErr(Auto, 1, ErrHeader, "the header %s is not two numbers \"rows dim\"", quote(line))
			}
		}
		n, perr := strconv.ParseUint(string(fld), 10, 64)
		if perr != nil {
			n = 1<<64 - 1
		}
		v[i] = n
	}
	switch {
	case v[0] > MaxRows:
		return 0, 0, lineErr(Auto, 1, ErrLimit, "the header claims %s rows, more than the %d a table holds", fields[0], int64(MaxRows))
	case v[1] == 0:
		return 0, 0, lineErr(Auto, 1, ErrLimit, "the header claims vectors of dim 0")
	case v[1] > MaxDim:
		return 0, 0, lineErr(Auto, 1, ErrLimit, "the header claims vectors of dim %s, more than the %d allowed", fields[1], MaxDim)
	}
	return int64(v[0]), int(v[1]), nil
}

// binaryBytes reports whether b holds a byte that text does not: a control
// character other than whitespace. The first row after a header is text if
// it parses as a row, or (when it is malformed) if it holds no such byte:
// float32 data has them in nearly every row, and a bad text row is better
// reported as one.
func binaryBytes(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && !isSpace(c) || c == 0x7f {
			return true
		}
	}
	return false
}

// textRow reports whether line is a word and dim values.
func textRow(line []byte, dim int) bool {
	for len(line) > 0 && isSpace(line[len(line)-1]) {
		line = line[:len(line)-1]
	}
	end := len(line)
	for range dim {
		sp := bytes.LastIndexByte(line[:end], ' ')
		if sp < 0 {
			return false
		}
		if _, ok := ParseValue(line[sp+1 : end]); !ok {
			return false
		}
		end = sp
	}
	return checkWord(line[:end], dim, false) == nil
}

// gloveDim infers the width of a GloVe file from its first line: the
// values are the fields at the end that are numbers, the word is what is
// left (at least the first field).
func gloveDim(line []byte) (int, bool) {
	for len(line) > 0 && isSpace(line[len(line)-1]) {
		line = line[:len(line)-1]
	}
	end, dim := len(line), 0
	for {
		sp := bytes.LastIndexByte(line[:end], ' ')
		if sp < 0 {
			break
		}
		if _, ok := ParseValue(line[sp+1 : end]); !ok {
			break
		}
		end = sp
		dim++
	}
	if dim == 0 || dim > MaxDim || checkWord(line[:end], dim, false) != nil {
		return 0, false
	}
	return dim, true
}

// openFastText reads a fastText .bin's header and dictionary and arranges
// access to its input matrix.
func (r *Reader) openFastText(br *bufio.Reader, reopen func() (*os.File, error), path string) error {
	c := &countingReader{r: br}
	m, err := readFastTextHeader(c, &r.opts, r.vocab, &r.stats)
	if err != nil {
		return err
	}
	r.ft = m
	r.h.Format, r.h.Dim, r.h.Rows = FastTextBin, m.dim, m.Words
	src := &fastTextSource{m: m, vocab: r.vocab, opts: &r.opts, workers: r.opts.Workers, off: c.off}
	r.src = src
	rowBytes := int64(4 * m.dim)
	matrixEnd := m.matrixOff + (m.Words+m.Subwords.Bucket)*rowBytes
	switch {
	case r.stream.ra != nil:
		// A plain file: random access, through a mapping when we opened it.
		if r.stream.size < matrixEnd {
			return offErr(FastTextBin, r.stream.size, ErrTruncated, "the input matrix needs %d bytes up to byte %d, the file has %d", matrixEnd-m.matrixOff, matrixEnd, r.stream.size)
		}
		m.ra = r.rawRA
		if path != "" {
			if mr, err := mmap.Open(path); err == nil && int64(mr.Len()) >= matrixEnd {
				m.ra, m.closer = mr, mr.Close
			} else if err == nil {
				mr.Close()
			}
		}
	case reopen != nil:
		// Compressed, from a file: read on to the bucket rows now, keep
		// them, and read the word rows from a second pass.
		if _, err := io.CopyN(io.Discard, c, m.Words*rowBytes); err != nil {
			if err == io.EOF {
				return offErr(FastTextBin, c.off, ErrTruncated, "the input matrix ends inside its %d word rows", m.Words)
			}
			return err
		}
		if m.bucketsMem, err = readMatrix(c.r, m.Subwords.Bucket, m.dim, &c.off); err != nil {
			return err
		}
		if err := r.stream.close(); err != nil { // the first reading's decompressors
			return err
		}
		f, err := reopen()
		if err != nil {
			return err
		}
		r.closers = append(r.closers, f)
		st, err := f.Stat()
		if err != nil {
			return err
		}
		s2, err := unwrap(f, f, st.Size(), r.opts.Member)
		if err != nil {
			return err
		}
		r.closers = append(r.closers, closerFunc(s2.close))
		if _, err := io.CopyN(io.Discard, s2.r, m.matrixOff); err != nil {
			return offErr(FastTextBin, 0, ErrTruncated, "the file changed between its two readings")
		}
		src.stream = s2.r
		src.off = m.matrixOff
	default:
		// A stream read once: hold the word rows too.
		if m.wordsMem, err = readMatrix(c.r, m.Words, m.dim, &c.off); err != nil {
			return err
		}
		if m.bucketsMem, err = readMatrix(c.r, m.Subwords.Bucket, m.dim, &c.off); err != nil {
			return err
		}
	}
	return nil
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }
