// Package cluster looks rows up in a table sharded over several servers,
// found through etcd: the cluster mode of the embstore client.
//
//	t, err := cluster.Open(ctx, []string{"http://etcd-0:2379"}, "gpt2", nil)
//	if err != nil { ... }
//	defer t.Close()
//	out := make([]float32, len(ids)*t.Dim())
//	err = t.Lookup(ctx, out, ids)
//
// A table is split into row ranges by embpack shard; each shard is served
// by one or more replicas (embquery serve --etcd ... --advertise URL), which
// register it in etcd under a lease, one key per replica:
// /embstore/tables/NAME/VERSION/SHARD/MEMBER, holding the shard's range, the
// table's shape and the replica's URL (Options.Prefix changes /embstore/). The client watches the registry and, for each call, splits the
// batch by row range, sends each shard's part to a live replica of that
// shard over the binary routes (keep-alive connections, as package client),
// and writes the answers into the caller's buffer in order.
//
// Failures: a part that fails in a way another replica may not (a
// connection refused or cut, 429, 5xx, a replica that stopped serving the
// table) is sent to another replica of its shard at once, and again (after
// a short wait, to every replica) until the call's deadline. A replica that
// failed is avoided for a while (50 ms, doubling to 5 s while it keeps
// failing). Slow parts are hedged: when a part has not been answered after
// the 95th percentile of its shard's recent latencies, it is sent to a
// second replica too, and the first answer wins.
//
// Versions: a new version of a table (embpack shard --version) is published
// shard by shard as servers start serving its files. The client moves to a
// version only once every one of its shards has a live replica, and takes
// the highest such version. Every call is answered from one version (a
// Snapshot): a response never mixes two.
//
// Results equal those of the unsharded table (store.Table) bit for bit for
// lookups and positional lookups; see Table.Bag for bags. Errors for bad
// arguments are store's (*store.IndexError, *store.PositionError, ...).
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/embstore/embstore/client"
	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/internal/registry"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Options configure Connect and Open. A nil *Options means the defaults.
type Options struct {
	// Prefix is the registry's key prefix; "" means "/embstore/".
	Prefix string
	// Etcd, if set, is the etcd client to use (Close leaves it open);
	// otherwise one is made for the endpoints, with DialTimeout (0: 5 s).
	Etcd        *clientv3.Client
	DialTimeout time.Duration
	// HTTPClient sends the requests to the replicas; nil means a client of
	// its own with keep-alive connections (up to 64 idle per replica).
	HTTPClient *http.Client
	// APIKey, if set, is sent to the replicas as a bearer key.
	APIKey string
	// Timeout bounds a call whose context has no deadline; 0 means 10 s.
	Timeout time.Duration
	// Hedge is when a slow part is sent to a second replica: 0 means after
	// the 95th percentile of the shard's last 256 answers (once 20 were
	// measured), at least MinHedge (0: 1 ms); a positive value a fixed
	// delay; a negative one never.
	Hedge    time.Duration
	MinHedge time.Duration
	// MaxPartIDs and MaxPartBags bound one request to a replica (the
	// servers' --max-tokens and --max-inputs, 300000 and 2048 by default,
	// must allow them); 0 means 65536 ids and 2048 bags.
	MaxPartIDs  int
	MaxPartBags int
	Logger      *slog.Logger // nil: discard
}

// Errors of calls that could not be answered.
var (
	// ErrNoVersion: no version of the table has a live replica of every
	// shard (or the table is not registered).
	ErrNoVersion = errors.New("no version of the table has a live replica of every shard")
	// ErrClosed: the Table or Cluster was closed.
	ErrClosed = errors.New("embstore cluster: closed")
)

// A PartError is a part of a call that no replica of its shard answered
// before the deadline; Err is the last failure.
type PartError struct {
	Table   string
	Version uint64
	Shard   int
	Tries   int
	Err     error
}

func (e *PartError) Error() string {
	return fmt.Sprintf("embstore cluster: table %s version %d shard %d: %d tries failed, the last: %v", e.Table, e.Version, e.Shard, e.Tries, e.Err)
}

func (e *PartError) Unwrap() error { return e.Err }

