package client

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/embstore/embstore/internal/server"
	"github.com/embstore/embstore/pack"
	"github.com/embstore/embstore/store"
)

// serve runs a real server on loopback with one seeded table and returns
// its URL, the local table for comparison, and a counter of new
// connections.
func serve(t *testing.T, cfg server.Config, wrap func(http.Handler) http.Handler) (string, *store.Table, *atomic.Int64) {
	t.Helper()
	return serveOn(t, nil, cfg, wrap)
}

// serveOn is serve on the listener ln (nil: loopback TCP); the URL it
// returns is then empty.
func serveOn(t *testing.T, ln net.Listener, cfg server.Config, wrap func(http.Handler) http.Handler) (string, *store.Table, *atomic.Int64) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "t.emb")
	spec := pack.SeedSpec{Rows: 3000, Dim: 40, Seed: 123, Positions: 16}
	if err := pack.Seed(context.Background(), path, spec, nil); err != nil {
		t.Fatal(err)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Follow.Interval = -1
	s, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddTable("t", path); err != nil {
		t.Fatal(err)
	}
	var h http.Handler = s.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	conns := new(atomic.Int64)
	hs := httptest.NewUnstartedServer(h)
	hs.Config.ConnState = func(c net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	if ln != nil {
		hs.Listener.Close()
		hs.Listener = ln
	}
	hs.Start()
	url := hs.URL
	if ln != nil {
		url = ""
	}
	local, err := store.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		hs.Close()
		s.Close()
		local.Close()
	})
	return url, local, conns
}

func equalBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && !(a[i] != a[i] && b[i] != b[i]) {
			return false
		}
	}
	return true
}

