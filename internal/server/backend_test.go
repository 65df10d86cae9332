package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/embstore/embstore/internal/shardmeta"
	"github.com/embstore/embstore/pack"
	"github.com/embstore/embstore/store"
)

func TestShardRangeReported(t *testing.T) {
	dir := t.TempDir()
	src := seeded(t, dir, "whole", 100, 8, 4)
	m, err := pack.Shard(context.Background(), src, filepath.Join(dir, "s"), pack.ShardSpec{Name: "emb", Version: 4, Shards: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, Config{}, map[string]string{"part": filepath.Join(dir, "s", m.Shards[2].File), "whole": src})
	for _, path := range []string{"/v1/tables/part", "/v1/tables"} {
		code, body, _ := ts.get(t, path)
		if code != http.StatusOK {
			t.Fatalf("%s: %d %s", path, code, body)
		}
		var one TableInfo
		var list struct{ Data []TableInfo }
		if path == "/v1/tables" {
			json.Unmarshal(body, &list)
			if len(list.Data) != 2 || list.Data[1].Name != "whole" || list.Data[1].Shard != nil {
				t.Fatalf("%s: %s", path, body)
			}
			one = list.Data[0]
		} else {
			json.Unmarshal(body, &one)
		}
		want := shardmeta.Info{Table: "emb", Version: 4, Index: 2, Count: 3, RowStart: 67, RowEnd: 100, RowsTotal: 100}
		if one.Shard == nil || *one.Shard != want || one.Rows != 33 {
			t.Fatalf("%s: shard %+v of %d rows, want %+v", path, one.Shard, one.Rows, want)
		}
	}
}

// fakeTable is a Table whose lookups fail with err (or succeed, writing
// the id as every value).
type fakeTable struct{ err error }

func (f *fakeTable) Rows() int64                                  { return 10 }
func (f *fakeTable) Dim() int                                     { return 2 }
func (f *fakeTable) Positions() int64                             { return 0 }
func (f *fakeTable) CheckIDs(ids []int64) error                   { return nil }
func (f *fakeTable) CheckPositions(seqLen int, start int64) error { return store.ErrNoPositions }
func (f *fakeTable) Lookup(ctx context.Context, dst []float32, ids []int64) error {
	if f.err != nil {
		return f.err
	}
	for i, id := range ids {
		dst[2*i], dst[2*i+1] = float32(id), float32(id)
	}
	return nil
}
func (f *fakeTable) LookupPositions(context.Context, []float32, []int64, int, int64) error {
	return store.ErrNoPositions
}
func (f *fakeTable) LookupPositionRows(context.Context, []float32, []int64) error {
	return store.ErrNoPositions
}
func (f *fakeTable) Bag(ctx context.Context, dst []float32, ids, offsets []int64, opts *store.BagOptions) error {
	return f.err
}

// fakeSource serves a fakeTable, or fails to acquire one.
type fakeSource struct {
	t        *fakeTable
	acquire  error
	acquired atomic.Int64
	released atomic.Int64
	closed   atomic.Bool
}

func (f *fakeSource) Acquire() (Table, func(), error) {
	if f.acquire != nil {
		return nil, nil, f.acquire
	}
	f.acquired.Add(1)
	return f.t, func() { f.released.Add(1) }, nil
}
func (f *fakeSource) Info(t Table) TableInfo {
	if t == nil {
		return TableInfo{Cluster: map[string]string{"error": "down"}}
	}
	return TableInfo{Rows: 10, Dim: 2, DType: "f32", Generation: 7, Cluster: map[string]int{"shards": 3}}
}
func (f *fakeSource) Close() error { f.closed.Store(true); return nil }

func TestSources(t *testing.T) {
	var changes atomic.Int64
	ts := newTestServer(t, Config{OnChange: func() { changes.Add(1) }}, nil)
	ok := &fakeSource{t: &fakeTable{}}
	down := &fakeSource{acquire: errors.New("embstore cluster: table down: no version")}
	gateway := &fakeSource{t: &fakeTable{err: &UpstreamError{Status: http.StatusBadGateway, Err: errors.New("shard 1: 3 tries failed")}}}
	timeout := &fakeSource{t: &fakeTable{err: &UpstreamError{Status: http.StatusGatewayTimeout, Err: context.DeadlineExceeded}}}
	for name, src := range map[string]Source{"ok": ok, "down": down, "gateway": gateway, "timeout": timeout} {
		if err := ts.AddSource(name, src); err != nil {
			t.Fatal(err)
		}
	}
	if err := ts.AddSource("ok", ok); err == nil {
		t.Error("a name served twice")
	}
	if changes.Load() != 4 {
		t.Errorf("OnChange called %d times for 4 tables added", changes.Load())
	}
	code, body, _ := ts.post(t, "/v1/lookup", "application/json", []byte(`{"table": "ok", "ids": [3, 4]}`))
	if code != 200 || !strings.Contains(string(body), `[[3,3],[4,4]]`) {
		t.Fatalf("lookup from a source: %d %s", code, body)
	}
	if ok.acquired.Load() != ok.released.Load() {
		t.Errorf("acquired %d, released %d", ok.acquired.Load(), ok.released.Load())
	}
	for _, c := range []struct {
		table string
		code  int
		msg   string
	}{
		{"down", 503, "no version"},
		{"gateway", 502, "3 tries failed"},
		{"timeout", 504, "deadline"},
	} {
		code, body, _ := ts.post(t, "/v1/lookup", "application/json", []byte(`{"table": "`+c.table+`", "ids": [1]}`))
		if code != c.code || !strings.Contains(string(body), c.msg) {
			t.Errorf("%s: %d %s, want %d with %q", c.table, code, body, c.code, c.msg)
		}
	}
	code, body, _ = ts.get(t, "/v1/tables")
	if code != 200 || !strings.Contains(string(body), `"cluster":{"shards":3}`) || !strings.Contains(string(body), `"cluster":{"error":"down"}`) {
		t.Fatalf("/v1/tables: %d %s", code, body)
	}
	code, body, _ = ts.get(t, "/metrics")
	if code != 200 || !strings.Contains(string(body), `embstore_table_generation{table="ok"} 7`) {
		t.Errorf("/metrics lacks the source's generation: %d", code)
	}
	ts.Remove("ok")
	if !ok.closed.Load() || changes.Load() != 5 {
		t.Errorf("Remove: closed %v, %d changes", ok.closed.Load(), changes.Load())
	}
}

func TestOnChangeFollowsFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "t.emb")
	versioned(t, path, 1, 10, 2)
	var changes atomic.Int64
	ts := newTestServer(t, Config{OnChange: func() { changes.Add(1) }, Follow: store.FollowOptions{Interval: 5 * time.Millisecond}}, map[string]string{"t": path})
	if changes.Load() != 1 {
		t.Fatalf("%d changes after one table", changes.Load())
	}
	versioned(t, path, 2, 10, 2)
	deadline := time.Now().Add(5 * time.Second)
	for changes.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if changes.Load() != 2 {
		t.Fatalf("a reload made %d changes", changes.Load()-1)
	}
	_ = ts
}
