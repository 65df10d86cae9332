package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/registry"
	"github.com/embstore/embstore/internal/server"
	"github.com/embstore/embstore/internal/testing/etcdtest"
	"github.com/embstore/embstore/pack"
	"github.com/embstore/embstore/store"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// makeTable writes a table of random rows with layout l.
func makeTable(t *testing.T, path string, l format.Layout, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	fw, err := format.Create(path, l)
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Abort()
	vals := make([]float32, l.Rows*int64(l.Dim))
	for i := range vals {
		vals[i] = float32(rng.NormFloat64())
	}
	if err := fw.WriteTokens(vals); err != nil {
		t.Fatal(err)
	}
	if l.Positions > 0 {
		pos := make([]float32, l.Positions*int64(l.Dim))
		for i := range pos {
			pos[i] = float32(rng.NormFloat64())
		}
		if err := fw.WritePositions(pos); err != nil {
			t.Fatal(err)
		}
	}
	if err := fw.Commit(); err != nil {
		t.Fatal(err)
	}
}

// A fakeReplica is a real server of one shard file, behind a switch that
// can make it fail or stall.
type fakeReplica struct {
	url      string
	requests atomic.Int64
	mode     atomic.Int32 // 0 serve, 1 answer 503, 2 cut the connection, 3 stall
	release  chan struct{}
}

const (
	serveOK = iota
	serve503
	serveCut
	serveStall
)

// shardCluster shards a table of layout l into n shards of version v, each
// served by replicas servers, and returns the registry entries of them, the
// replicas by shard, and the unsharded table.
func shardCluster(t *testing.T, l format.Layout, seed uint64, n, replicas int, v uint64) (map[string]*registry.Entry, [][]*fakeReplica, *store.Table) {
	t.Helper()
	src := filepath.Join(t.TempDir(), "t.emb")
	makeTable(t, src, l, seed)
	return shardFile(t, src, n, replicas, v)
}

// shardFile is shardCluster of the table file src.
func shardFile(t *testing.T, src string, n, replicas int, v uint64) (map[string]*registry.Entry, [][]*fakeReplica, *store.Table) {
	t.Helper()
	dir := t.TempDir()
	m, err := pack.Shard(context.Background(), src, filepath.Join(dir, "s"), pack.ShardSpec{Name: "t", Version: v, Shards: n}, nil)
	if err != nil {
		t.Fatal(err)
	}
	entries := map[string]*registry.Entry{}
	var byShard [][]*fakeReplica
	for _, ms := range m.Shards {
		var rs []*fakeReplica
		for range replicas {
			srv, err := server.New(server.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Follow: store.FollowOptions{Interval: -1}})
			if err != nil {
				t.Fatal(err)
			}
			served := strings.TrimSuffix(ms.File, ".emb")
			if err := srv.AddTable(served, filepath.Join(dir, "s", ms.File)); err != nil {
				t.Fatal(err)
			}
			fr := &fakeReplica{release: make(chan struct{})}
			h := srv.Handler()
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fr.requests.Add(1)
				switch fr.mode.Load() {
				case serve503:
					http.Error(w, `{"error":{"message":"busy"}}`, http.StatusServiceUnavailable)
					return
				case serveCut:
					panic(http.ErrAbortHandler)
				case serveStall:
					select {
					case <-fr.release:
					case <-r.Context().Done():
						return
					}
				}
				h.ServeHTTP(w, r)
			}))
			t.Cleanup(func() { close(fr.release); hs.Close(); srv.Close() })
			fr.url = hs.URL
			info := srv.TableInfos()[0]
			e := &registry.Entry{Table: "t", Version: v, Shard: ms.Index, Shards: n, RowStart: ms.RowStart, RowEnd: ms.RowEnd,
				RowsTotal: m.Rows, Dim: m.Dim, DType: m.DType, Positions: m.Positions, PositionOffset: info.PositionOffset,
				TokenScale: info.TokenScale, ComputeDType: info.ComputeDType, Origin: m.Source.HeaderCRC,
				URL: hs.URL, Served: served, Member: strings.TrimPrefix(hs.URL, "http://")}
			entries[e.Key(registry.DefaultPrefix)] = e
			rs = append(rs, fr)
		}
		byShard = append(byShard, rs)
	}
	whole, err := store.Open(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { whole.Close() })
	return entries, byShard, whole
}

