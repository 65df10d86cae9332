// Package strictjson checks JSON documents that several programs must read
// the same way: the metadata of a table file (package format), and the
// index and config.json beside a safetensors checkpoint. It refuses what
// JSON parsers disagree on or resolve silently: duplicate keys (Go keeps
// the last, other parsers the first), invalid UTF-8, escapes that leave a
// UTF-16 surrogate unpaired (encoding/json turns them into U+FFFD, so two
// different keys can collide), a byte-order mark, and nesting deeper than
// the caller allows.
//
// It is the one implementation of these rules in the module: callers wrap
// its *Error in their own error types.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// An Error says where a document breaks a rule and which.
type Error struct {
	// Offset is the byte offset of the problem in the document, or -1
	// when it concerns the whole document (invalid UTF-8).
	Offset int64
	// Detail says what is wrong, e.g. `duplicate key "a"`.
	Detail string
}

func (e *Error) Error() string {
	if e.Offset < 0 {
		return e.Detail
	}
	return fmt.Sprintf("%s at byte %d", e.Detail, e.Offset)
}

// jsonSpace is JSON's insignificant whitespace.
const jsonSpace = " \t\r\n"

// CheckObject checks that b holds exactly one JSON object (RFC 8259), with
// only whitespace around it: valid UTF-8 without a byte-order mark, no \u
// escape that leaves a UTF-16 surrogate unpaired, objects and arrays nested
// at most maxDepth deep, and no key repeated in any object (keys compared
// after unescaping). It returns nil if b passes.
func CheckObject(b []byte, maxDepth int) *Error {
	fail := func(off int64, detail string) *Error { return &Error{Offset: off, Detail: detail} }
	if !utf8.Valid(b) {
		return fail(-1, "not valid UTF-8")
	}
	if bytes.HasPrefix(b, []byte("\xef\xbb\xbf")) {
		return fail(0, "starts with a byte-order mark")
	}
	if off, ok := CheckSurrogates(b); !ok {
		return fail(int64(off), `\u escape leaves a UTF-16 surrogate unpaired`)
	}
	trimmed := bytes.TrimLeft(b, jsonSpace)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return fail(int64(len(b)-len(trimmed)), "not a JSON object")
	}
	type frame struct {
		seen    map[string]struct{} // nil for an array
		wantKey bool
	}
	var stack []frame
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	for {
		// The token starts after the separators the decoder has not
		// consumed yet.
		off := dec.InputOffset()
		for off < int64(len(b)) && bytes.IndexByte([]byte(jsonSpace+",:"), b[off]) >= 0 {
			off++
		}
		tok, err := dec.Token()
		if err != nil {
			var se *json.SyntaxError
			if errors.As(err, &se) {
				return fail(se.Offset, "malformed JSON: "+se.Error())
			}
			return fail(off, "unexpected end of JSON")
		}
		if n := len(stack); n > 0 && stack[n-1].wantKey {
			if tok == json.Delim('}') {
				stack = stack[:n-1]
			} else {
				key, _ := tok.(string) // the decoder returns only strings in key position
				if _, dup := stack[n-1].seen[key]; dup {
					return fail(off, "duplicate key "+quote(key))
				}
				stack[n-1].seen[key] = struct{}{}
				stack[n-1].wantKey = false
				continue
			}
		} else {
			switch tok {
			case json.Delim('{'), json.Delim('['):
				if len(stack) == maxDepth {
					return fail(off, fmt.Sprintf("nested more than %d levels deep", maxDepth))
				}
				f := frame{}
				if tok == json.Delim('{') {
					f = frame{seen: make(map[string]struct{}), wantKey: true}
				}
				stack = append(stack, f)
				continue
			case json.Delim(']'):
				stack = stack[:len(stack)-1]
			}
		}
		// A value has ended.
		if len(stack) == 0 {
			break
		}
		if top := &stack[len(stack)-1]; top.seen != nil {
			top.wantKey = true
		}
	}
	end := dec.InputOffset()
	if rest := bytes.TrimLeft(b[end:], jsonSpace); len(rest) > 0 {
		return fail(int64(len(b)-len(rest)), "data after the JSON object")
	}
	return nil
}

// CheckSurrogates reports whether every \u escape for a UTF-16 surrogate in
// the JSON text b is part of a high-low pair, and if not, the offset of the
// first one that is not. Malformed escapes are left to the JSON decoder.
func CheckSurrogates(b []byte) (int, bool) {
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !inString {
			if c == '"' {
				inString = true
			}
			continue
		}
		switch c {
		case '"':
			inString = false
		case '\\':
			if i+1 >= len(b) {
				return 0, true
			}
			if b[i+1] != 'u' {
				i++
				continue
			}
			v, ok := Hex4(b, i+2)
			if !ok {
				return 0, true
			}
			switch {
			case 0xdc00 <= v && v < 0xe000:
				return i, false
			case 0xd800 <= v && v < 0xdc00:
				if i+11 >= len(b) || b[i+6] != '\\' || b[i+7] != 'u' {
					return i, false
				}
				w, ok := Hex4(b, i+8)
				if !ok || w < 0xdc00 || w >= 0xe000 {
					return i, false
				}
				i += 11
			default:
				i += 5
			}
		}
	}
	return 0, true
}

// Hex4 decodes the four hex digits of a \u escape at b[i:i+4], reporting
// false if there are not four.
func Hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var v rune
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			v = v<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			v = v<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			v = v<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

// maxQuote bounds how much of a key goes into a message.
const maxQuote = 120

// quote quotes s for a message, shortened if it is long.
func quote(s string) string {
	if len(s) <= maxQuote {
		return strconv.Quote(s)
	}
	cut := maxQuote
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + fmt.Sprintf("... (%d bytes)", len(s))
}
