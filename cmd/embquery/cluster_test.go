//go:build unix

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/embstore/embstore/client"
	"github.com/embstore/embstore/client/cluster"
	"github.com/embstore/embstore/internal/registry"
	"github.com/embstore/embstore/internal/testing/etcdtest"
	"github.com/embstore/embstore/pack"
	"github.com/embstore/embstore/store"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// A proc is an embquery process (this test binary acting as embquery) in a
// process group of its own, killed when the test ends.
type proc struct {
	args   []string
	cmd    *exec.Cmd
	addr   string
	stderr *syncBuffer
	done   chan struct{}
}

// startEmbquery runs embquery with args and waits for "listening on ADDR".
func startEmbquery(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{args: args}
	p.start(t)
	t.Cleanup(func() { p.kill() })
	return p
}

func (p *proc) start(t *testing.T) {
	t.Helper()
	p.cmd = exec.Command(os.Args[0], p.args...)
	p.cmd.Env = append(os.Environ(), "EMBQUERY_TEST_AS_MAIN=1")
	etcdtest.SetGroup(p.cmd)
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.stderr = &syncBuffer{}
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.done = make(chan struct{})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(p.cmd, p.done)
	select {
	case line := <-lines:
		addr, ok := strings.CutPrefix(line, "listening on ")
		if !ok {
			t.Fatalf("first line %q, want \"listening on ADDR\"", line)
		}
		p.addr = addr
	case <-p.done:
		t.Fatalf("embquery %v exited before listening\n%s", p.args, p.stderr)
	case <-time.After(20 * time.Second):
		t.Fatalf("embquery %v: no \"listening on\" line after 20 s\n%s", p.args, p.stderr)
	}
}

// kill sends SIGKILL to the process group and waits for the process.
func (p *proc) kill() {
	if p.cmd != nil && p.done != nil {
		etcdtest.SignalGroup(p.cmd, true)
		<-p.done
	}
}

// seeded writes a seeded table with positions.
func seeded(t *testing.T, path string, rows int64, seed uint64) *store.Table {
	t.Helper()
	spec := pack.SeedSpec{Rows: rows, Dim: 32, Seed: seed, Positions: 16}
	if err := pack.Seed(context.Background(), path, spec, nil); err != nil {
		t.Fatal(err)
	}
	tab, err := store.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tab.Close() })
	return tab
}

func bitsEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// registered returns the registry keys of table t.
func registered(t *testing.T, cli *clientv3.Client) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, registry.TablePrefix(registry.DefaultPrefix, "t"), clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, kv := range resp.Kvs {
		out = append(out, string(kv.Key))
	}
	return out
}

func eventually(t *testing.T, what string, within time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("not after %v: %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

// load runs lookups of random batches through a Source until stopped,
// checking each answer against the tables of the versions it may come
// from, and counts the answers of each version, failures and answers that
// match no version (mixed, or wrong).
type load struct {
	name     string
	src      client.Source
	versions []*store.Table // index v-1: version v
	ok       []atomic.Int64
	failed   atomic.Int64
	wrong    atomic.Int64
	mu       sync.Mutex
	errs     []string
	stop     chan struct{}
	wg       sync.WaitGroup
}

func startLoad(name string, src client.Source, versions []*store.Table, workers int) *load {
	l := &load{name: name, src: src, versions: versions, ok: make([]atomic.Int64, len(versions)), stop: make(chan struct{})}
	for w := range workers {
		l.wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 99))
			ids := make([]int64, 64)
			got, want := make([]float32, 64*32), make([]float32, 64*32)
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				for i := range ids {
					ids[i] = rng.Int64N(2000) // in every version; both shards
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err := l.src.Lookup(ctx, got, ids)
				cancel()
				if err != nil {
					l.failed.Add(1)
					l.mu.Lock()
					l.errs = append(l.errs, err.Error())
					l.mu.Unlock()
					continue
				}
				matched := false
				for v, tab := range l.versions {
					tab.Lookup(want, ids)
					if bitsEqual(got, want) {
						l.ok[v].Add(1)
						matched = true
						break
					}
				}
				if !matched {
					l.wrong.Add(1)
				}
			}
		})
	}
	return l
}