// testCluster is a Cluster fed by hand instead of by etcd.
func testCluster(t *testing.T, opts Options, entries map[string]*registry.Entry) (*Cluster, *Table) {
	t.Helper()
	c := &Cluster{opts: opts, tables: map[string]*state{}, log: slog.New(slog.DiscardHandler), hc: newHTTPClient()}
	if c.opts.Prefix == "" {
		c.opts.Prefix = registry.DefaultPrefix
	}
	if c.opts.Timeout == 0 {
		c.opts.Timeout = 10 * time.Second
	}
	if c.opts.MinHedge == 0 {
		c.opts.MinHedge = time.Millisecond
	}
	if c.opts.MaxPartIDs == 0 {
		c.opts.MaxPartIDs = 65536
	}
	if c.opts.MaxPartBags == 0 {
		c.opts.MaxPartBags = 2048
	}
	c.update(entries)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	tab, err := c.Open(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	return c, tab
}

func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: value %d is %v (%#08x), want %v (%#08x)", what, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		}
	}
}

func randomIDs(rng *rand.Rand, n int, rows int64) []int64 {
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = rng.Int64N(rows)
	}
	return ids
}

func TestClusterMatchesTable(t *testing.T) {
	layouts := []struct {
		name string
		l    format.Layout
	}{
		{"f32", format.Layout{Rows: 1000, Dim: 24, Positions: 16}},
		{"int8 bf16-compute scaled offset", format.Layout{Rows: 777, Dim: 20, DType: format.Int8, Positions: 12, PositionOffset: 2,
			TokenScale: 4.5, ComputeDType: format.BF16}},
		{"f16 f16-compute", format.Layout{Rows: 300, Dim: 9, DType: format.F16, Positions: 8, ComputeDType: format.F16}},
	}
	ctx := context.Background()
	for li, lc := range layouts {
		t.Run(lc.name, func(t *testing.T) {
			entries, _, whole := shardCluster(t, lc.l, uint64(li), 3, 2, 1)
			// Small parts, so that the splitting into several requests a
			// shard is exercised too.
			_, tab := testCluster(t, Options{MaxPartIDs: 50, MaxPartBags: 7}, entries)
			if tab.Rows() != whole.Header().Rows || tab.Dim() != whole.Header().Dim || tab.Positions() != whole.Header().Positions() || tab.PositionOffset() != whole.Header().PositionOffset {
				t.Fatalf("shape %d x %d + %d from %d, want %d x %d + %d from %d", tab.Rows(), tab.Dim(), tab.Positions(), tab.PositionOffset(),
					whole.Header().Rows, whole.Header().Dim, whole.Header().Positions(), whole.Header().PositionOffset)
			}
			rng := rand.New(rand.NewPCG(uint64(li), 2))
			dim := whole.Header().Dim
			for _, n := range []int{1, 2, 7, 333} {
				ids := randomIDs(rng, n, whole.Header().Rows)
				got, want := make([]float32, n*dim), make([]float32, n*dim)
				if err := tab.Lookup(ctx, got, ids); err != nil {
					t.Fatal(err)
				}
				whole.Lookup(want, ids)
				sameBits(t, fmt.Sprintf("lookup of %d", n), got, want)
			}
			// Positions: sequences, a start, the last rows.
			for _, c := range []struct {
				seqLen int
				seqs   int
				start  int64
			}{{1, 5, 0}, {4, 30, 3}, {int(whole.Header().Positions() - whole.Header().PositionOffset), 3, 0}} {
				ids := randomIDs(rng, c.seqLen*c.seqs, whole.Header().Rows)
				got, want := make([]float32, len(ids)*dim), make([]float32, len(ids)*dim)
				if err := tab.LookupPositions(ctx, got, ids, c.seqLen, c.start); err != nil {
					t.Fatal(err)
				}
				if err := whole.LookupPositions(want, ids, c.seqLen, c.start); err != nil {
					t.Fatal(err)
				}
				sameBits(t, fmt.Sprintf("positions %+v", c), got, want)
			}
			rows := []int64{0, whole.Header().Positions() - 1, 3, 3}
			got, want := make([]float32, len(rows)*dim), make([]float32, len(rows)*dim)
			if err := tab.LookupPositionRows(ctx, got, rows); err != nil {
				t.Fatal(err)
			}
			whole.LookupPositionRows(want, rows)
			sameBits(t, "positional rows", got, want)

			checkBags(t, tab, whole, rng)
		})
	}
}