// A Cluster is a connection to a registry: it watches the tables registered
// under its prefix and opens them. It is safe for concurrent use.
type Cluster struct {
	opts    Options
	log     *slog.Logger
	etcd    *clientv3.Client
	ownEtcd bool
	hc      *http.Client
	ownHC   bool
	cancel  context.CancelFunc
	watched chan struct{} // closed once the registry has been read
	stopped chan struct{}
	closed  atomic.Bool

	mu     sync.Mutex
	tables map[string]*state
	subs   []chan struct{}
}

// Connect connects to the etcd cluster at endpoints and watches every table
// registered there. It returns once the registry has been read, or when ctx
// ends.
func Connect(ctx context.Context, endpoints []string, opts *Options) (*Cluster, error) {
	return connect(ctx, endpoints, "", opts)
}

func connect(ctx context.Context, endpoints []string, table string, opts *Options) (*Cluster, error) {
	c := &Cluster{tables: map[string]*state{}, watched: make(chan struct{}), stopped: make(chan struct{})}
	if opts != nil {
		c.opts = *opts
	}
	o := &c.opts
	if o.Prefix == "" {
		o.Prefix = registry.DefaultPrefix
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 5 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.MinHedge <= 0 {
		o.MinHedge = time.Millisecond
	}
	if o.MaxPartIDs <= 0 {
		o.MaxPartIDs = 65536
	}
	if o.MaxPartBags <= 0 {
		o.MaxPartBags = 2048
	}
	c.log = o.Logger
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.etcd = o.Etcd
	if c.etcd == nil {
		if len(endpoints) == 0 {
			return nil, errors.New("embstore cluster: no etcd endpoints")
		}
		cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: o.DialTimeout, Logger: zap.NewNop(), Context: context.Background()})
		if err != nil {
			return nil, fmt.Errorf("embstore cluster: etcd %s: %w", strings.Join(endpoints, ","), err)
		}
		c.etcd, c.ownEtcd = cli, true
	}
	c.hc = o.HTTPClient
	if c.hc == nil {
		c.hc, c.ownHC = newHTTPClient(), true
	}
	wctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	var once sync.Once
	go func() {
		defer close(c.stopped)
		registry.Watch(wctx, c.etcd, o.Prefix, table, c.log, func(m map[string]*registry.Entry) {
			c.update(m)
			once.Do(func() { close(c.watched) })
		})
	}()
	select {
	case <-c.watched:
		return c, nil
	case <-ctx.Done():
		c.Close()
		return nil, fmt.Errorf("embstore cluster: reading the registry: %w", ctx.Err())
	}
}

// newHTTPClient returns the client of the replicas' requests: keep-alive
// connections, up to 64 idle per replica, and no transparent compression
// (float32 rows do not compress; asking for it makes servers gzip them).
func newHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   true,
	}}
}

// Close stops watching the registry and closes the connections the
// Cluster made.
func (c *Cluster) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	c.cancel()
	<-c.stopped
	if c.ownEtcd {
		c.etcd.Close()
	}
	if c.ownHC {
		c.hc.CloseIdleConnections()
	}
	return nil
}

