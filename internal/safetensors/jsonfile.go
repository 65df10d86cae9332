package safetensors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/embstore/embstore/internal/regfile"
)

// Limits for the JSON files beside the weights (the sharded checkpoint
// index and config.json).
const (
	// MaxJSONFileSize is the largest index or config.json accepted, in
	// bytes.
	MaxJSONFileSize = MaxHeaderSize
	// maxJSONDepth bounds how deeply their objects and arrays may nest.
	maxJSONDepth = 64
)

// readJSONFile reads a JSON file of at most MaxJSONFileSize bytes and checks
// it with checkJSON.
func readJSONFile(path string) ([]byte, error) {
	f, _, err := regfile.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxJSONFileSize+1))
	if err != nil {
		return nil, readError(path, "reading", err)
	}
	if len(b) > MaxJSONFileSize {
		return nil, &FormatError{File: path, Offset: -1, Err: ErrJSONFile, Detail: fmt.Sprintf("larger than %d bytes", MaxJSONFileSize)}
	}
	if err := checkJSON(b); err != nil {
		err.File = path
		return nil, err
	}
	return b, nil
}

// checkJSON checks that b holds exactly one JSON object, possibly surrounded
// by whitespace, that is valid UTF-8 with no unpaired surrogate escape,
// nests at most maxJSONDepth deep and repeats no key in any object.
func checkJSON(b []byte) *FormatError {
	fail := func(off int64, detail string) *FormatError {
		return &FormatError{Offset: off, Err: ErrJSONFile, Detail: detail}
	}
	if !utf8.Valid(b) {
		return fail(-1, "not valid UTF-8")
	}
	if off, ok := checkSurrogates(b); !ok {
		return fail(int64(off), "\\u escape leaves a UTF-16 surrogate unpaired")
	}
	trimmed := bytes.TrimLeft(b, " \t\r\n")
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
		off := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			var se *json.SyntaxError
			if errors.As(err, &se) {
				return fail(se.Offset, se.Error())
			}
			return fail(off, "unexpected end of JSON")
		}
		if n := len(stack); n > 0 && stack[n-1].wantKey {
			if tok == json.Delim('}') {
				stack = stack[:n-1]
			} else {
				key, _ := tok.(string)
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
				if len(stack) == maxJSONDepth {
					return fail(off, fmt.Sprintf("nested more than %d deep", maxJSONDepth))
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
	if rest := bytes.TrimLeft(b[end:], " \t\r\n"); len(rest) > 0 {
		return fail(int64(len(b)-len(rest)), "junk after the JSON object")
	}
	return nil
}
