// Package shardmeta is the metadata of a shard: a table that holds a range
// of the rows of a larger one, made by embpack shard. It defines the
// document's "shard" and "original" keys (format/SPEC.md, "Metadata"),
// builds the document and reads it back, for the shard writer, the server
// that reports a shard's range and the registry that announces it.
package shardmeta

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Source is the value of the "source" key of a shard's metadata.
const Source = "shard"

// Info is the "shard" key of a shard's metadata: which table, which version
// of it, and which rows.
type Info struct {
	Table     string `json:"table"`      // the sharded table's name
	Version   uint64 `json:"version"`    // its version, 1 or more
	Index     int    `json:"index"`      // this shard, 0 to Count-1
	Count     int    `json:"count"`      // shards of the table
	RowStart  int64  `json:"row_start"`  // first row of the table held here (row 0 of the shard)
	RowEnd    int64  `json:"row_end"`    // one past the last row held here
	RowsTotal int64  `json:"rows_total"` // rows of the whole table
}

// Validate checks the fields against each other and against rows, the
// shard's own row count (0 skips that check).
func (i *Info) Validate(rows int64) error {
	switch {
	case !ValidName(i.Table):
		return fmt.Errorf("shard table name %q: want 1 to 128 letters, digits, '.', '_' or '-', not starting with '.'", i.Table)
	case i.Version < 1:
		return fmt.Errorf("shard version %d: want 1 or more", i.Version)
	case i.Count < 1 || i.Index < 0 || i.Index >= i.Count:
		return fmt.Errorf("shard index %d of %d", i.Index, i.Count)
	case i.RowStart < 0 || i.RowEnd <= i.RowStart || i.RowEnd > i.RowsTotal:
		return fmt.Errorf("shard rows [%d, %d) of %d", i.RowStart, i.RowEnd, i.RowsTotal)
	case rows > 0 && i.RowEnd-i.RowStart != rows:
		return fmt.Errorf("shard rows [%d, %d) but the table holds %d rows", i.RowStart, i.RowEnd, rows)
	}
	return nil
}

// Partial describes the table whose metadata is md and which holds rows
// rows, if it is a shard holding part of its table's rows (e.g. "shard 1 of
// 4 of table gpt2 (rows 12565 to 25129 of 50257)"), and returns "" for any
// other table, a shard holding every row included. A partial shard's
// tokenizer gives the whole table's ids while its rows are a range of them,
// renumbered from 0: texts cannot become its rows.
func Partial(md []byte, rows int64) string {
	d, err := Parse(md)
	if err != nil || d.Info.Validate(rows) != nil || d.Info.RowStart == 0 && d.Info.RowEnd == d.Info.RowsTotal {
		return ""
	}
	i := d.Info
	return fmt.Sprintf("shard %d of %d of table %s (rows %d to %d of %d)", i.Index, i.Count, i.Table, i.RowStart, i.RowEnd, i.RowsTotal)
}

// Range returns the rows of shard index of count over rows rows: shards
// differ by at most one row, the first ones holding the extra rows.
func Range(index, count int, rows int64) (start, end int64) {
	q, r := rows/int64(count), rows%int64(count)
	i := int64(index)
	start = i*q + min(i, r)
	end = start + q
	if i < r {
		end++
	}
	return start, end
}

// Original is the "original" key: what is needed, besides the shards' rows,
// to rebuild the sharded file bit for bit.
type Original struct {
	FileSize  int64  `json:"file_size"`
	HeaderCRC uint32 `json:"header_crc32c"`
	// Metadata is the original file's metadata document, or nil if it had
	// none. In the shard's metadata it is embedded byte for byte as the
	// value of "metadata"; the JSON whitespace before and after it, which
	// a JSON value cannot carry, is kept in "metadata_lead" and
	// "metadata_trail".
	Metadata []byte `json:"-"`
}

// Doc is a shard's metadata document.
type Doc struct {
	Creator  string
	Info     Info
	Original Original
}

// jsonSpace is JSON's insignificant whitespace.
const jsonSpace = " \t\r\n"

// KeptKeys are the keys of the original metadata that a shard's document
// carries at its top level too, as they are: what readers of a table's text
// inputs and sections (pooling, where the vocabulary and tokenizer came
// from) look for there.
var KeptKeys = []string{"pooling", "vocabulary", "tokenizer"}

