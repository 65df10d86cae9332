package strictjson

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestCheckObject(t *testing.T) {
	for _, c := range []struct {
		doc    string
		detail string // "" when the document passes
		offset int64
	}{
		{`{}`, "", 0},
		{" \n{\"a\":{\"b\":[1,2,{\"c\":null}]},\"d\":\"é\"}\t", "", 0},
		{`{"a":"\ud83d\ude00"}`, "", 0}, // a surrogate pair
		{`{"\u0061":1,"b":2}`, "", 0},
		{`{"a":1,"\u0061":2}`, "duplicate key", 7},
		{`{"x":[{"a":1,"a":1}]}`, "duplicate key", 13},
		{`{"a":"\ud83d"}`, "unpaired", 6},
		{`{"a":"\ude00\ud83d"}`, "unpaired", 6},
		{"\xef\xbb\xbf{}", "byte-order mark", 0},
		{"{\"a\":\"\xff\"}", "not valid UTF-8", -1},
		{`  [1]`, "not a JSON object", 2},
		{``, "not a JSON object", 0},
		{`{"a":1} x`, "data after the JSON object", 8},
		{`{"a":1}{}`, "data after the JSON object", 7},
		{`{"a":`, "unexpected end", 5},
		{`{"a" 1}`, "malformed JSON", 5},
		{strings.Repeat(`{"a":`, 4) + "1" + strings.Repeat("}", 4), "", 0},
		{strings.Repeat(`{"a":`, 5) + "1" + strings.Repeat("}", 5), "nested more than 4 levels deep", 20},
		{`{"a":[[[[1]]]]}`, "nested more than 4", 8},
	} {
		err := CheckObject([]byte(c.doc), 4)
		switch {
		case c.detail == "" && err != nil:
			t.Errorf("%q: %v", c.doc, err)
		case c.detail == "":
			var v any
			if json.Unmarshal([]byte(c.doc), &v) != nil {
				t.Errorf("%q passes, but encoding/json refuses it", c.doc)
			}
		case err == nil:
			t.Errorf("%q passes; want %q", c.doc, c.detail)
		case !strings.Contains(err.Detail, c.detail) || err.Offset != c.offset:
			t.Errorf("%q: %q at %d; want %q at %d", c.doc, err.Detail, err.Offset, c.detail, c.offset)
		}
	}
}

func TestDuplicateKeyQuoted(t *testing.T) {
	long := strings.Repeat("k", 1000)
	err := CheckObject([]byte(`{"`+long+`":1,"`+long+`":2}`), 4)
	if err == nil || len(err.Error()) > 200 || !strings.Contains(err.Error(), "(1000 bytes)") {
		t.Fatalf("%v", err)
	}
}
