package server

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
)

// A batch is what an "input", "inputs" or "ids" field holds: texts, or token
// ids. Ids are kept flat, with the start of every input in starts, so that
// a batch of inputs is one Bag call.
type batch struct {
	texts  []string // text inputs; nil for ids
	ids    []int64  // every input's ids, one after the other
	starts []int64  // starts[i]: where input i begins in ids
	nested bool     // the field was an array of inputs, not one input
}

// inputs returns the number of inputs.
func (b *batch) inputs() int {
	if b.texts != nil {
		return len(b.texts)
	}
	return len(b.starts)
}

// span returns the ids of input i.
func (b *batch) span(i int) []int64 {
	end := int64(len(b.ids))
	if i+1 < len(b.starts) {
		end = b.starts[i+1]
	}
	return b.ids[b.starts[i]:end]
}

// paramOf names id k of the flat ids as the request wrote it: field[k] for
// one input, field[i][j] for an array of inputs.
func (b *batch) paramOf(field string, k int) string {
	if !b.nested {
		return fmt.Sprintf("%s[%d]", field, k)
	}
	i := 0
	for i+1 < len(b.starts) && b.starts[i+1] <= int64(k) {
		i++
	}
	return fmt.Sprintf("%s[%d][%d]", field, i, int64(k)-b.starts[i])
}

// batchLimits bound a batch while it is parsed, so that an oversized request
// is refused before it is held in memory; status is the HTTP status for
// going over them.
type batchLimits struct {
	maxInputs, maxTokens int
	status               int
	allowText            bool
	allowNested          bool
}

// A path names what a scanner reads, for errors: field, field[i] or
// field[i][j] (i, j are -1 when absent). It is built into a string only
// when an error needs it.
type path struct {
	field string
	i, j  int
}

func (p path) String() string {
	switch {
	case p.i < 0:
		return p.field
	case p.j < 0:
		return fmt.Sprintf("%s[%d]", p.field, p.i)
	}
	return fmt.Sprintf("%s[%d][%d]", p.field, p.i, p.j)
}

// scanner reads one JSON value. The request body was validated by
// encoding/json before a scanner sees a part of it, but the scanner checks
// every byte anyway: it is fuzzed on its own.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// token returns the next scalar token (a number, string or literal) as it is
// written, for error messages, cut to 40 bytes.
func (s *scanner) tokenText() string {
	start := s.i
	end := start
	for end < len(s.b) && end-start < 40 {
		c := s.b[end]
		if c == ',' || c == ']' || c == '}' || c == ' ' || c == '\n' {
			break
		}
		end++
	}
	if end == start {
		return "end of input"
	}
	return string(s.b[start:end])
}

// number returns the bytes of the number at s.i, or nil if there is none.
func (s *scanner) number() []byte {
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			s.i++
			continue
		}
		break
	}
	return s.b[start:s.i]
}

// parseInt parses a JSON integer that fits in an int64. It reports whether
// tok is a number at all, and whether it fits.
func parseInt(tok []byte) (v int64, isNumber, fits bool) {
	neg := len(tok) > 0 && tok[0] == '-'
	d := tok
	if neg {
		d = tok[1:]
	}
	if len(d) == 0 {
		return 0, false, false
	}
	var u uint64
	for _, c := range d {
		if c < '0' || c > '9' {
			_, err := strconv.ParseFloat(string(tok), 64)
			return 0, err == nil || isRangeErr(err), false
		}
		if u > (math.MaxUint64-9)/10 {
			return 0, true, false
		}
		u = u*10 + uint64(c-'0')
	}
	if neg {
		if u > 1<<63 {
			return 0, true, false
		}
		return -int64(u), true, true
	}
	if u > math.MaxInt64 {
		return 0, true, false
	}
	return int64(u), true, true
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// id parses one token id at s.i; path names it in errors.
func (s *scanner) id(p path) (int64, *apiError) {
	s.ws()
	start := s.i
	tok := s.number()
	v, isNum, fits := parseInt(tok)
	if isNum && fits {
		return v, nil
	}
	end := s.i
	s.i = start
	at := s.tokenText()
	s.i = end
	switch {
	case !isNum:
		return 0, badRequest(p.String(), "%s: %s is not a token id (want an integer)", p.String(), quoteShort(at))
	case !fits && isIntegerSyntax(tok):
		return 0, badRequest(p.String(), "%s: %s does not fit in a 64-bit token id", p.String(), at)
	case !fits:
		return 0, badRequest(p.String(), "%s: %s is not an integer token id", p.String(), at)
	}
	return v, nil
}

func isIntegerSyntax(tok []byte) bool {
	for i, c := range tok {
		if !(c >= '0' && c <= '9' || (i == 0 && c == '-')) {
			return false
		}
	}
	return true
}

func quoteShort(s string) string {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return s
}

// str parses a JSON string at s.i.
func (s *scanner) str(p path) (string, *apiError) {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return "", badRequest(p.String(), "%s: %s is not a string", p.String(), quoteShort(s.tokenText()))
	}
	start := s.i
	plain := true
	for j := start + 1; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '\\':
			plain = false
			j++
		case c == '"':
			s.i = j + 1
			if plain {
				return string(s.b[start+1 : j]), nil
			}
			var out string
			if err := json.Unmarshal(s.b[start:j+1], &out); err != nil {
				return "", badRequest(p.String(), "%s: invalid string: %v", p.String(), err)
			}
			return out, nil
		case c < 0x20:
			return "", badRequest(p.String(), "%s: control character in string", p.String())
		case c >= 0x80:
			plain = false // let encoding/json replace invalid UTF-8
		}
	}
	return "", badRequest(p.String(), "%s: unterminated string", p.String())
}