func (l *load) count(v int) int64 { return l.ok[v-1].Load() }

// finish stops the load and fails the test on any failed or wrong answer.
func (l *load) finish(t *testing.T) {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	var total int64
	var byVersion []int64
	for v := range l.ok {
		total += l.ok[v].Load()
		byVersion = append(byVersion, l.ok[v].Load())
	}
	t.Logf("%s: %d answers (by version: %v), %d failed, %d matching no version", l.name, total, byVersion, l.failed.Load(), l.wrong.Load())
	if l.failed.Load() > 0 {
		t.Errorf("%s: %d requests failed, the first: %s", l.name, l.failed.Load(), l.errs[0])
	}
	if l.wrong.Load() > 0 {
		t.Errorf("%s: %d answers match no version (mixed versions, or wrong rows)", l.name, l.wrong.Load())
	}
}

// TestCluster runs a cluster on loopback: a 3-member etcd, 2 shards x 2
// replicas of embquery serve --etcd, embquery route, and the Go cluster
// client, and checks exact answers, a replica killed and restarted under
// load, an etcd member stopped, and version 2 published under load.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: starts etcd and five servers")
	}
	etcd := etcdtest.Start(t, 3)
	endpoints := strings.Join(etcd.Endpoints, ",")
	dir := t.TempDir()
	v1 := seeded(t, filepath.Join(dir, "t1.emb"), 2000, 1)
	v2 := seeded(t, filepath.Join(dir, "t2.emb"), 2100, 2)
	for v, src := range []string{"t1.emb", "t2.emb"} {
		if _, err := pack.Shard(context.Background(), filepath.Join(dir, src), filepath.Join(dir, fmt.Sprintf("v%d", v+1)), pack.ShardSpec{Name: "t", Version: uint64(v + 1), Shards: 2}, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Replica r of shard s serves directory s<s>r<r>, holding its shard of
	// version 1 now, and of version 2 later.
	copyShard := func(version, shard, replica int) {
		name := pack.ShardFileName("t", uint64(version), shard, 2)
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("v%d", version), name))
		if err != nil {
			t.Fatal(err)
		}
		d := filepath.Join(dir, fmt.Sprintf("s%dr%d", shard, replica))
		os.MkdirAll(d, 0o755)
		// Written aside and renamed, as a deployment would copy it.
		if err := os.WriteFile(filepath.Join(d, "."+name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(d, "."+name), filepath.Join(d, name)); err != nil {
			t.Fatal(err)
		}
	}
	var replicas [2][2]*proc
	for s := range 2 {
		for r := range 2 {
			copyShard(1, s, r)
			replicas[s][r] = startEmbquery(t, "serve", "--dir", filepath.Join(dir, fmt.Sprintf("s%dr%d", s, r)), "--dir-interval", "200ms",
				"--addr", "127.0.0.1:0", "--etcd", endpoints, "--etcd-ttl", "2s", "--log-level", "warn")
		}
	}
	router := startEmbquery(t, "route", "--etcd", endpoints, "--addr", "127.0.0.1:0", "--table", "t", "--log-level", "warn")

	cli, err := clientv3.New(clientv3.Config{Endpoints: etcd.Endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	eventually(t, "4 replicas registered", 20*time.Second, func() bool { return len(registered(t, cli)) == 4 })

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ct, err := cluster.Open(ctx, etcd.Endpoints, "t", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ct.Close()
	eventually(t, "the router serves version 1", 10*time.Second, func() bool {
		resp, err := http.Get("http://" + router.addr + "/v1/tables/t")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	rt, err := client.Open(ctx, "http://"+router.addr, "t", &client.Options{Retries: -1})
	if err != nil {
		t.Fatalf("router: %v\n%s", err, router.stderr)
	}
	defer rt.Close()

	t.Run("answers equal the unsharded table", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 5))
		for name, src := range map[string]client.Source{"cluster client": ct, "router": rt} {
			for _, n := range []int{1, 3, 100, 1000} {
				ids := make([]int64, n)
				for i := range ids {
					ids[i] = rng.Int64N(2000)
				}
				got, want := make([]float32, n*32), make([]float32, n*32)
				if err := src.Lookup(ctx, got, ids); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				v1.Lookup(want, ids)
				if !bitsEqual(got, want) {
					t.Fatalf("%s: lookup of %d ids differs from the table", name, n)
				}
				if n%4 == 0 {
					if err := src.LookupPositions(ctx, got, ids, 4, 3); err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					v1.LookupPositions(want, ids, 4, 3)
					if !bitsEqual(got, want) {
						t.Fatalf("%s: positional lookup of %d ids differs from the table", name, n)
					}
				}
				offsets := []int64{0, 0, int64(n / 3), int64(n / 2)}
				weights := make([]float32, n)
				for i := range weights {
					weights[i] = float32(rng.NormFloat64())
				}
				for _, o := range []store.BagOptions{{Mode: store.BagMax}, {Mode: store.BagSum, PerSampleWeights: weights},
					{Mode: store.BagMean, PaddingIdx: new(int64(ids[0]))}} {
					got, want := make([]float32, 4*32), make([]float32, 4*32)
					if err := src.Bag(ctx, got, ids, offsets, &o); err != nil {
						t.Fatalf("%s: bag: %v", name, err)
					}
					v1.Bag(want, ids, offsets, &o)
					for i := range got {
						// Max exact; sums and means within n 2^-24 sum|w x|
						// of each other (bounded here by |values| < 8).
						lim := 0.0
						if o.Mode != store.BagMax {
							lim = 2 * float64(n) * float64(n) * 8 * 4 * math.Pow(2, -24)
						}
						if d := math.Abs(float64(got[i] - want[i])); d > lim || (lim == 0 && math.Float32bits(got[i]) != math.Float32bits(want[i])) {
							t.Fatalf("%s: bag %v value %d: %v, want %v", name, o.Mode, i, got[i], want[i])
						}
					}
				}
			}
			rows := []int64{0, 15, 7}
			got, want := make([]float32, 3*32), make([]float32, 3*32)
			if err := src.LookupPositionRows(ctx, got, rows); err != nil {
				t.Fatal(err)
			}
			v1.LookupPositionRows(want, rows)
			if !bitsEqual(got, want) {
				t.Fatalf("%s: positional rows differ", name)
			}
		}
		// The router's OpenAI route: means, as JSON numbers.
		resp, err := http.Post("http://"+router.addr+"/v1/embeddings", "application/json",
			strings.NewReader(`{"model": "t", "input": [[1, 1999, 5], [1000]]}`))
		if err != nil {
			t.Fatal(err)
		}
		var oa struct {
			Data []struct {
				Embedding []float32 `json:"embedding"`
			} `json:"data"`
		}
		json.NewDecoder(resp.Body).Decode(&oa)
		resp.Body.Close()
		want := make([]float32, 2*32)
		v1.Bag(want, []int64{1, 1999, 5, 1000}, []int64{0, 3}, &store.BagOptions{Mode: store.BagMean})
		if len(oa.Data) != 2 || math.Abs(float64(oa.Data[0].Embedding[0]-want[0])) > 1e-6 || !bitsEqual(oa.Data[1].Embedding, want[32:]) {
			t.Fatalf("router /v1/embeddings: %+v, want %v", oa, want)
		}
		// The shards report their range.
		var tables struct {
			Data []struct {
				Shard *client.ShardInfo `json:"shard"`
			} `json:"data"`
		}
		r2, err := http.Get("http://" + replicas[1][0].addr + "/v1/tables")
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(r2.Body).Decode(&tables)
		r2.Body.Close()
		if len(tables.Data) != 1 || tables.Data[0].Shard == nil || *tables.Data[0].Shard != (client.ShardInfo{Table: "t", Version: 1, Index: 1, Count: 2, RowStart: 1000, RowEnd: 2000, RowsTotal: 2000}) {
			t.Fatalf("shard 1's /v1/tables: %+v", tables)
		}
	})

	t.Run("a replica killed under load, then restarted", func(t *testing.T) {
		lc := startLoad("cluster client", ct, []*store.Table{v1}, 2)
		lr := startLoad("router", rt, []*store.Table{v1}, 2)
		time.Sleep(300 * time.Millisecond)
		victim := replicas[0][0]
		member := victim.addr
		victim.kill()
		took := eventually(t, "the killed replica's lease expired", 15*time.Second, func() bool {
			return !slices.ContainsFunc(registered(t, cli), func(k string) bool { return strings.HasSuffix(k, "/"+member) })
		})
		t.Logf("the killed replica's key expired %v after SIGKILL (TTL 2 s)", took)
		eventually(t, "the client dropped the replica", 5*time.Second, func() bool {
			s, err := ct.Snapshot()
			return err == nil && len(s.Info().Shards[0].Replicas) == 1
		})
		time.Sleep(300 * time.Millisecond)
		// Restarted on the same address: it registers again and takes
		// requests.
		victim.args = slices.Clone(victim.args)
		victim.args[slices.Index(victim.args, "127.0.0.1:0")] = member
		victim.start(t)
		eventually(t, "the restarted replica registered", 15*time.Second, func() bool { return len(registered(t, cli)) == 4 })
		eventually(t, "the client uses the restarted replica", 5*time.Second, func() bool {
			s, err := ct.Snapshot()
			return err == nil && len(s.Info().Shards[0].Replicas) == 2
		})
		time.Sleep(300 * time.Millisecond)
		lc.finish(t)
		lr.finish(t)
		if lc.count(1) < 20 || lr.count(1) < 20 {
			t.Errorf("too few answers under load to tell: %d and %d", lc.count(1), lr.count(1))
		}
	})

	t.Run("an etcd member stopped", func(t *testing.T) {
		lc := startLoad("cluster client", ct, []*store.Table{v1}, 2)
		lr := startLoad("router", rt, []*store.Table{v1}, 1)
		etcd.Stop(0)
		// Longer than the lease TTL: the servers keep their leases alive
		// through the other members.
		time.Sleep(3 * time.Second)
		ecli, err := clientv3.New(clientv3.Config{Endpoints: etcd.Endpoints[1:], DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
		if err != nil {
			t.Fatal(err)
		}
		defer ecli.Close()
		if keys := registered(t, ecli); len(keys) != 4 {
			t.Errorf("with one etcd member stopped, %d keys registered, want 4: %v", len(keys), keys)
		}
		lc.finish(t)
		lr.finish(t)
		etcd.Restart(0)
	})

	t.Run("version 2 published under load", func(t *testing.T) {
		lc := startLoad("cluster client", ct, []*store.Table{v1, v2}, 2)
		lr := startLoad("router", rt, []*store.Table{v1, v2}, 2)
		// Shard 0 of version 2 first: not complete, so not used.
		copyShard(2, 0, 0)
		copyShard(2, 0, 1)
		eventually(t, "shard 0 of version 2 registered", 15*time.Second, func() bool { return len(registered(t, cli)) == 6 })
		time.Sleep(500 * time.Millisecond)
		if ct.Version() != 1 || lc.count(2) != 0 || lr.count(2) != 0 {
			t.Fatalf("version %d used, %d and %d answers from version 2, with half of it published", ct.Version(), lc.count(2), lr.count(2))
		}
		copyShard(2, 1, 0)
		eventually(t, "clients on version 2", 15*time.Second, func() bool { return ct.Version() == 2 })
		eventually(t, "the router on version 2", 15*time.Second, func() bool { return lr.count(2) > 10 && lc.count(2) > 10 })
		copyShard(2, 1, 1)
		eventually(t, "all of version 2 registered", 15*time.Second, func() bool { return len(registered(t, cli)) == 8 })
		lc.finish(t)
		lr.finish(t)
		var info struct {
			Generation uint64 `json:"generation"`
			Rows       int64  `json:"rows"`
		}
		resp, err := http.Get("http://" + router.addr + "/v1/tables/t")
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&info)
		resp.Body.Close()
		if info.Generation != 2 || info.Rows != 2100 {
			t.Errorf("router /v1/tables/t: version %d of %d rows, want 2 of 2100", info.Generation, info.Rows)
		}
	})

	// SIGTERM deregisters at once.
	p := replicas[1][1]
	etcdtest.SignalGroup(p.cmd, false)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatal("a replica did not stop on SIGTERM")
	}
	if n := len(registered(t, cli)); n != 6 {
		t.Errorf("%d keys after a replica's SIGTERM, want 6 (its two gone at once)", n)
	}
}
