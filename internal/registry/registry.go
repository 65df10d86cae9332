// Package registry keeps the shard map and membership of embstore clusters
// in etcd: servers register the tables they serve under a lease that dies
// with them, and clients and routers watch the registrations.
//
// # Keys
//
// Every served table is one key, under a prefix (DefaultPrefix unless
// configured):
//
//	PREFIX tables/NAME/VERSION/SHARD/MEMBER
//
// NAME is the table's name (letters, digits, ".", "_", "-"), VERSION its
// version in decimal (0 for a table served whole, not as shards), SHARD the
// shard index in decimal, MEMBER the server's advertised host:port. The
// value is an Entry in JSON: the shard's range and the table's shape, and
// the URL and name under which the member serves it. A server puts all its
// keys under one lease, kept alive while it runs: when the server dies its
// keys vanish within the lease's TTL; when it shuts down it revokes the
// lease and they vanish at once.
//
// A table version is complete when every shard 0 to Shards-1 has at least
// one key, all its entries agree (shape, shard count, ranges covering the
// rows, the same original file), and clients use the highest complete
// version (see Complete).
package registry

import (
	"encoding/json"
	"fmt"
	"github.com/embstore/embstore/internal/pooling"
	"net/url"
	"strconv"
	"strings"

	"github.com/embstore/embstore/internal/shardmeta"
)

// DefaultPrefix is the key prefix of the registry unless configured.
const DefaultPrefix = "/embstore/"

// An Entry is one replica of one shard of one version of a table: the
// value of a registry key.
type Entry struct {
	Table          string  `json:"table"`
	Version        uint64  `json:"version"` // 0: a table served whole
	Shard          int     `json:"shard"`
	Shards         int     `json:"shards"`
	RowStart       int64   `json:"row_start"`
	RowEnd         int64   `json:"row_end"`
	RowsTotal      int64   `json:"rows_total"`
	Dim            int     `json:"dim"`
	DType          string  `json:"dtype"`
	Positions      int64   `json:"positions"`
	PositionOffset int64   `json:"position_offset"`
	TokenScale     float32 `json:"token_scale"`
	ComputeDType   string  `json:"compute_dtype"` // "f32", "f16" or "bf16"
	// Pooling and Normalize are the table's default pooling for text and
	// /v1/embeddings (its metadata's "pooling"): "" means the mean.
	Pooling   string `json:"pooling,omitempty"`
	Normalize bool   `json:"normalize,omitempty"`
	// Origin is the header checksum of the file the shards were split from
	// (of the file itself for a table served whole): shards of one version
	// must share it.
	Origin uint32 `json:"origin_crc32c"`
	// URL is the member's base URL, and Served the name it serves the
	// shard under (its file's name, usually).
	URL    string `json:"url"`
	Served string `json:"served_as"`

	// Member is the MEMBER element of the key (not in the value).
	Member string `json:"-"`
}

// Key returns the entry's key under prefix.
func (e *Entry) Key(prefix string) string {
	return fmt.Sprintf("%stables/%s/%d/%d/%s", prefix, e.Table, e.Version, e.Shard, e.Member)
}

// TablePrefix returns the prefix of every key of table name (all tables
// when name is "").
func TablePrefix(prefix, name string) string {
	if name == "" {
		return prefix + "tables/"
	}
	return prefix + "tables/" + name + "/"
}

// MemberOf returns the MEMBER key element of a server advertised at
// advertise: its host:port.
func MemberOf(advertise string) (string, error) {
	u, err := url.Parse(advertise)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Port() == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return "", fmt.Errorf("advertise URL %q: want http://HOST:PORT or https://HOST:PORT", advertise)
	}
	return u.Host, nil
}

// Validate checks an entry's fields against each other.
func (e *Entry) Validate() error {
	switch {
	case !shardmeta.ValidName(e.Table):
		return fmt.Errorf("table name %q", e.Table)
	case e.Shards < 1 || e.Shard < 0 || e.Shard >= e.Shards:
		return fmt.Errorf("shard %d of %d", e.Shard, e.Shards)
	case e.Version == 0 && e.Shards != 1:
		return fmt.Errorf("version 0 (a whole table) in %d shards", e.Shards)
	case e.RowStart < 0 || e.RowEnd <= e.RowStart || e.RowEnd > e.RowsTotal:
		return fmt.Errorf("rows [%d, %d) of %d", e.RowStart, e.RowEnd, e.RowsTotal)
	case e.Dim < 1 || e.Positions < 0 || e.PositionOffset < 0 || (e.Positions > 0 && e.PositionOffset >= e.Positions):
		return fmt.Errorf("dim %d, %d positions from %d", e.Dim, e.Positions, e.PositionOffset)
	case e.ComputeDType != "f32" && e.ComputeDType != "f16" && e.ComputeDType != "bf16":
		return fmt.Errorf("compute dtype %q", e.ComputeDType)
	case e.Pooling != "" && !validPooling(e.Pooling):
		return fmt.Errorf("pooling %q", e.Pooling)
	case e.Member == "" || strings.Contains(e.Member, "/"):
		return fmt.Errorf("member %q", e.Member)
	case !shardmeta.ValidName(e.Served):
		return fmt.Errorf("served as %q", e.Served)
	}
	if _, err := MemberOf(e.URL); err != nil {
		return err
	}
	return nil
}