// expect consumes byte c or fails.
func (s *scanner) expect(c byte, p path) *apiError {
	if s.peek() != c {
		return badRequest(p.String(), "%s: want %q, found %s", p.String(), c, quoteShort(s.tokenText()))
	}
	s.i++
	return nil
}

// list calls elem for each element of the array at s.i.
func (s *scanner) list(p path, elem func(i int) *apiError) *apiError {
	if err := s.expect('[', p); err != nil {
		return err
	}
	if s.peek() == ']' {
		s.i++
		return nil
	}
	for i := 0; ; i++ {
		if err := elem(i); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return nil
		default:
			return badRequest(p.String(), "%s: want ',' or ']' after element %d, found %s", p.String(), i, quoteShort(s.tokenText()))
		}
	}
}

// parseBatch parses field's value raw: a string, an array of strings, an
// array of ids or an array of arrays of ids, as lim allows. Empty inputs and
// empty arrays are refused, as OpenAI refuses them.
func parseBatch(raw []byte, field string, lim batchLimits) (*batch, *apiError) {
	s := &scanner{b: raw}
	b := &batch{}
	here := path{field, -1, -1}
	tooMany := func() *apiError {
		return errorf(lim.status, field, "too_many_inputs", "%s: more than %d inputs in one request (the limit)", field, lim.maxInputs)
	}
	tooLong := func() *apiError {
		return errorf(lim.status, field, "too_many_tokens", "%s: more than %d token ids in one request (the limit)", field, lim.maxTokens)
	}
	var err *apiError
	switch s.peek() {
	case '"':
		if !lim.allowText {
			return nil, badRequest(field, "%s: want an array of token ids, not a string", field)
		}
		t, err := s.str(here)
		if err != nil {
			return nil, err
		}
		if t == "" {
			return nil, badRequest(field, "%s: empty string", field)
		}
		b.texts = []string{t}
	case '[':
		// The first element decides what the array holds.
		probe := *s
		probe.i++
		first := probe.peek()
		switch {
		case first == ']':
			return nil, badRequest(field, "%s: empty array; want at least one input", field)
		case first == '"':
			if !lim.allowText {
				return nil, badRequest(field, "%s: want token ids, not strings", field)
			}
			b.nested = true
			b.texts = []string{}
			err = s.list(here, func(i int) *apiError {
				if len(b.texts) >= lim.maxInputs {
					return tooMany()
				}
				t, err := s.str(path{field, i, -1})
				if err == nil && t == "" {
					err = badRequest(fmt.Sprintf("%s[%d]", field, i), "%s[%d]: empty string", field, i)
				}
				b.texts = append(b.texts, t)
				return err
			})
		case first == '[':
			if !lim.allowNested {
				return nil, badRequest(field, "%s: want a flat array of token ids", field)
			}
			b.nested = true
			err = s.list(here, func(i int) *apiError {
				if len(b.starts) >= lim.maxInputs {
					return tooMany()
				}
				start := len(b.ids)
				b.starts = append(b.starts, int64(start))
				p := path{field, i, -1}
				err := s.list(p, func(j int) *apiError {
					if len(b.ids) >= lim.maxTokens {
						return tooLong()
					}
					v, err := s.id(path{field, i, j})
					b.ids = append(b.ids, v)
					return err
				})
				if err == nil && len(b.ids) == start {
					err = badRequest(p.String(), "%s: empty array; want at least one token id", p.String())
				}
				return err
			})
		default:
			b.starts = []int64{0}
			err = s.list(here, func(j int) *apiError {
				if len(b.ids) >= lim.maxTokens {
					return tooLong()
				}
				v, err := s.id(path{field, j, -1})
				b.ids = append(b.ids, v)
				return err
			})
		}
	default:
		return nil, badRequest(field, "%s: want %s, found %s", field, batchWant(lim), quoteShort(s.tokenText()))
	}
	if err != nil {
		return nil, err
	}
	if s.peek() != 0 {
		return nil, badRequest(field, "%s: unexpected %s after the value", field, quoteShort(s.tokenText()))
	}
	return b, nil
}

func batchWant(lim batchLimits) string {
	switch {
	case lim.allowText:
		return "a string, an array of strings, an array of token ids or an array of arrays of token ids"
	case lim.allowNested:
		return "an array of token ids or an array of arrays of token ids"
	}
	return "an array of token ids"
}

// parseFloats parses field's value raw, an array of at most max finite
// numbers that fit in float32.
func parseFloats(raw []byte, field string, max int) ([]float32, *apiError) {
	s := &scanner{b: raw}
	var out []float32
	err := s.list(path{field, -1, -1}, func(i int) *apiError {
		if len(out) >= max {
			return errorf(http.StatusRequestEntityTooLarge, field, "too_many_values", "%s: more than %d values", field, max)
		}
		s.ws()
		at := s.tokenText()
		tok := s.number()
		v, err := strconv.ParseFloat(string(tok), 32)
		switch {
		case err != nil && isRangeErr(err):
			return badRequest(fmt.Sprintf("%s[%d]", field, i), "%s[%d]: %s is out of float32 range", field, i, at)
		case err != nil:
			return badRequest(fmt.Sprintf("%s[%d]", field, i), "%s[%d]: %s is not a number", field, i, quoteShort(at))
		}
		out = append(out, float32(v))
		return nil
	})
	if err != nil {
		return nil, err
	}
	if s.peek() != 0 {
		return nil, badRequest(field, "%s: unexpected %s after the array", field, quoteShort(s.tokenText()))
	}
	return out, nil
}
