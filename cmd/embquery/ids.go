package main

import (
	"fmt"
	"io"
	"math"

	"github.com/embstore/embstore/internal/cli"
)

// maxIDBytes bounds one id of the input: an int64 has at most 20 digits and a
// sign; leading zeros and a '+' are allowed, up to this length.
const maxIDBytes = 64

// stdinIDs reads whitespace-separated decimal ids from a stream, such as
// standard input. Before it reads more input (which may wait for a program
// writing ids), it returns the ids it has: a program that writes one line and
// waits gets its rows. When input is plentiful (a file, a fast pipe), each
// read fills 64 KiB and the ids come in whole batches.
type stdinIDs struct {
	r          io.Reader
	name       string // the input, for messages: "standard input" or a file name
	buf        []byte
	start, end int   // buf[start:end] is read but not yet parsed
	read       int64 // ids parsed so far
	eof        bool
}

func newStdinIDs(r io.Reader, name string) *stdinIDs {
	return &stdinIDs{r: r, name: name, buf: make([]byte, 64<<10)}
}

// next fills ids with up to len(ids) ids and returns how many: fewer when
// it has parsed everything read so far and would have to read (and perhaps
// wait) for more, and io.EOF once the input is exhausted.
func (s *stdinIDs) next(ids []int64) (int, error) {
	n := 0
	for {
		for n < len(ids) {
			i := s.start
			for i < s.end && isSpace(s.buf[i]) {
				i++
			}
			j := i
			for j < s.end && !isSpace(s.buf[j]) {
				j++
			}
			if j-i >= maxIDBytes {
				return n, s.tooLong(s.buf[i:j])
			}
			if i == j || j == s.end && !s.eof {
				s.start = i // nothing, or an id that may go on in the next read
				break
			}
			s.start = j
			s.read++
			id, ok := parseDecimal(s.buf[i:j])
			if !ok {
				_, err := cli.ParseID(string(s.buf[i:j]))
				return n, fmt.Errorf("id %d of %s: %w", s.read, s.name, err)
			}
			ids[n] = id
			n++
		}
		switch {
		case n == len(ids):
			return n, nil
		case s.eof && n == 0:
			return 0, io.EOF
		case s.eof, n > 0:
			return n, nil // answer these before reading (and maybe waiting) for more
		}
		// Keep the start of an unfinished id and read more after it.
		s.end = copy(s.buf, s.buf[s.start:s.end])
		s.start = 0
		m, err := s.r.Read(s.buf[s.end:])
		s.end += m
		switch {
		case err == io.EOF:
			s.eof = true
		case err != nil:
			return n, fmt.Errorf("read ids from %s: %w", s.name, err)
		}
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\v' || c == '\f'
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
