package format

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// ValidateMetadata checks that md is a metadata document the format allows:
// at most MaxMetadataSize bytes of UTF-8 (no byte-order mark) holding exactly
// one JSON object, nested at most MaxMetadataDepth levels, with no duplicate
// key in any object. Go's encoding/json keeps the last of duplicate keys and
// other parsers keep the first, so a document with duplicates could mean
// different things to different readers: it is refused.
func ValidateMetadata(md []byte) error {
	if len(md) > MaxMetadataSize {
		return fmt.Errorf("%d bytes exceeds the limit of %d", len(md), MaxMetadataSize)
	}
	return validateJSONDoc(md)
}

// validateJSONDoc checks that doc is UTF-8 without a byte-order mark and
// holds exactly one JSON object, nested at most MaxMetadataDepth levels,
// with no duplicate key in any object.
func validateJSONDoc(doc []byte) error {
	switch {
	case !utf8.Valid(doc):
		return errors.New("not valid UTF-8")
	case bytes.HasPrefix(doc, []byte("\xef\xbb\xbf")):
		return errors.New("starts with a byte-order mark")
	}
	return checkJSONObject(json.NewDecoder(bytes.NewReader(doc)), MaxMetadataDepth)
}

// jsonFrame is one open container while checkJSONObject walks a document.
type jsonFrame struct {
	object    bool
	expectKey bool // inside an object, the next token is a key or '}'
	keys      map[string]bool
}

// checkJSONObject reads one JSON object from dec and nothing after it,
// refusing duplicate keys and nesting deeper than maxDepth.
func checkJSONObject(dec *json.Decoder, maxDepth int) error {
	var stack []*jsonFrame
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].expectKey = true
		}
	}
	for first := true; ; first = false {
		tok, err := dec.Token()
		if err == io.EOF && !first && len(stack) == 0 {
			return nil
		}
		if err != nil {
			return fmt.Errorf("malformed JSON near byte %d: %v", dec.InputOffset(), err)
		}
		switch {
		case first && tok != json.Delim('{'):
			return errors.New("not a JSON object")
		case !first && len(stack) == 0:
			return fmt.Errorf("data after the top-level object near byte %d", dec.InputOffset())
		}
		if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].expectKey {
			if tok == json.Delim('}') {
				stack = stack[:n-1]
				valueDone()
				continue
			}
			key, _ := tok.(string) // the decoder returns only strings in key position
			if stack[n-1].keys[key] {
				return fmt.Errorf("duplicate key %q", key)
			}
			stack[n-1].keys[key] = true
			stack[n-1].expectKey = false
			continue
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if len(stack) >= maxDepth {
				return fmt.Errorf("nested deeper than %d levels", maxDepth)
			}
			obj := tok == json.Delim('{')
			stack = append(stack, &jsonFrame{object: obj, expectKey: obj, keys: map[string]bool{}})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone()
		default:
			valueDone()
		}
	}
}