// TestClusterBagMaxSpecials checks the cluster's max where order decides
// (NaN, signed zeros) in the cases its documentation says are exact: the
// part holding a bag's first id starts the maximum, and a value of another
// part replaces it only if strictly greater, as torch and the table do.
func TestClusterBagMaxSpecials(t *testing.T) {
	nan := float32(math.NaN())
	negZero := float32(math.Copysign(0, -1))
	// One value per row; rows 0-3 go to shard 0, rows 4-7 to shard 1.
	vals := []float32{1, negZero, 5, -3, nan, 0, 2, -7}
	src := filepath.Join(t.TempDir(), "t.emb")
	fw, err := format.Create(src, format.Layout{Rows: int64(len(vals)), Dim: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := fw.WriteTokens(vals); err != nil {
		t.Fatal(err)
	}
	if err := fw.Commit(); err != nil {
		t.Fatal(err)
	}
	entries, _, whole := shardFile(t, src, 2, 1, 1)
	_, tab := testCluster(t, Options{}, entries)
	for _, ids := range [][]int64{
		{4, 0, 2}, // NaN first (shard 1): NaN, as torch
		{0, 4, 2}, // NaN after the first value: ignored
		{3, 4, 6}, // NaN first of shard 1's part but not of the bag: the documented exception
		{1, 5},    // -0 then +0 across shards: -0 first
		{5, 1},    // +0 then -0 across shards: +0 first
	} {
		got, want := make([]float32, 1), make([]float32, 1)
		if err := tab.Bag(context.Background(), got, ids, []int64{0}, &store.BagOptions{Mode: store.BagMax}); err != nil {
			t.Fatal(err)
		}
		if err := whole.Bag(want, ids, []int64{0}, &store.BagOptions{Mode: store.BagMax}); err != nil {
			t.Fatal(err)
		}
		if ids[0] == 3 {
			// The documented exception: shard 1's part {NaN, 2} pools to
			// NaN, which does not replace -3, so 2 is not counted.
			if got[0] != -3 || want[0] != 2 {
				t.Errorf("ids %v: cluster %v, table %v; want -3 and 2", ids, got[0], want[0])
			}
			continue
		}
		sameBits(t, fmt.Sprintf("max of %v", ids), got, want)
	}
}

// checkBags compares bags from the cluster with the whole table's: max
// exactly, sums and means within the documented bound.
func checkBags(t *testing.T, tab *Table, whole *store.Table, rng *rand.Rand) {
	t.Helper()
	dim := whole.Header().Dim
	ids := randomIDs(rng, 400, whole.Header().Rows)
	ids[5], ids[6] = 17, 17 // padding, when padding is 17
	offsets := []int64{0, 0, 3, 4, 4, 150, 151, 399}
	weights := make([]float32, len(ids))
	for i := range weights {
		weights[i] = float32(rng.NormFloat64())
	}
	for _, o := range []store.BagOptions{
		{Mode: store.BagSum}, {Mode: store.BagMean}, {Mode: store.BagMax},
		{Mode: store.BagSum, PerSampleWeights: weights},
		{Mode: store.BagMean, PaddingIdx: new(int64(17))},
		{Mode: store.BagMax, PaddingIdx: new(int64(17 - whole.Header().Rows))},
		{Mode: store.BagMean, IncludeLastOffset: true},
	} {
		bags := len(offsets)
		if o.IncludeLastOffset {
			bags--
		}
		got, want := make([]float32, bags*dim), make([]float32, bags*dim)
		if err := tab.Bag(context.Background(), got, ids, offsets, &o); err != nil {
			t.Fatalf("%+v: %v", o, err)
		}
		if err := whole.Bag(want, ids, offsets, &o); err != nil {
			t.Fatal(err)
		}
		if o.Mode == store.BagMax {
			sameBits(t, fmt.Sprintf("bag %+v", o.Mode), got, want)
			continue
		}
		// The bound: n 2^-24 sum |w x| for a bag of n ids, doubled for the
		// two orders (each within it of the exact sum), and divided by n
		// for a mean.
		for b := range bags {
			lo, hi := offsets[b], int64(len(ids))
			if b+1 < len(offsets) {
				hi = offsets[b+1]
			}
			row := make([]float32, dim)
			bound := make([]float64, dim)
			n := 0
			for i := lo; i < hi; i++ {
				if o.PaddingIdx != nil && ids[i] == 17 {
					continue
				}
				n++
				whole.Lookup(row, ids[i:i+1])
				w := float32(1)
				if o.PerSampleWeights != nil {
					w = o.PerSampleWeights[i]
				}
				for j, x := range row {
					bound[j] += math.Abs(float64(w) * float64(x))
				}
			}
			for j := range dim {
				lim := 2 * float64(n) * math.Pow(2, -24) * bound[j]
				if o.Mode == store.BagMean && n > 0 {
					lim = lim/float64(n) + math.Abs(float64(want[b*dim+j]))*math.Pow(2, -23)
				}
				if d := math.Abs(float64(got[b*dim+j]) - float64(want[b*dim+j])); d > lim {
					t.Fatalf("bag %+v %d value %d: %v, want %v within %g", o.Mode, b, j, got[b*dim+j], want[b*dim+j], lim)
				}
			}
		}
	}
}

func TestClusterErrorsAreStore(t *testing.T) {
	entries, _, whole := shardCluster(t, format.Layout{Rows: 100, Dim: 4, Positions: 8, PositionOffset: 2}, 1, 2, 1, 1)
	_, tab := testCluster(t, Options{}, entries)
	ctx := context.Background()
	out := make([]float32, 3*4)
	cases := []struct {
		name      string
		got, want error
	}{
		{"id out of range", tab.Lookup(ctx, out, []int64{1, 100, 2}), whole.Lookup(out, []int64{1, 100, 2})},
		{"negative id", tab.Lookup(ctx, out, []int64{1, 2, -1}), whole.Lookup(out, []int64{1, 2, -1})},
		{"position past the table", tab.LookupPositions(ctx, out, []int64{1, 2, 3}, 3, 4), whole.LookupPositions(out, []int64{1, 2, 3}, 3, 4)},
		{"negative start", tab.LookupPositions(ctx, out, []int64{1, 2, 3}, 3, -1), whole.LookupPositions(out, []int64{1, 2, 3}, 3, -1)},
		{"short output", tab.Lookup(ctx, out[:4], []int64{1, 2}), whole.Lookup(out[:4], []int64{1, 2})},
		{"positional row", tab.LookupPositionRows(ctx, out[:4], []int64{8}), whole.LookupPositionRows(out[:4], []int64{8})},
		{"bag offsets", tab.Bag(ctx, out[:8], []int64{1, 2}, []int64{1, 2}, nil), whole.Bag(out[:8], []int64{1, 2}, []int64{1, 2}, nil)},
		{"bag padding", tab.Bag(ctx, out[:4], []int64{1}, []int64{0}, &store.BagOptions{PaddingIdx: new(int64(100))}),
			whole.Bag(out[:4], []int64{1}, []int64{0}, &store.BagOptions{PaddingIdx: new(int64(100))})},
		{"max weights", tab.Bag(ctx, out[:4], []int64{1}, []int64{0}, &store.BagOptions{Mode: store.BagMax, PerSampleWeights: []float32{1}}),
			whole.Bag(out[:4], []int64{1}, []int64{0}, &store.BagOptions{Mode: store.BagMax, PerSampleWeights: []float32{1}})},
		{"bag without offsets", tab.Bag(ctx, out[:4], []int64{1}, nil, nil), whole.Bag(out[:4], []int64{1}, nil, nil)},
	}
	for _, c := range cases {
		if c.got == nil || c.want == nil || c.got.Error() != c.want.Error() {
			t.Errorf("%s: %v, want %v", c.name, c.got, c.want)
		}
	}
	var ie *store.IndexError
	if err := tab.Lookup(ctx, out, []int64{1, 100, 2}); !errors.As(err, &ie) || ie.Index != 1 {
		t.Errorf("not an *IndexError: %v", err)
	}
}

func TestClusterFailover(t *testing.T) {
	entries, reps, whole := shardCluster(t, format.Layout{Rows: 200, Dim: 8}, 3, 2, 3, 1)
	_, tab := testCluster(t, Options{Hedge: -1}, entries)
	ctx := context.Background()
	ids := randomIDs(rand.New(rand.NewPCG(1, 1)), 100, 200)
	want := make([]float32, len(ids)*8)
	whole.Lookup(want, ids)
	check := func(what string) {
		t.Helper()
		got := make([]float32, len(ids)*8)
		if err := tab.Lookup(ctx, got, ids); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		sameBits(t, what, got, want)
	}
	// Two of the three replicas of shard 0 fail, each in its own way;
	// every call still succeeds.
	reps[0][0].mode.Store(serve503)
	reps[0][1].mode.Store(serveCut)
	for i := range 20 {
		check(fmt.Sprintf("call %d with two replicas failing", i))
	}
	// The failing replicas are avoided once they failed: most calls do not
	// try them.
	n0, n1 := reps[0][0].requests.Load(), reps[0][1].requests.Load()
	if n0+n1 > 15 {
		t.Errorf("failing replicas got %d and %d of 20 calls' requests", n0, n1)
	}
	// All three failing: the call fails once its deadline passes, naming
	// the shard.
	reps[0][2].mode.Store(serve503)
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	err := tab.Lookup(cctx, make([]float32, len(ids)*8), ids)
	var pe *PartError
	if !errors.As(err, &pe) || pe.Shard != 0 || pe.Tries < 3 || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("all replicas failing: %v", err)
	}
	// Back: served again.
	for _, r := range reps[0] {
		r.mode.Store(serveOK)
	}
	check("replicas back")
}

func TestClusterHedges(t *testing.T) {
	entries, reps, whole := shardCluster(t, format.Layout{Rows: 50, Dim: 4}, 4, 1, 2, 1)
	_, tab := testCluster(t, Options{Hedge: 20 * time.Millisecond}, entries)
	reps[0][0].mode.Store(serveStall)
	ids := []int64{1, 2, 3}
	got, want := make([]float32, 12), make([]float32, 12)
	whole.Lookup(want, ids)
	// Until the stalled replica was asked a few times (the first pick is
	// random).
	for i := 0; i < 200 && reps[0][0].requests.Load() < 3; i++ {
		start := time.Now()
		if err := tab.Lookup(context.Background(), got, ids); err != nil {
			t.Fatal(err)
		}
		sameBits(t, "hedged lookup", got, want)
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("call %d took %v with one replica stalled: not hedged", i, took)
		}
	}
	if reps[0][0].requests.Load() < 3 {
		t.Error("the stalled replica was asked less than 3 times in 200 calls: the test did not test hedging")
	}
}

