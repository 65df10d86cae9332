package server

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/embstore/embstore/store"
)

// TestHotReloadUnderLoad replaces the table file again and again while
// clients send binary lookups and /v1/embeddings requests: every request
// succeeds, and every row of a response comes from the same file version
// (each version's row r holds gen*100000 + r, so a row says where it came
// from).
func TestHotReloadUnderLoad(t *testing.T) {
	const rows, dim, versions = 512, 16, 25
	dir := t.TempDir()
	path := filepath.Join(dir, "t.emb")
	versioned(t, path, 1, rows, dim)
	ts := newTestServer(t, Config{Follow: store.FollowOptions{Interval: 2 * time.Millisecond}}, map[string]string{"t": path})

	genOf := func(vals []float32, ids []int64) (int, error) {
		gen := -1
		for i, id := range ids {
			for j := range dim {
				v := int(vals[i*dim+j])
				g := (v - int(id)) / 100000
				if v != g*100000+int(id) {
					return 0, fmt.Errorf("row %d (id %d) holds %d: not a row of any version", i, id, v)
				}
				if gen >= 0 && g != gen {
					return 0, fmt.Errorf("rows of versions %d and %d in one response", gen, g)
				}
				gen = g
			}
		}
		return gen, nil
	}
	var stop atomic.Bool
	var requests, failures atomic.Int64
	var seenMu sync.Mutex
	seen := map[int]bool{}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			ids := make([]int64, 64)
			for i := 0; !stop.Load(); i++ {
				for k := range ids {
					ids[k] = int64((i*31 + k*17 + w) % rows)
				}
				var vals []float32
				if w%2 == 0 {
					code, body, _ := ts.post(t, "/v1/lookup?table=t", ctypeOctet, le64(ids), "Accept", ctypeOctet)
					if code != 200 {
						failures.Add(1)
						t.Errorf("binary lookup during reloads: %d %s", code, body)
						return
					}
					vals = le32(body)
				} else {
					// One input per id: each embedding is that id's row.
					var sb strings.Builder
					sb.WriteString(`{"model": "t", "input": [`)
					for k, id := range ids {
						if k > 0 {
							sb.WriteByte(',')
						}
						fmt.Fprintf(&sb, "[%d]", id)
					}
					sb.WriteString("]}")
					req := sb.String()
					code, body, _ := ts.post(t, "/v1/embeddings", "application/json", []byte(req))
					if code != 200 {
						failures.Add(1)
						t.Errorf("embeddings during reloads: %d %s", code, body)
						return
					}
					var r embeddingsResponse
					if err := json.Unmarshal(body, &r); err != nil || len(r.Data) != len(ids) {
						t.Errorf("embeddings response %s", body)
						return
					}
					for _, d := range r.Data {
						var row []float32
						json.Unmarshal(d.Embedding, &row)
						vals = append(vals, row...)
					}
				}
				g, err := genOf(vals, ids)
				if err != nil {
					failures.Add(1)
					t.Error(err)
					return
				}
				requests.Add(1)
				seenMu.Lock()
				seen[g] = true
				seenMu.Unlock()
			}
		})
	}
	for gen := 2; gen <= versions; gen++ {
		time.Sleep(15 * time.Millisecond)
		versioned(t, path, gen, rows, dim)
		if gen%5 == 0 {
			ts.Reload() // SIGHUP's path as well as polling
		}
	}
	time.Sleep(30 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	seenMu.Lock()
	defer seenMu.Unlock()
	if failures.Load() != 0 || requests.Load() < 50 || len(seen) < 5 || !seen[versions] {
		t.Fatalf("%d requests, %d failed, saw %d versions (last %v)", requests.Load(), failures.Load(), len(seen), seen[versions])
	}
	t.Logf("%d requests over %d file versions, none failed or mixed", requests.Load(), len(seen))
	if _, body, _ := ts.get(t, "/metrics"); !strings.Contains(string(body), `embstore_table_reloads_total{table="t"}`) {
		t.Error("reloads are not counted")
	}
}

// TestBadReplacementKeepsServing renames a broken file over the table: the
// old rows keep being served, and the refusal is counted.
func TestBadReplacementKeepsServing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "t.emb")
	versioned(t, path, 1, 8, 4)
	ts := newTestServer(t, Config{}, map[string]string{"t": path})
	bad := filepath.Join(dir, "bad")
	writeFile(t, bad, []byte("\x89EMBTAB\nthis is not a table"))
	rename(t, bad, path)
	if err := ts.Reload(); err != nil {
		t.Fatalf("Reload reported %v; the table's refusal is logged, not returned", err)
	}
	code, body, _ := ts.post(t, "/v1/lookup?table=t", ctypeOctet, le64([]int64{3}), "Accept", ctypeOctet)
	if code != 200 || le32(body)[0] != 100003 {
		t.Fatalf("after a bad replacement: %d %v", code, le32(body))
	}
	_, body, _ = ts.get(t, "/metrics")
	if !strings.Contains(string(body), `embstore_table_reload_failures_total{table="t"} 1`) {
		t.Fatal("the refused file is not counted")
	}
	_, body, _ = ts.get(t, "/v1/tables/t")
	var info TableInfo
	if json.Unmarshal(body, &info); info.ReloadFailures != 1 || info.LastError == "" || info.Generation != 1 {
		t.Fatalf("/v1/tables/t after a refused file: %s", body)
	}
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func rename(t testing.TB, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}
