package main

import (
	"bufio"
	"fmt"
	"io"
	"math"

	"github.com/embstore/embstore/internal/cli"
)

// maxIDBytes bounds one id of the input: an int64 has at most 20 digits and a
// sign; leading zeros and a '+' are allowed, up to this length.
const maxIDBytes = 64

// stdinIDs reads whitespace-separated decimal ids from a stream, such as
// standard input. It answers each line as soon as the line is complete:
// next returns early, with the ids it has, when it has reached the end of a
// line and no more input is waiting, so that a program that writes one line
// and waits for its rows gets them. When input is plentiful (a file, a fast
// pipe) it fills whole batches.
type stdinIDs struct {
	br      *bufio.Reader
	name    string  // the input, for messages: "standard input" or a file name
	read    int64   // ids read so far
	pending []int64 // ids parsed but not yet returned
	partial []byte  // the start of an id cut by the end of the buffer
	eof     bool
}

func newStdinIDs(r io.Reader, name string) *stdinIDs {
	return &stdinIDs{br: bufio.NewReaderSize(r, 64<<10), name: name}
}

// next fills ids with up to len(ids) ids and returns how many: fewer when
// a line ended and no more input is buffered (the caller should answer them
// before next waits for input), and io.EOF once the input is exhausted.
func (s *stdinIDs) next(ids []int64) (int, error) {
	n := 0
	for n < len(ids) {
		if len(s.pending) > 0 {
			k := copy(ids[n:], s.pending)
			s.pending = s.pending[k:]
			n += k
			continue
		}
		if s.eof {
			if n == 0 {
				return 0, io.EOF
			}
			return n, nil
		}
		if n > 0 && s.br.Buffered() == 0 && len(s.partial) == 0 {
			return n, nil // the line is complete; reading on may wait
		}
		if err := s.fill(); err != nil {
			return n, err
		}
	}
	return n, nil
}

// fill reads up to the end of the next line (or of the buffer) and parses
// the ids in it into s.pending.
func (s *stdinIDs) fill() error {
	s.pending = s.pending[:0]
	chunk, err := s.br.ReadSlice('\n')
	switch err {
	case nil, bufio.ErrBufferFull:
	case io.EOF:
		s.eof = true
	default:
		return fmt.Errorf("read ids from %s: %w", s.name, err)
	}
	start := -1 // start of the current id in chunk
	if len(s.partial) > 0 {
		start = 0
	}
	for i := 0; i <= len(chunk); i++ {
		if i < len(chunk) && !isSpace(chunk[i]) {
			if start < 0 {
				start = i
			}
			if len(s.partial)+i-start >= maxIDBytes {
				return s.tooLong(append(s.partial, chunk[start:i+1]...))
			}
			continue
		}
		if i == len(chunk) && !s.eof && start >= 0 {
			// The id goes on in the next chunk.
			s.partial = append(s.partial, chunk[start:]...)
			break
		}
		if start >= 0 {
			tok := chunk[start:i]
			if len(s.partial) > 0 {
				tok = append(s.partial, tok...)
				s.partial = s.partial[:0]
			}
			if err := s.add(tok); err != nil {
				return err
			}
			start = -1
		}
	}
	return nil
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\v' || c == '\f'
}

// add parses one id.
func (s *stdinIDs) add(tok []byte) error {
	s.read++
	if id, ok := parseDecimal(tok); ok {
		s.pending = append(s.pending, id)
		return nil
	}
	_, err := cli.ParseID(string(tok))
	return fmt.Errorf("id %d of %s: %w", s.read, s.name, err)
}

func (s *stdinIDs) tooLong(tok []byte) error {
	return fmt.Errorf("id %d of %s is longer than %d bytes (it starts %q): ids are decimal integers",
		s.read+1, s.name, maxIDBytes-1, tok[:16])
}

// parseDecimal parses an optionally signed decimal int64 without
// allocating; it reports false for anything else (the caller then asks
// cli.ParseID for the message).
func parseDecimal(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if v > (1<<63)/10 {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	switch {
	case neg && v == 1<<63:
		return math.MinInt64, true
	case neg && v < 1<<63:
		return -int64(v), true
	case !neg && v < 1<<63:
		return int64(v), true
	}
	return 0, false
}
