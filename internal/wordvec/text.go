package wordvec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// The text formats are parsed in parallel: a producer goroutine cuts the
// stream into blocks of whole lines, workers parse blocks (the floats are
// most of the work), and Next hands the blocks out in order. At most
// 2*workers+2 blocks exist at once, so memory is bounded whatever the size
// of the file.

// A textBlock is a block of lines and, once parsed, their rows.
type textBlock struct {
	Block
	seq  int
	buf  []byte
	text []byte // whole lines (the last may lack its newline at EOF)

	end     bool  // end marker: no lines; readErr says why the stream ended
	readErr error // a read error ending the stream (nil at EOF)
	tooLong bool  // the block's first line is longer than the line limit

	lines   int64 // lines in text
	blank   int64
	skipped int64
	err     *blockErr
}

type blockErr struct {
	line int64 // 0-based, in the block
	kind error
	msg  string
}

type textSource struct {
	f      Format
	dim    int
	claim  int64 // rows the header claims, -1 for GloVe
	opts   *Options
	stats  *Stats
	vocab  *Vocab // only its hash, from the workers
	blockN int

	work   chan *textBlock
	done   chan *textBlock
	pool   chan *textBlock
	quit   chan struct{}
	exited chan struct{} // closed when the producer returns

	pending map[int]*textBlock
	nextSeq int
	cur     *textBlock
	line    int64 // lines consumed, the header included
	rows    int64 // rows seen (before dropping duplicates), bad ones included
	skipped int64 // bad lines skipped
	over    bool  // more rows than the header claims: counting to the end
	err     error
}

// newTextSource starts parsing r, which follows headerLines lines (the
// header, or none), on opts.Workers goroutines.
func newTextSource(r io.Reader, f Format, dim int, claim int64, headerLines int64, opts *Options, stats *Stats, vocab *Vocab) *textSource {
	workers := opts.Workers
	n := 2*workers + 2
	blockN := opts.BlockBytes
	if blockN <= 0 {
		blockN = 1 << 20 // grown for a line that does not fit
	}
	s := &textSource{
		f: f, dim: dim, claim: claim, opts: opts, stats: stats, vocab: vocab, blockN: blockN,
		work:    make(chan *textBlock, n+1),
		done:    make(chan *textBlock, n+1),
		pool:    make(chan *textBlock, n),
		quit:    make(chan struct{}),
		exited:  make(chan struct{}),
		pending: make(map[int]*textBlock),
		line:    headerLines,
	}
	for range n {
		s.pool <- &textBlock{}
	}
	go s.produce(r)
	for range workers {
		go s.parseLoop()
	}
	return s
}

// close stops the goroutines and waits for the producer, which may be
// inside a read of the source, so that the source's decompressors can be
// closed safely after it.
func (s *textSource) close() {
	select {
	case <-s.quit:
	default:
		close(s.quit)
	}
	<-s.exited
}

// produce cuts r into blocks of whole lines.
func (s *textSource) produce(r io.Reader) {
	defer close(s.exited)
	var carry []byte
	maxL := maxLine(s.dim)
	seq := 0
	// Blocks start small, so that a small file costs little, and double up
	// to blockN.
	size := min(s.blockN, 64<<10)
	send := func(b *textBlock) bool {
		b.seq = seq
		seq++
		select {
		case s.work <- b:
			return true
		case <-s.quit:
			return false
		}
	}
	for {
		var b *textBlock
		select {
		case b = <-s.pool:
		case <-s.quit:
			return
		}
		buf := b.buf[:cap(b.buf)]
		if want := max(size, 2*len(carry)); len(buf) < want {
			buf = make([]byte, want)
		}
		size = min(2*size, s.blockN)
		n := copy(buf, carry)
		from := n // carry holds no newline
		var rerr error
		for {
			m, err := r.Read(buf[n:])
			n += m
			if err != nil {
				rerr = err
				break
			}
			if n < len(buf) {
				continue
			}
			if bytes.LastIndexByte(buf[from:n], '\n') >= 0 {
				break
			}
			if n > maxL {
				b.buf, b.text, b.tooLong = buf, nil, true
				send(b)
				return
			}
			nb := make([]byte, 2*len(buf))
			copy(nb, buf[:n])
			buf, from = nb, n
		}
		b.buf = buf
		b.end, b.readErr, b.tooLong = false, nil, false
		switch {
		case rerr == io.EOF:
			b.text = buf[:n]
			carry = nil
		case rerr != nil:
			// Parse what came before the error; the end marker reports it.
			i := bytes.LastIndexByte(buf[:n], '\n')
			b.text = buf[:i+1]
		default:
			i := bytes.LastIndexByte(buf[:n], '\n')
			b.text = buf[:i+1]
			carry = append(carry[:0], buf[i+1:n]...)
		}
		if !send(b) {
			return
		}
		if rerr != nil {
			if rerr == io.EOF {
				rerr = nil
			}
			send(&textBlock{end: true, readErr: rerr})
			return
		}
	}
}