func TestClientMatchesStore(t *testing.T) {
	url, local, conns := serve(t, server.Config{}, nil)
	ctx := context.Background()
	tab, err := Open(ctx, url, "t", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	if tab.Rows() != 3000 || tab.Dim() != 40 || tab.Positions() != 16 || tab.PositionOffset() != 0 || tab.Info().DType != "f32" {
		t.Fatalf("info %+v", tab.Info())
	}
	ids := []int64{0, 2999, 17, 17, 1234, 5, 6, 7}
	dim := tab.Dim()
	got, want := make([]float32, len(ids)*dim), make([]float32, len(ids)*dim)

	if err := tab.Lookup(ctx, got, ids); err != nil {
		t.Fatal(err)
	}
	local.Lookup(want, ids)
	if !equalBits(got, want) {
		t.Fatal("Lookup differs from store")
	}
	if err := tab.LookupPositions(ctx, got, ids, 4, 3); err != nil {
		t.Fatal(err)
	}
	local.LookupPositions(want, ids, 4, 3)
	if !equalBits(got, want) {
		t.Fatal("LookupPositions differs from store")
	}
	rows := []int64{15, 0, 3}
	gotP, wantP := make([]float32, 3*dim), make([]float32, 3*dim)
	if err := tab.LookupPositionRows(ctx, gotP, rows); err != nil {
		t.Fatal(err)
	}
	local.LookupPositionRows(wantP, rows)
	if !equalBits(gotP, wantP) {
		t.Fatal("LookupPositionRows differs from store")
	}
	for _, c := range []struct {
		offsets []int64
		opts    *store.BagOptions
	}{
		{[]int64{0, 3, 3, 5}, nil},
		{[]int64{0, 3, 3, 5}, &store.BagOptions{Mode: store.BagMean}},
		{[]int64{0, 4, 8}, &store.BagOptions{Mode: store.BagMax, IncludeLastOffset: true}},
		{[]int64{0, 2}, &store.BagOptions{Mode: store.BagSum, PerSampleWeights: []float32{1, 2, 3, 4, 5, 6, 7, -8}}},
		{[]int64{0, 2}, &store.BagOptions{Mode: store.BagMean, PaddingIdx: new(int64(17))}},
	} {
		bags := len(c.offsets)
		if c.opts != nil && c.opts.IncludeLastOffset {
			bags--
		}
		g, w := make([]float32, bags*dim), make([]float32, bags*dim)
		if err := tab.Bag(ctx, g, ids, c.offsets, c.opts); err != nil {
			t.Fatalf("Bag %v %+v: %v", c.offsets, c.opts, err)
		}
		if err := local.Bag(w, ids, c.offsets, c.opts); err != nil {
			t.Fatal(err)
		}
		if !equalBits(g, w) {
			t.Fatalf("Bag %v %+v differs from store", c.offsets, c.opts)
		}
	}
	// A large batch, through the same connection.
	big := make([]int64, 8192)
	for i := range big {
		big[i] = int64(i*7919) % 3000
	}
	gotB, wantB := make([]float32, len(big)*dim), make([]float32, len(big)*dim)
	if err := tab.Lookup(ctx, gotB, big); err != nil {
		t.Fatal(err)
	}
	local.Lookup(wantB, big)
	if !equalBits(gotB, wantB) {
		t.Fatal("large Lookup differs from store")
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for sequential calls; keep-alive should reuse one", n)
	}
}

func TestClientErrors(t *testing.T) {
	url, _, _ := serve(t, server.Config{MaxTokens: 100}, nil)
	ctx := context.Background()
	if _, err := Open(ctx, url, "nope", nil); err == nil {
		t.Fatal("Open of an unknown table succeeded")
	} else if se := new(Error); !errors.As(err, &se) || se.Status != 404 || se.Code != "model_not_found" {
		t.Fatalf("unknown table: %v", err)
	}
	if _, err := Open(ctx, "ftp://x", "t", nil); err == nil {
		t.Fatal("a non-HTTP URL was accepted")
	}
	tab, err := Open(ctx, url, "t", nil)
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float32, 2*40)
	var ie *store.IndexError
	if err := tab.Lookup(ctx, dst, []int64{1, 3000}); !errors.As(err, &ie) || ie.Index != 1 || ie.Value != 3000 {
		t.Fatalf("id out of range: %v", err)
	}
	if err := tab.Lookup(ctx, dst[:3], []int64{1, 2}); err == nil {
		t.Fatal("a short output was accepted")
	}
	// Arguments are checked here, as store.Table checks them
	// (store.Bounds), with the store's errors, before any request.
	var pe *store.PositionError
	if err := tab.LookupPositions(ctx, dst, []int64{1, 2}, 2, 15); !errors.As(err, &pe) || pe.Position != 16 {
		t.Fatalf("positions out of range: %v", err)
	}
	var se *Error
	if err := tab.Bag(ctx, make([]float32, 40), []int64{1}, []int64{0}, &store.BagOptions{Mode: store.BagMean, PerSampleWeights: []float32{1}}); err == nil || errors.As(err, &se) ||
		!strings.Contains(err.Error(), "per-sample weights need mode sum") {
		t.Fatalf("weights with mean: %v", err)
	}
	big := make([]int64, 101)
	if err := tab.Lookup(ctx, make([]float32, 101*40), big); !errors.As(err, &se) || se.Status != 413 {
		t.Fatalf("over the server's token limit: %v", err)
	}
	if err := tab.Bag(ctx, make([]float32, 40), make([]int64, 101), []int64{0}, nil); !errors.As(err, &se) || se.Status != 413 {
		t.Fatalf("a bag over the server's token limit: %v", err)
	}
}

func TestClientRetriesAndDeadlines(t *testing.T) {
	var fail atomic.Int64 // requests still to fail with 503
	var slow atomic.Bool
	url, local, _ := serve(t, server.Config{}, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v1/lookup" && fail.Add(-1) >= 0 {
				w.WriteHeader(http.StatusServiceUnavailable)
				io.WriteString(w, `{"error":{"message":"warming up","type":"server_error","param":null,"code":null}}`)
				return
			}
			if slow.Load() {
				time.Sleep(300 * time.Millisecond)
			}
			h.ServeHTTP(w, r)
		})
	})
	ctx := context.Background()
	tab, err := Open(ctx, url, "t", &Options{Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ids := []int64{4, 5}
	got, want := make([]float32, 80), make([]float32, 80)
	local.Lookup(want, ids)
	fail.Store(2)
	if err := tab.Lookup(ctx, got, ids); err != nil || !equalBits(got, want) {
		t.Fatalf("two 503s then success, with 2 retries: %v", err)
	}
	fail.Store(3)
	var se *Error
	if err := tab.Lookup(ctx, got, ids); !errors.As(err, &se) || se.Status != 503 || se.Message != "warming up" {
		t.Fatalf("three 503s with 2 retries: %v", err)
	}
	fail.Store(0)
	slow.Store(true)
	dctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := tab.Lookup(dctx, got, ids); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a call past its deadline: %v", err)
	}
	if d := time.Since(start); d > 250*time.Millisecond {
		t.Fatalf("a 50 ms deadline returned after %v", d)
	}
	// A server that is down: connection refused, retried, then reported.
	slow.Store(false)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	if _, err := Open(ctx, dead, "t", &Options{Backoff: time.Millisecond}); err == nil {
		t.Fatal("Open of a closed port succeeded")
	}
}

