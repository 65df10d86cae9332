package safetensors

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Checks of single JSON values, shared by the header parser and the
// checkpoint index reader.

// nonNegInt accepts a JSON number token that is a plain non-negative
// integer no larger than MaxSize, and otherwise says what is wrong with tok.
func nonNegInt(tok json.Token) (int64, string) {
	num, ok := tok.(json.Number)
	if !ok {
		return 0, "is " + describe(tok) + ", not an integer"
	}
	return nonNegIntText(string(num))
}

// nonNegIntText accepts the text of a JSON number that is a plain
// non-negative integer no larger than MaxSize, and otherwise says what is
// wrong with it.
func nonNegIntText(s string) (int64, string) {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, "is " + quote(s) + ", not a non-negative integer"
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v > MaxSize {
		return 0, "is " + quote(s) + ", over the limit 2^48-1"
	}
	return int64(v), ""
}

// describe names a JSON token's kind for an error message.
func describe(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			return "an object"
		case '[':
			return "an array"
		}
		return "a " + string(v)
	case string:
		return "a string"
	case json.Number:
		return "the number " + quote(string(v))
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", tok)
}