func (s *textSource) parseLoop() {
	for {
		select {
		case b := <-s.work:
			if !b.end && !b.tooLong {
				s.parse(b)
			}
			select {
			case s.done <- b:
			case <-s.quit:
				return
			}
		case <-s.quit:
			return
		}
	}
}

// isSpace reports the bytes Python's bytes.rstrip() strips.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'
}

// parse parses the lines of b into rows.
func (s *textSource) parse(b *textBlock) {
	dim := s.dim
	b.reset(dim, b.buf)
	b.lines, b.blank, b.skipped, b.err = 0, 0, 0, nil
	maxL := maxLine(dim)
	// A row takes at least 2*dim+1 bytes (a word and dim values, each of
	// a byte, with their spaces): that bounds the rows of a block.
	rowsMax := min(bytes.Count(b.text, []byte{'\n'})+1, len(b.text)/(2*dim+1)+1)
	if need := rowsMax * dim; cap(b.Vectors) < need {
		b.Vectors = make([]float32, 0, need)
	}
	vecs := b.Vectors[:cap(b.Vectors)]
	rows := 0
	text := b.text
	pos := 0
	for pos < len(text) {
		line := text[pos:]
		start := pos
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line = line[:i]
			pos += i + 1
		} else {
			pos = len(text)
		}
		li := b.lines
		b.lines++
		fail := func(kind error, msg string) bool {
			if s.opts.SkipBadLines {
				b.skipped++
				return true
			}
			b.err = &blockErr{line: li, kind: kind, msg: msg}
			return false
		}
		if len(line) > maxL {
			if fail(ErrLimit, "line of "+itoa(len(line))+" bytes is longer than the "+itoa(maxL)+" allowed at dim "+itoa(dim)) {
				continue
			}
			break
		}
		end := len(line)
		for end > 0 && isSpace(line[end-1]) {
			end--
		}
		if end == 0 {
			b.blank++
			continue
		}
		line = line[:end]
		vec := vecs[rows*dim : (rows+1)*dim]
		if wend := fastRow(line, vec); wend > 0 {
			if bad := checkWord(line[:wend], dim, s.opts.StrictUTF8); bad != nil {
				if fail(bad.kind, bad.msg) {
					continue
				}
				break
			}
			b.spans = append(b.spans, span{uint32(start), uint32(start + wend)})
			b.hashes = append(b.hashes, s.vocab.hash(line[:wend]))
			rows++
			continue
		}
		var bad *blockErr
		for k := dim - 1; k >= 0; k-- {
			sp := bytes.LastIndexByte(line[:end], ' ')
			if sp < 0 {
				bad = &blockErr{kind: ErrFields, msg: "expected a word and " + itoa(dim) + " values, found " + itoa(dim-1-k) + " values after the word " + quote(line[:end])}
				break
			}
			v, ok := ParseValue(line[sp+1 : end])
			if !ok {
				bad = &blockErr{kind: ErrNumber, msg: "value " + itoa(k+1) + " of " + itoa(dim) + ", " + quote(line[sp+1:end]) + ", is not a number"}
				break
			}
			vec[k] = v
			end = sp
		}
		if bad == nil {
			bad = checkWord(line[:end], dim, s.opts.StrictUTF8)
		}
		if bad != nil {
			if fail(bad.kind, bad.msg) {
				continue
			}
			break
		}
		wstart := start
		b.spans = append(b.spans, span{uint32(wstart), uint32(wstart + end)})
		b.hashes = append(b.hashes, s.vocab.hash(line[:end]))
		rows++
	}
	b.Vectors = vecs[:rows*dim]
}

