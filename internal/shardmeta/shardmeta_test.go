package shardmeta

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/embstore/embstore/format"
)

func TestBuildParse(t *testing.T) {
	info := Info{Table: "gpt2", Version: 3, Index: 1, Count: 4, RowStart: 10, RowEnd: 20, RowsTotal: 40}
	for _, md := range [][]byte{
		nil,
		[]byte(`{}`),
		[]byte(`{"creator":"embpack","source":"seed","seed":{"seed":1}}`),
		[]byte(" \n{ \"a\" : [1, 2.50e0, \"<&>\\u00e9\"] }\r\n\t"),
	} {
		b, err := Build(&Doc{Creator: "embpack 9", Info: info, Original: Original{FileSize: 123, HeaderCRC: 0xdeadbeef, Metadata: md}})
		if err != nil {
			t.Fatal(err)
		}
		if err := format.ValidateMetadata(b); err != nil {
			t.Fatalf("%q: the document is not valid metadata: %v\n%s", md, err, b)
		}
		d, err := Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		if d.Info != info || d.Creator != "embpack 9" || d.Original.FileSize != 123 || d.Original.HeaderCRC != 0xdeadbeef || !bytes.Equal(d.Original.Metadata, md) {
			t.Fatalf("%q: parsed %+v, metadata %q", md, d, d.Original.Metadata)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for _, c := range []struct{ md, want string }{
		{`{"creator":"x"}`, "not a shard"},
		{``, "not a shard"},
		{`{"shard":{"table":"a/b","version":1,"index":0,"count":1,"row_start":0,"row_end":1,"rows_total":1}}`, "table name"},
		{`{"shard":{"table":"a","version":0,"index":0,"count":1,"row_start":0,"row_end":1,"rows_total":1}}`, "version 0"},
		{`{"shard":{"table":"a","version":1,"index":2,"count":2,"row_start":0,"row_end":1,"rows_total":1}}`, "index 2 of 2"},
		{`{"shard":{"table":"a","version":1,"index":0,"count":1,"row_start":0,"row_end":2,"rows_total":1}}`, "rows [0, 2) of 1"},
		{`{"shard":{"table":"a","version":1,"index":0,"count":1,"row_start":0,"row_end":1,"rows_total":1},"original":{"metadata":{},"metadata_lead":"x"}}`, "whitespace"},
	} {
		_, err := Parse([]byte(c.md))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.md, err, c.want)
		}
		if c.want == "not a shard" && !errors.Is(err, ErrNotShard) {
			t.Errorf("%s: not ErrNotShard", c.md)
		}
	}
	info := Info{Table: "a", Version: 1, Index: 0, Count: 2, RowStart: 0, RowEnd: 5, RowsTotal: 9}
	if err := info.Validate(4); err == nil {
		t.Error("a 5-row range in a 4-row table passed")
	}
}

// TestBuildKeepsKeys checks that the original's pooling, vocabulary and
// tokenizer keys are at the shard document's top level too, byte for byte,
// and that other keys of the original are not.
func TestBuildKeepsKeys(t *testing.T) {
	md := []byte(`{"creator":"embpack","source":"seed","pooling":{"mode":"cls","normalize":true},` +
		`"vocabulary":{"source":"tokenizer", "duplicates":2},"tokenizer":{"source":"tokenizer.json","sha256":"ab"}}`)
	b, err := Build(&Doc{Creator: "embpack 9", Info: Info{Table: "t", Version: 1, Count: 1, RowEnd: 1, RowsTotal: 1},
		Original: Original{Metadata: md}})
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"pooling":    `{"mode":"cls","normalize":true}`,
		"vocabulary": `{"source":"tokenizer", "duplicates":2}`,
		"tokenizer":  `{"source":"tokenizer.json","sha256":"ab"}`,
		"source":     `"shard"`,
		"creator":    `"embpack 9"`,
	} {
		if got := string(top[k]); got != want {
			t.Errorf("%s: %s, want %s", k, got, want)
		}
	}
	if _, ok := top["seed"]; ok {
		t.Error("a key of the original other than the kept ones is at the top level")
	}
	d, err := Parse(b)
	if err != nil || !bytes.Equal(d.Original.Metadata, md) {
		t.Fatalf("parsed %v, original metadata %q", err, d.Original.Metadata)
	}
}