// Tables returns the names of the tables that have a version with a live
// replica of every shard, sorted.
func (c *Cluster) Tables() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for name, st := range c.tables {
		if st.cur.Load() != nil {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Notify returns a channel that receives (without blocking the Cluster:
// one pending signal at most) whenever a table's serving version, or the
// set of tables, changes.
func (c *Cluster) Notify() <-chan struct{} {
	ch := make(chan struct{}, 1)
	c.mu.Lock()
	c.subs = append(c.subs, ch)
	c.mu.Unlock()
	return ch
}

// stopNotify drops a channel Notify returned.
func (c *Cluster) stopNotify(ch <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, s := range c.subs {
		if s == ch {
			c.subs = append(c.subs[:i], c.subs[i+1:]...)
			return
		}
	}
}

func (c *Cluster) notify() {
	for _, ch := range c.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// update takes a new reading of the registry.
func (c *Cluster) update(m map[string]*registry.Entry) {
	byTable := map[string]map[string]*registry.Entry{}
	for k, e := range m {
		if byTable[e.Table] == nil {
			byTable[e.Table] = map[string]*registry.Entry{}
		}
		byTable[e.Table][k] = e
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	changed := false
	for name, es := range byTable {
		st := c.tables[name]
		if st == nil {
			st = newState(c, name)
			c.tables[name] = st
		}
		changed = st.update(es) || changed
	}
	for name, st := range c.tables {
		if byTable[name] == nil {
			changed = st.update(nil) || changed
		}
	}
	if changed {
		c.notify()
	}
}

// Table returns the table name of the cluster, whether or not a version of
// it is served now: its calls fail with ErrNoVersion while none is.
func (c *Cluster) Table(name string) *Table {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.tables[name]
	if st == nil {
		st = newState(c, name)
		c.tables[name] = st
	}
	return &Table{c: c, st: st}
}

// Open returns the table name of the cluster, once a version of it has a
// live replica of every shard (it waits for one until ctx ends).
func (c *Cluster) Open(ctx context.Context, name string) (*Table, error) {
	ch := c.Notify()
	defer c.stopNotify(ch)
	for {
		c.mu.Lock()
		st := c.tables[name]
		c.mu.Unlock()
		if st != nil && st.cur.Load() != nil {
			return &Table{c: c, st: st}, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			why := ""
			if st != nil {
				why = st.reasons()
			}
			return nil, fmt.Errorf("embstore cluster: table %s: %w%s (waited until %v)", name, ErrNoVersion, why, ctx.Err())
		}
	}
}

// Open connects to the etcd cluster at endpoints and opens table name, as
// Connect and Cluster.Open do; the Table's Close closes the connection.
func Open(ctx context.Context, endpoints []string, name string, opts *Options) (*Table, error) {
	c, err := connect(ctx, endpoints, name, opts)
	if err != nil {
		return nil, err
	}
	t, err := c.Open(ctx, name)
	if err != nil {
		c.Close()
		return nil, err
	}
	t.own = true
	return t, nil
}

// state is what the client knows of one table: its registered replicas,
// the snapshot calls use, and latencies.
type state struct {
	c    *Cluster
	name string
	cur  atomic.Pointer[Snapshot]

	// Under c.mu:
	replicas map[string]*replica // by registry key
	dim      int                 // pinned by the first version served
	why      []string
	lat      map[[2]uint64]*latency // by version and shard
}

func newState(c *Cluster, name string) *state {
	return &state{c: c, name: name, replicas: map[string]*replica{}, lat: map[[2]uint64]*latency{}}
}

func (st *state) reasons() string {
	st.c.mu.Lock()
	defer st.c.mu.Unlock()
	if len(st.why) == 0 {
		return ""
	}
	return ": " + strings.Join(st.why, "; ")
}

// update takes the entries of the table (c.mu held) and reports whether
// the snapshot's version changed.
func (st *state) update(es map[string]*registry.Entry) bool {
	for k, r := range st.replicas {
		if e := es[k]; e == nil || *e != *r.e {
			delete(st.replicas, k)
		}
	}
	set := registry.Set{}
	for k, e := range es {
		if st.replicas[k] == nil {
			r, err := newReplica(st.c, e)
			if err != nil {
				st.c.log.Warn("ignoring a replica", "key", k, "err", err)
				continue
			}
			st.replicas[k] = r
		}
		set.Add(e)
	}
	old := st.cur.Load()
	var next *Snapshot
	st.why = st.why[:0]
	versions := make([]uint64, 0, len(set))
	for v := range set {
		versions = append(versions, v)
	}
	sort.Slice(versions, func(i, j int) bool { return versions[i] > versions[j] })
	for _, v := range versions {
		if err := set.Check(v); err != nil {
			st.why = append(st.why, fmt.Sprintf("version %d: %v", v, err))
			continue
		}
		snap := st.snapshot(v, set[v])
		if st.dim != 0 && snap.dim != st.dim {
			st.why = append(st.why, fmt.Sprintf("version %d: rows of %d values, not %d", v, snap.dim, st.dim))
			continue
		}
		next = snap
		break
	}
	if next != nil && st.dim == 0 {
		st.dim = next.dim
	}
	if next != nil {
		next.since = time.Now()
		if old != nil && old.version == next.version {
			next.since = old.since
		}
	}
	st.cur.Store(next)
	switch {
	case next == nil && old != nil:
		st.c.log.Warn("table unavailable: no version has a live replica of every shard", "table", st.name, "why", strings.Join(st.why, "; "))
	case next != nil && (old == nil || old.version != next.version):
		st.c.log.Info("serving table version", "table", st.name, "version", next.version, "shards", len(next.shards))
	}
	return (old == nil) != (next == nil) || (old != nil && next != nil && old.version != next.version)
}

// snapshot builds the snapshot of version v from its entries by shard
// (checked by registry.Set.Check; c.mu held).
func (st *state) snapshot(v uint64, shards map[int][]*registry.Entry) *Snapshot {
	first := shards[0][0]
	compute := format.DType(0)
	switch first.ComputeDType {
	case "f16":
		compute = format.F16
	case "bf16":
		compute = format.BF16
	}
	s := &Snapshot{st: st, version: v, rows: first.RowsTotal, dim: first.Dim, dtype: first.DType,
		positions: first.Positions, positionOffset: first.PositionOffset, compute: compute, scale: first.TokenScale,
		pooling: first.Pooling, normalize: first.Normalize}
	for i := range first.Shards {
		sh := shardSet{start: shards[i][0].RowStart, end: shards[i][0].RowEnd, lat: st.latency(v, i)}
		for _, e := range shards[i] {
			if r := st.replicas[e.Key(st.c.opts.Prefix)]; r != nil {
				sh.replicas = append(sh.replicas, r)
			}
		}
		sort.Slice(sh.replicas, func(a, b int) bool { return sh.replicas[a].e.Member < sh.replicas[b].e.Member })
		s.shards = append(s.shards, sh)
	}
	return s
}

func (st *state) latency(v uint64, shard int) *latency {
	k := [2]uint64{v, uint64(shard)}
	l := st.lat[k]
	if l == nil {
		l = &latency{}
		st.lat[k] = l
	}
	return l
}

// replicasOf returns the replicas registered now for shard of version v.
func (st *state) replicasOf(v uint64, shard int) []*replica {
	st.c.mu.Lock()
	defer st.c.mu.Unlock()
	var out []*replica
	for _, r := range st.replicas {
		if r.e.Version == v && r.e.Shard == shard {
			out = append(out, r)
		}
	}
	return out
}

// A replica is one server of one shard.
type replica struct {
	e         *registry.Entry
	t         *client.Table
	inflight  atomic.Int64
	fails     atomic.Int32
	failUntil atomic.Int64 // unix nanoseconds before which the replica is avoided
}

func newReplica(c *Cluster, e *registry.Entry) (*replica, error) {
	info := client.Info{Name: e.Served, Rows: e.RowEnd - e.RowStart, Dim: e.Dim, DType: e.DType,
		Positions: e.Positions, PositionOffset: e.PositionOffset, TokenScale: e.TokenScale, ComputeDType: e.ComputeDType}
	t, err := client.New(e.URL, e.Served, info, &client.Options{HTTPClient: c.hc, APIKey: c.opts.APIKey, Retries: -1})
	if err != nil {
		return nil, err
	}
	return &replica{e: e, t: t}, nil
}

func (r *replica) failed() {
	n := min(r.fails.Add(1), 8)
	r.failUntil.Store(time.Now().Add(min(50*time.Millisecond<<(n-1), 5*time.Second)).UnixNano())
}

func (r *replica) succeeded() {
	if r.fails.Load() != 0 {
		r.fails.Store(0)
		r.failUntil.Store(0)
	}
}

// latency keeps a shard's last 256 answer times and their 95th percentile.
type latency struct {
	mu   sync.Mutex
	ring [256]time.Duration
	n    int
	p95  atomic.Int64
}

func (l *latency) observe(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ring[l.n%len(l.ring)] = d
	l.n++
	if l.n >= 20 && l.n%16 == 0 || l.n == 20 {
		k := min(l.n, len(l.ring))
		s := make([]time.Duration, k)
		copy(s, l.ring[:k])
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		l.p95.Store(int64(s[k*95/100]))
	}
}

// pick returns the replica of sh to send a part to, among those not in
// tried: of two drawn at random from those not failing, the one with fewer
// requests in flight; a failing one if all are; nil if all were tried.
func pick(replicas []*replica, tried []*replica) *replica {
	now := time.Now().UnixNano()
	var ok, failing []*replica
	for _, r := range replicas {
		skip := false
		for _, t := range tried {
			if t == r {
				skip = true
				break
			}
		}
		switch {
		case skip:
		case r.failUntil.Load() > now:
			failing = append(failing, r)
		default:
			ok = append(ok, r)
		}
	}
	if len(ok) == 0 {
		ok = failing
	}
	switch len(ok) {
	case 0:
		return nil
	case 1:
		return ok[0]
	}
	a, b := ok[rand.IntN(len(ok))], ok[rand.IntN(len(ok))]
	if b.inflight.Load() < a.inflight.Load() {
		return b
	}
	return a
}