// fastRow parses the common line, a word without spaces and len(vec)
// values, left to right in one pass, and returns the length of the word; 0
// when the line is anything else (a word with spaces, a bad line), which
// the parse from the right then handles. Where it succeeds the two agree:
// the last len(vec) fields are the values and the word is the rest.
func fastRow(line []byte, vec []float32) int {
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return 0
	}
	pos := sp + 1
	for k := range vec {
		v, n, ok := scanValue(line[pos:])
		if !ok {
			return 0
		}
		vec[k] = v
		pos += n
		if pos == len(line) {
			if k == len(vec)-1 {
				return sp
			}
			return 0
		}
		pos++ // the space after the value
	}
	return 0
}

// checkWord checks a text row's word (everything left of the values).
func checkWord(w []byte, dim int, strict bool) *blockErr {
	switch {
	case len(w) == 0:
		return &blockErr{kind: ErrWord, msg: "empty word"}
	case len(w) > MaxWordBytes:
		return &blockErr{kind: ErrLimit, msg: "word of " + itoa(len(w)) + " bytes is longer than the " + itoa(MaxWordBytes) + " allowed"}
	case bytes.IndexByte(w, 0) >= 0:
		return &blockErr{kind: ErrWord, msg: "word " + quote(w) + " holds a NUL byte"}
	case strict && !utf8.Valid(w):
		return &blockErr{kind: ErrUTF8, msg: "word " + quote(w) + " is not valid UTF-8"}
	}
	// Words may hold spaces (glove.840B and crawl-300d-2M have such words),
	// but one ending in a number is more likely a line with too many
	// values: refuse it rather than guess.
	if i := bytes.LastIndexByte(w, ' '); i >= 0 {
		if _, ok := ParseValue(w[i+1:]); ok {
			return &blockErr{kind: ErrFields, msg: "expected a word and " + itoa(dim) + " values, found more values (or a word with a space ending in a number: " + quote(w) + ")"}
		}
	}
	return nil
}

// next returns the next block of rows, in file order.
func (s *textSource) next() (*Block, error) {
	if s.cur != nil {
		s.pool <- s.cur
		s.cur = nil
	}
	for {
		if s.err != nil {
			return nil, s.err
		}
		b := s.pending[s.nextSeq]
		for b == nil {
			got := <-s.done
			if got.seq == s.nextSeq {
				b = got
			} else {
				s.pending[got.seq] = got
			}
		}
		delete(s.pending, s.nextSeq)
		s.nextSeq++
		switch {
		case b.end:
			switch {
			case b.readErr != nil:
				var fe *FormatError
				if errors.As(b.readErr, &fe) {
					fe.Format = s.f
					s.err = fe
				} else {
					s.err = b.readErr
				}
			case s.claim >= 0 && s.rows != s.claim:
				skipped := ""
				if s.skipped > 0 {
					skipped = fmt.Sprintf(" (%d of them bad lines, skipped)", s.skipped)
				}
				s.err = newErr(s.f, ErrRowCount, "the header claims %d rows, the file has %d%s", s.claim, s.rows, skipped)
			default:
				s.err = io.EOF
			}
			continue
		case b.tooLong:
			s.err = lineErr(s.f, s.line+1, ErrLimit, "line is longer than the %d bytes allowed at dim %d", maxLine(s.dim), s.dim)
			continue
		case b.err != nil:
			s.err = lineErr(s.f, s.line+b.err.line+1, b.err.kind, "%s", b.err.msg)
			continue
		}
		s.line += b.lines
		s.stats.Lines = s.line
		s.stats.BlankLines += b.blank
		s.stats.SkippedLines += b.skipped
		// Skipped bad lines are rows of the file too, for the count.
		s.rows += int64(b.Len()) + b.skipped
		s.skipped += b.skipped
		if s.claim >= 0 && s.rows > s.claim {
			s.over = true
		}
		if s.over || b.Len() == 0 {
			s.pool <- b
			continue
		}
		s.cur = b
		return &b.Block, nil
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
