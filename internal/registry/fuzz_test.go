package registry

import (
	"encoding/json"
	"testing"
)

// FuzzParseEntry feeds registry keys and values, which any etcd client can
// write, to ParseEntry: it must refuse what does not hold together and never
// panic, and what it accepts must validate and encode back to its key.
func FuzzParseEntry(f *testing.F) {
	e := entry(2, 1, 2, 5, 10, 10, "127.0.0.1:9000")
	b, _ := json.Marshal(e)
	f.Add(e.Key(DefaultPrefix), string(b))
	f.Add("/embstore/tables/t/0/0/h:1", `{"table":"t","shards":1,"row_end":1,"rows_total":1,"dim":1,"compute_dtype":"f32","url":"http://h:1","served_as":"t"}`)
	f.Add("/embstore/tables/t/1/0/h:1/x", `{}`)
	f.Fuzz(func(t *testing.T, key, value string) {
		got, err := ParseEntry(DefaultPrefix, []byte(key), []byte(value))
		if err != nil {
			return
		}
		if err := got.Validate(); err != nil {
			t.Fatalf("accepted an entry that does not validate: %v", err)
		}
		if k := got.Key(DefaultPrefix); k != key {
			t.Fatalf("accepted key %q, but the entry's key is %q", key, k)
		}
	})
}