// Build encodes d as a metadata document:
//
//	{"creator": ..., "source": "shard", "shard": {...},
//	 "pooling": ..., "vocabulary": ..., "tokenizer": ...,
//	 "original": {"file_size": ..., "header_crc32c": ..., "metadata": <the original document>}}
//
// where the keys of KeptKeys are copied from the original metadata, byte
// for byte, when it has them.
func Build(d *Doc) ([]byte, error) {
	head, err := json.Marshal(struct {
		Creator string `json:"creator"`
		Source  string `json:"source"`
		Shard   Info   `json:"shard"`
	}{d.Creator, Source, d.Info})
	if err != nil {
		return nil, err
	}
	b := head[:len(head)-1]
	if md := d.Original.Metadata; md != nil {
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(md, &keys); err != nil {
			return nil, errors.New("the original metadata is not a JSON object")
		}
		for _, k := range KeptKeys {
			if v, ok := keys[k]; ok {
				b = append(b, `,"`+k+`":`...)
				b = append(b, v...)
			}
		}
	}
	b = append(b, `,"original":{"file_size":`...)
	b = strconv.AppendInt(b, d.Original.FileSize, 10)
	b = append(b, `,"header_crc32c":`...)
	b = strconv.AppendUint(b, uint64(d.Original.HeaderCRC), 10)
	if md := d.Original.Metadata; md != nil {
		body := strings.TrimLeft(string(md), jsonSpace)
		lead := string(md[:len(md)-len(body)])
		body = strings.TrimRight(body, jsonSpace)
		trail := string(md[len(lead)+len(body):])
		if !json.Valid([]byte(body)) || !strings.HasPrefix(body, "{") {
			return nil, errors.New("the original metadata is not a JSON object")
		}
		b = append(b, `,"metadata":`...)
		b = append(b, body...)
		for _, ws := range []struct{ key, val string }{{"metadata_lead", lead}, {"metadata_trail", trail}} {
			if ws.val != "" {
				q, _ := json.Marshal(ws.val)
				b = append(b, `,"`+ws.key+`":`...)
				b = append(b, q...)
			}
		}
	}
	return append(b, "}}"...), nil
}

// ErrNotShard is returned by Parse for metadata without a "shard" key.
var ErrNotShard = errors.New("not a shard: the metadata has no \"shard\" key")

// Parse reads a shard's metadata document. It returns an error wrapping
// ErrNotShard when md has no "shard" key, and an error saying what is wrong
// when the key is there but malformed.
func Parse(md []byte) (*Doc, error) {
	var raw struct {
		Creator  string `json:"creator"`
		Shard    *Info  `json:"shard"`
		Original *struct {
			FileSize  int64           `json:"file_size"`
			HeaderCRC uint32          `json:"header_crc32c"`
			Metadata  json.RawMessage `json:"metadata"`
			Lead      string          `json:"metadata_lead"`
			Trail     string          `json:"metadata_trail"`
		} `json:"original"`
	}
	if len(md) == 0 {
		return nil, ErrNotShard
	}
	if err := json.Unmarshal(md, &raw); err != nil {
		return nil, fmt.Errorf("shard metadata: %w", err)
	}
	if raw.Shard == nil {
		return nil, ErrNotShard
	}
	d := &Doc{Creator: raw.Creator, Info: *raw.Shard}
	if err := d.Info.Validate(0); err != nil {
		return nil, err
	}
	if o := raw.Original; o != nil {
		d.Original = Original{FileSize: o.FileSize, HeaderCRC: o.HeaderCRC}
		if len(o.Metadata) > 0 && !bytes.Equal(o.Metadata, []byte("null")) {
			if strings.Trim(o.Lead, jsonSpace) != "" || strings.Trim(o.Trail, jsonSpace) != "" {
				return nil, errors.New("shard metadata: metadata_lead and metadata_trail may hold only JSON whitespace")
			}
			d.Original.Metadata = append(append([]byte(o.Lead), o.Metadata...), o.Trail...)
		}
	}
	return d, nil
}

// ValidName reports whether name can name a table: 1 to 128 letters, digits
// and ._- characters, not starting with a dot (so that it is a file name, a
// URL path element and an etcd key element as it is).
func ValidName(name string) bool {
	if name == "" || len(name) > 128 || name[0] == '.' {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
