package registry

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/embstore/embstore/internal/testing/etcdtest"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

func entry(version uint64, shard, shards int, start, end, total int64, member string) *Entry {
	return &Entry{Table: "t", Version: version, Shard: shard, Shards: shards, RowStart: start, RowEnd: end, RowsTotal: total,
		Dim: 8, DType: "f32", ComputeDType: "f32", TokenScale: 1, Origin: 7, URL: "http://" + member, Served: "t-part", Member: member}
}

func TestParseEntry(t *testing.T) {
	e := entry(2, 1, 2, 5, 10, 10, "127.0.0.1:9000")
	b, _ := json.Marshal(e)
	got, err := ParseEntry(DefaultPrefix, []byte(e.Key(DefaultPrefix)), b)
	if err != nil {
		t.Fatal(err)
	}
	if *got != *e {
		t.Fatalf("got %+v, want %+v", got, e)
	}
	if k := e.Key(DefaultPrefix); k != "/embstore/tables/t/2/1/127.0.0.1:9000" {
		t.Errorf("key %s", k)
	}
	for _, c := range []struct{ key, value, want string }{
		{"/embstore/tables/t/2/1", string(b), "want /embstore/tables/NAME/VERSION/SHARD/MEMBER"},
		{"/embstore/tables/t/3/1/127.0.0.1:9000", string(b), "names table t version 2 shard 1"},
		{"/embstore/tables/t/2/1/127.0.0.1:9000", `{"table":`, "unexpected end"},
		{"/embstore/tables/t/2/1/127.0.0.1:9000", strings.Replace(string(b), `"row_end":10`, `"row_end":11`, 1), "rows [5, 11) of 10"},
		{"/embstore/tables/t/2/1/127.0.0.1:9000", strings.Replace(string(b), `"url":"http://127.0.0.1:9000"`, `"url":"ftp://x"`, 1), "advertise URL"},
	} {
		if _, err := ParseEntry(DefaultPrefix, []byte(c.key), []byte(c.value)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s = %s: %v, want an error with %q", c.key, c.value, err, c.want)
		}
	}
}

func TestComplete(t *testing.T) {
	s := Set{}
	s.Add(entry(1, 0, 2, 0, 5, 10, "a:1"))
	s.Add(entry(1, 1, 2, 5, 10, 10, "b:1"))
	s.Add(entry(2, 0, 2, 0, 5, 10, "a:1")) // version 2: shard 1 not served yet
	if v, ok, _ := s.Complete(); !ok || v != 1 {
		t.Fatalf("complete %d %v, want 1", v, ok)
	}
	s.Add(entry(2, 1, 2, 5, 10, 10, "c:1"))
	if v, ok, _ := s.Complete(); !ok || v != 2 {
		t.Fatalf("complete %d %v, want 2", v, ok)
	}
	bad := entry(3, 0, 1, 0, 10, 10, "a:1")
	s.Add(bad)
	other := *bad
	other.Member, other.Origin = "b:1", 8 // the same version split from another file
	s.Add(&other)
	v, ok, why := s.Complete()
	if !ok || v != 2 || len(why) != 1 || !strings.Contains(why[0], "version 3") {
		t.Fatalf("complete %d %v %v, want 2 and version 3 refused", v, ok, why)
	}
}

