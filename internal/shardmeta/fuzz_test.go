package shardmeta

import (
	"bytes"
	"testing"
)

// FuzzParse feeds metadata documents to Parse (table files come from
// anywhere): it must not panic, and a document it accepts must build back
// into one that parses to the same shard and original.
func FuzzParse(f *testing.F) {
	b, _ := Build(&Doc{Creator: "x", Info: Info{Table: "t", Version: 1, Count: 2, RowEnd: 3, RowsTotal: 5},
		Original: Original{FileSize: 9, HeaderCRC: 1, Metadata: []byte(" {\"a\":1}\n")}})
	f.Add(b)
	f.Add([]byte(`{"shard":{"table":"t","version":1,"index":0,"count":1,"row_start":0,"row_end":1,"rows_total":1}}`))
	f.Fuzz(func(t *testing.T, md []byte) {
		d, err := Parse(md)
		if err != nil {
			return
		}
		if d.Original.Metadata == nil {
			return
		}
		again, err := Build(d)
		if err != nil {
			return // an original that is not an object: Build refuses it
		}
		d2, err := Parse(again)
		if err != nil {
			t.Fatalf("Build's document does not parse: %v\n%s", err, again)
		}
		if d2.Info != d.Info || !bytes.Equal(d2.Original.Metadata, d.Original.Metadata) {
			t.Fatalf("round trip changed the document: %+v / %q, then %+v / %q", d.Info, d.Original.Metadata, d2.Info, d2.Original.Metadata)
		}
	})
}