func TestClusterVersions(t *testing.T) {
	e1, _, w1 := shardCluster(t, format.Layout{Rows: 100, Dim: 4}, 5, 2, 1, 1)
	e2, _, w2 := shardCluster(t, format.Layout{Rows: 120, Dim: 4}, 6, 2, 1, 2)
	eBad, _, _ := shardCluster(t, format.Layout{Rows: 120, Dim: 5}, 7, 1, 1, 3)
	all := map[string]*registry.Entry{}
	for k, v := range e1 {
		all[k] = v
	}
	c, tab := testCluster(t, Options{}, all)
	lookup := func() []float32 {
		out := make([]float32, 8)
		if err := tab.Lookup(context.Background(), out, []int64{1, 99}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	want1, want2 := make([]float32, 8), make([]float32, 8)
	w1.Lookup(want1, []int64{1, 99})
	w2.Lookup(want2, []int64{1, 99})
	// Version 2 published shard by shard: not used until complete.
	for k, v := range e2 {
		if v.Shard == 0 {
			all[k] = v
		}
	}
	c.update(all)
	if tab.Version() != 1 {
		t.Fatalf("version %d with half of version 2 registered", tab.Version())
	}
	sameBits(t, "version 1", lookup(), want1)
	for k, v := range e2 {
		all[k] = v
	}
	c.update(all)
	if tab.Version() != 2 || tab.Rows() != 120 {
		t.Fatalf("version %d of %d rows, want version 2", tab.Version(), tab.Rows())
	}
	sameBits(t, "version 2", lookup(), want2)
	// A version 3 of another width is not taken.
	for k, v := range eBad {
		all[k] = v
	}
	c.update(all)
	if tab.Version() != 2 {
		t.Fatalf("moved to version %d of another width", tab.Version())
	}
	// Version 2 withdrawn: back to version 1.
	for k := range e2 {
		delete(all, k)
	}
	c.update(all)
	if tab.Version() != 1 {
		t.Fatalf("version %d after version 2 was withdrawn", tab.Version())
	}
	// Nothing left: calls fail with ErrNoVersion.
	c.update(nil)
	if err := tab.Lookup(context.Background(), make([]float32, 4), []int64{1}); !errors.Is(err, ErrNoVersion) {
		t.Fatalf("no version: %v", err)
	}
}

func TestOpenThroughEtcd(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	entries, _, whole := shardCluster(t, format.Layout{Rows: 90, Dim: 4, Positions: 3}, 8, 3, 1, 1)
	cli, err := clientv3.New(clientv3.Config{Endpoints: etcd.Endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var keys []string
	for k, e := range entries {
		b, _ := json.Marshal(e)
		if _, err := cli.Put(ctx, k, string(b)); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	c, err := Connect(ctx, etcd.Endpoints, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	changes := c.Notify()
	tab, err := c.Open(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Tables(); len(got) != 1 || got[0] != "t" {
		t.Fatalf("tables %v", got)
	}
	got, want := make([]float32, 8), make([]float32, 8)
	if err := tab.Lookup(ctx, got, []int64{0, 89}); err != nil {
		t.Fatal(err)
	}
	whole.Lookup(want, []int64{0, 89})
	sameBits(t, "lookup through etcd", got, want)
	// A shard deregistered: the table is no longer available.
	if _, err := cli.Delete(ctx, keys[0]); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changes:
	case <-ctx.Done():
		t.Fatal("no change notified")
	}
	for len(c.Tables()) != 0 && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	if err := tab.Lookup(ctx, got, []int64{0, 89}); !errors.Is(err, ErrNoVersion) {
		t.Fatalf("a shard gone: %v", err)
	}
	// Open of an unknown table waits, then says why.
	short, cancel2 := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel2()
	if _, err := Open(short, etcd.Endpoints, "nope", nil); !errors.Is(err, ErrNoVersion) {
		t.Fatalf("unknown table: %v", err)
	}
}