func newClient(t *testing.T, endpoints []string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// watcher records what Watch reports.
type watcher struct {
	mu   sync.Mutex
	last map[string]*Entry
	n    int
}

func (w *watcher) keys() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var ks []string
	for k := range w.last {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRegistrarAndWatch(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	cli := newClient(t, etcd.Endpoints)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &watcher{}
	go Watch(ctx, cli, "", "t", nil, func(m map[string]*Entry) {
		w.mu.Lock()
		w.last, w.n = m, w.n+1
		w.mu.Unlock()
	})

	var mu sync.Mutex
	served := []Entry{*entry(1, 0, 2, 0, 5, 10, ""), *entry(1, 1, 2, 5, 10, 10, "")}
	r, err := NewRegistrar(RegistrarConfig{Client: newClient(t, etcd.Endpoints), Advertise: "http://127.0.0.1:9001", TTL: 2 * time.Second, Resync: 200 * time.Millisecond,
		Entries: func() []Entry { mu.Lock(); defer mu.Unlock(); return slices.Clone(served) }})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/embstore/tables/t/1/0/127.0.0.1:9001", "/embstore/tables/t/1/1/127.0.0.1:9001"}
	waitFor(t, "both shards registered and watched", 10*time.Second, func() bool { return slices.Equal(w.keys(), want) })
	if e := w.last[want[1]]; e.URL != "http://127.0.0.1:9001" || e.Member != "127.0.0.1:9001" || e.RowStart != 5 {
		t.Errorf("watched entry %+v", e)
	}

	// A key removed by hand is put back at the next resync.
	if _, err := cli.Delete(context.Background(), want[0]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the removed key put back", 10*time.Second, func() bool { return slices.Equal(w.keys(), want) })

	// A change: shard 1 is gone, version 2 of shard 0 came.
	mu.Lock()
	served = []Entry{served[0], *entry(2, 0, 1, 0, 10, 10, "")}
	mu.Unlock()
	r.Changed()
	want = []string{"/embstore/tables/t/1/0/127.0.0.1:9001", "/embstore/tables/t/2/0/127.0.0.1:9001"}
	waitFor(t, "the change seen", 10*time.Second, func() bool { return slices.Equal(w.keys(), want) })

	// Close revokes the lease: the keys go at once.
	start := time.Now()
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "keys removed on Close", time.Second, func() bool { return len(w.keys()) == 0 })
	t.Logf("deregistered in %v", time.Since(start))

	// A registrar whose process dies (its etcd client gone, so no
	// keep-alive) loses its keys when the lease expires.
	dying := newClient(t, etcd.Endpoints)
	r2, err := NewRegistrar(RegistrarConfig{Client: dying, Advertise: "http://127.0.0.1:9002", TTL: 2 * time.Second,
		Entries: func() []Entry { return []Entry{*entry(1, 0, 1, 0, 10, 10, "")} }})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "registered", 10*time.Second, func() bool { return len(w.keys()) == 1 })
	dying.Close()
	start = time.Now()
	waitFor(t, "the lease expired", 10*time.Second, func() bool { return len(w.keys()) == 0 })
	if took := time.Since(start); took < time.Second {
		t.Errorf("keys gone %v after the keep-alive stopped, before the 2 s TTL", took)
	} else {
		t.Logf("keys expired %v after the keep-alive stopped", took)
	}
	r2.Close(context.Background())
}

func TestRegistrarRefusesBadEntries(t *testing.T) {
	if _, err := NewRegistrar(RegistrarConfig{Client: &clientv3.Client{}, Advertise: "127.0.0.1:80", Entries: func() []Entry { return nil }}); err == nil {
		t.Error("an advertise URL without a scheme was accepted")
	}
	for _, u := range []string{"http://h", "http://h:1/path", "http://u@h:1"} {
		if _, err := MemberOf(u); err == nil {
			t.Errorf("MemberOf(%q) accepted", u)
		}
	}
	if m, err := MemberOf("https://h.example:8443/"); err != nil || m != "h.example:8443" {
		t.Errorf("MemberOf: %q %v", m, err)
	}
}

// TestPooling checks that an entry carries its table's default pooling,
// that a mode no server pools with is refused, and that the shards of a
// version must agree on it (a router pools as they say).
func TestPooling(t *testing.T) {
	e := entry(1, 0, 1, 0, 10, 10, "a:1")
	e.Pooling, e.Normalize = "cls", true
	b, _ := json.Marshal(e)
	got, err := ParseEntry(DefaultPrefix, []byte(e.Key(DefaultPrefix)), b)
	if err != nil || got.Pooling != "cls" || !got.Normalize {
		t.Fatalf("ParseEntry = %+v, %v; want pooling cls, normalized", got, err)
	}
	bad := strings.Replace(string(b), `"pooling":"cls"`, `"pooling":"median"`, 1)
	if _, err := ParseEntry(DefaultPrefix, []byte(e.Key(DefaultPrefix)), []byte(bad)); err == nil || !strings.Contains(err.Error(), `pooling "median"`) {
		t.Errorf("pooling median: %v, want refused", err)
	}
	s := Set{}
	s.Add(entry(1, 0, 2, 0, 5, 10, "a:1"))
	other := entry(1, 1, 2, 5, 10, 10, "b:1")
	other.Pooling = "max"
	s.Add(other)
	if v, ok, why := s.Complete(); ok || len(why) != 1 || !strings.Contains(why[0], "disagree") {
		t.Fatalf("complete %d %v %v; want the version refused: its shards disagree on pooling", v, ok, why)
	}
}