// validPooling reports whether s names a pooling mode.
func validPooling(s string) bool {
	_, err := pooling.ParseMode(s)
	return err == nil
}

// ParseEntry decodes the entry of key under prefix, checking that the key
// and the value agree.
func ParseEntry(prefix string, key, value []byte) (*Entry, error) {
	rest, ok := strings.CutPrefix(string(key), prefix+"tables/")
	parts := strings.Split(rest, "/")
	if !ok || len(parts) != 4 {
		return nil, fmt.Errorf("registry key %q: want %stables/NAME/VERSION/SHARD/MEMBER", key, prefix)
	}
	var e Entry
	if err := json.Unmarshal(value, &e); err != nil {
		return nil, fmt.Errorf("registry key %s: %w", key, err)
	}
	e.Member = parts[3]
	version, err1 := strconv.ParseUint(parts[1], 10, 64)
	shard, err2 := strconv.Atoi(parts[2])
	if err1 != nil || err2 != nil || parts[0] != e.Table || version != e.Version || shard != e.Shard {
		return nil, fmt.Errorf("registry key %s: its value names table %s version %d shard %d", key, e.Table, e.Version, e.Shard)
	}
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("registry key %s: %w", key, err)
	}
	return &e, nil
}

// A Set is the registered versions of one table: entries by version, then
// by shard.
type Set map[uint64]map[int][]*Entry

// Add files e in the set.
func (s Set) Add(e *Entry) {
	v := s[e.Version]
	if v == nil {
		v = map[int][]*Entry{}
		s[e.Version] = v
	}
	v[e.Shard] = append(v[e.Shard], e)
}

// Complete returns the highest version of the set whose every shard has a
// replica and whose entries agree, and false if none has. Versions that do
// not hold together are listed in why.
func (s Set) Complete() (version uint64, ok bool, why []string) {
	for v, shards := range s {
		if err := consistent(shards); err != nil {
			why = append(why, fmt.Sprintf("version %d: %v", v, err))
			continue
		}
		if !ok || v > version {
			version, ok = v, true
		}
	}
	return version, ok, why
}

// Check returns why version v of the set is not complete, or nil if every
// one of its shards has a replica and its entries agree.
func (s Set) Check(v uint64) error {
	if s[v] == nil {
		return fmt.Errorf("no entries")
	}
	return consistent(s[v])
}

// consistent checks that the shards of a version are all there and agree.
func consistent(shards map[int][]*Entry) error {
	var first *Entry
	for _, es := range shards {
		for _, e := range es {
			if first == nil {
				first = e
				continue
			}
			if e.Shards != first.Shards || e.RowsTotal != first.RowsTotal || e.Dim != first.Dim || e.DType != first.DType ||
				e.Positions != first.Positions || e.PositionOffset != first.PositionOffset || e.TokenScale != first.TokenScale ||
				e.ComputeDType != first.ComputeDType || e.Origin != first.Origin ||
				e.Pooling != first.Pooling || e.Normalize != first.Normalize {
				return fmt.Errorf("shard %d on %s and shard %d on %s disagree (shape, conventions or original file)", first.Shard, first.Member, e.Shard, e.Member)
			}
		}
	}
	if first == nil {
		return fmt.Errorf("no entries")
	}
	next := int64(0)
	for i := range first.Shards {
		es := shards[i]
		if len(es) == 0 {
			return fmt.Errorf("shard %d of %d has no live replica", i, first.Shards)
		}
		for _, e := range es {
			if e.RowStart != next || e.RowEnd != es[0].RowEnd {
				return fmt.Errorf("shard %d on %s holds rows [%d, %d), want them from %d", i, e.Member, e.RowStart, e.RowEnd, next)
			}
		}
		next = es[0].RowEnd
	}
	if next != first.RowsTotal {
		return fmt.Errorf("the shards end at row %d of %d", next, first.RowsTotal)
	}
	return nil
}