func TestClientAPIKey(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "keys")
	if err := writeKeys(keyFile, "k1\n"); err != nil {
		t.Fatal(err)
	}
	url, _, _ := serve(t, server.Config{APIKeyFile: keyFile}, nil)
	var se *Error
	if _, err := Open(context.Background(), url, "t", nil); !errors.As(err, &se) || se.Status != 401 {
		t.Fatalf("without the key: %v", err)
	}
	tab, err := Open(context.Background(), url, "t", &Options{APIKey: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := tab.Lookup(context.Background(), make([]float32, 40), []int64{1}); err != nil {
		t.Fatal(err)
	}
}

func writeKeys(path, keys string) error { return os.WriteFile(path, []byte(keys), 0o600) }

func TestLocalSource(t *testing.T) {
	url, local, _ := serve(t, server.Config{}, nil)
	remote, err := Open(context.Background(), url, "t", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer remote.Close()
	ids := []int64{5, 2999, 0, 5}
	for _, src := range []Source{Local(local), remote} {
		if src.Rows() != 3000 || src.Dim() != 40 || src.Positions() != 16 || src.PositionOffset() != 0 {
			t.Fatalf("%T: shape %d x %d", src, src.Rows(), src.Dim())
		}
		got, want := make([]float32, 4*40), make([]float32, 4*40)
		if err := src.LookupPositions(context.Background(), got, ids, 2, 3); err != nil {
			t.Fatal(err)
		}
		local.LookupPositions(want, ids, 2, 3)
		if !equalBits(got, want) {
			t.Fatalf("%T: positional lookup differs from the table", src)
		}
		var ie *store.IndexError
		if err := src.CheckIDs([]int64{1, 3000}); !errors.As(err, &ie) || ie.Index != 1 {
			t.Fatalf("%T: CheckIDs: %v", src, err)
		}
	}
}

// TestClientUnixSocket looks rows up from a server on a unix socket, as
// embquery serve --addr unix:PATH listens, through unix:// base URLs.
func TestClientUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "emb.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Skipf("no unix sockets here: %v", err)
	}
	_, local, conns := serveOn(t, ln, server.Config{}, nil)
	ctx := context.Background()
	ids := make([]int64, 8192)
	for i := range ids {
		ids[i] = int64(i*7919) % 3000
	}
	want := make([]float32, len(ids)*40)
	local.Lookup(want, ids)
	for _, base := range []string{"unix://" + sock, "unix:" + sock} {
		tab, err := Open(ctx, base, "t", nil)
		if err != nil {
			t.Fatalf("%s: %v", base, err)
		}
		got := make([]float32, len(ids)*40)
		for range 3 {
			if err := tab.Lookup(ctx, got, ids); err != nil {
				t.Fatalf("%s: %v", base, err)
			}
			if !equalBits(got, want) {
				t.Fatalf("%s: rows differ from the store's", base)
			}
		}
		tab.Close()
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections for two tables' sequential calls; keep-alive should reuse one each", n)
	}
	for _, c := range []struct {
		base string
		opts *Options
	}{
		{"unix://host/x.sock", nil},
		{"unix://", nil},
		{"unix://" + sock, &Options{HTTPClient: http.DefaultClient}},
	} {
		if _, err := Open(ctx, c.base, "t", c.opts); err == nil {
			t.Errorf("%s accepted", c.base)
		}
	}
	// A socket no server listens on: connection refused, reported.
	if _, err := Open(ctx, "unix://"+sock+".none", "t", &Options{Backoff: time.Millisecond}); err == nil || !Temporary(err) {
		t.Errorf("a missing socket: %v", err)
	}
}
