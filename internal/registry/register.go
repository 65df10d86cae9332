package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// RegistrarConfig configures a Registrar.
type RegistrarConfig struct {
	Client *clientv3.Client
	Prefix string // DefaultPrefix if ""
	// TTL is the lease's time to live: how long the keys of a server that
	// died stay registered. etcd rounds it up to whole seconds and to its
	// minimum (1.5 election timeouts). 0 means 10 s.
	TTL time.Duration
	// Advertise is the base URL clients reach the server at, such as
	// http://10.0.0.5:8080.
	Advertise string
	// Entries returns what the server serves now; URL and Member are filled
	// in by the Registrar. It is called after each Changed and every Resync.
	Entries func() []Entry
	// Resync is how often the Registrar checks that its keys are still in
	// etcd, and puts those removed (by hand, say) again; 0 means a minute.
	Resync time.Duration
	Logger *slog.Logger // nil: discard
}

// A Registrar keeps a server's tables registered in etcd: it holds a lease
// (kept alive while the process runs), puts one key per table under it,
// updates the keys when told that the tables changed, grants a new lease
// and registers again when the old one is lost (etcd unreachable for longer
// than the TTL), and revokes the lease on Close.
type Registrar struct {
	cfg    RegistrarConfig
	member string
	log    *slog.Logger
	kick   chan struct{}
	stop   chan struct{}
	done   chan struct{}

	mu      sync.Mutex
	lease   clientv3.LeaseID
	keys    map[string]string // registered now: key -> value
	lastErr error
}

// NewRegistrar starts registering. It returns at once; registration
// proceeds (and is retried) in the background.
func NewRegistrar(cfg RegistrarConfig) (*Registrar, error) {
	if cfg.Client == nil || cfg.Entries == nil {
		return nil, errors.New("registry: a client and an Entries function are needed")
	}
	member, err := MemberOf(cfg.Advertise)
	if err != nil {
		return nil, err
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 10 * time.Second
	}
	if cfg.Resync <= 0 {
		cfg.Resync = time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Registrar{cfg: cfg, member: member, log: cfg.Logger, kick: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{}), keys: map[string]string{}}
	go r.run()
	return r, nil
}

// Changed tells the Registrar that the served tables changed. It does not
// block.
func (r *Registrar) Changed() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Keys returns the keys registered now, sorted.
func (r *Registrar) Keys() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.keys))
	for k := range r.keys {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Err returns the last error registering met, nil once it succeeded again.
func (r *Registrar) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastErr
}

// Close stops registering and revokes the lease, which removes every key
// of the server at once (within ctx; without etcd the keys expire with the
// lease's TTL).
func (r *Registrar) Close(ctx context.Context) error {
	select {
	case <-r.stop:
		return nil
	default:
	}
	close(r.stop)
	<-r.done
	r.mu.Lock()
	lease := r.lease
	r.lease, r.keys = 0, map[string]string{}
	r.mu.Unlock()
	if lease == 0 {
		return nil
	}
	_, err := r.cfg.Client.Revoke(ctx, lease)
	if err != nil {
		return fmt.Errorf("registry: revoke lease %x: %w", int64(lease), err)
	}
	r.log.Info("deregistered from etcd", "member", r.member)
	return nil
}

func (r *Registrar) run() {
	defer close(r.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resync := time.NewTicker(r.cfg.Resync)
	defer resync.Stop()
	var alive <-chan *clientv3.LeaseKeepAliveResponse
	var retry <-chan time.Time
	backoff := 100 * time.Millisecond
	for {
		err := r.sync(ctx, &alive)
		r.mu.Lock()
		r.lastErr = err
		r.mu.Unlock()
		if err != nil {
			r.log.Warn("registering in etcd failed; retrying", "err", err, "in", backoff)
			retry = time.After(backoff)
			backoff = min(2*backoff, 5*time.Second)
		} else {
			retry, backoff = nil, 100*time.Millisecond
		}
	wait:
		select {
		case <-r.stop:
			return
		case <-r.kick:
		case <-retry:
		case <-resync.C:
			r.forgetMissing(ctx)
		case _, ok := <-alive:
			if ok {
				goto wait // a keep-alive answer: nothing to do
			}
			r.mu.Lock()
			r.log.Warn("etcd lease lost; registering under a new one", "lease", fmt.Sprintf("%x", int64(r.lease)))
			r.lease, r.keys = 0, map[string]string{}
			r.mu.Unlock()
			alive = nil
		}
	}
}

// forgetMissing drops from the registered keys those no longer in etcd
// (removed by hand, say), so that the next sync puts them again.
func (r *Registrar) forgetMissing(ctx context.Context) {
	for _, k := range r.Keys() {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		resp, err := r.cfg.Client.Get(cctx, k, clientv3.WithKeysOnly())
		cancel()
		if err == nil && resp.Count == 0 {
			r.mu.Lock()
			delete(r.keys, k)
			r.mu.Unlock()
			r.log.Warn("a registered table's key was removed from etcd; putting it again", "key", k)
		}
	}
}

// sync grants a lease if there is none and brings the keys in etcd to what
// Entries returns.
func (r *Registrar) sync(ctx context.Context, alive *<-chan *clientv3.LeaseKeepAliveResponse) error {
	r.mu.Lock()
	lease := r.lease
	r.mu.Unlock()
	if lease == 0 {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		g, err := r.cfg.Client.Grant(cctx, int64((r.cfg.TTL+time.Second-1)/time.Second))
		cancel()
		if err != nil {
			return fmt.Errorf("grant lease: %w", err)
		}
		ch, err := r.cfg.Client.KeepAlive(ctx, g.ID)
		if err != nil {
			return fmt.Errorf("keep lease alive: %w", err)
		}
		*alive = ch
		lease = g.ID
		r.mu.Lock()
		r.lease = lease
		r.mu.Unlock()
		r.log.Info("registered with etcd", "member", r.member, "lease", fmt.Sprintf("%x", int64(lease)), "ttl", g.TTL)
	}
	want := map[string]string{}
	for _, e := range r.cfg.Entries() {
		e.URL, e.Member = r.cfg.Advertise, r.member
		if err := e.Validate(); err != nil {
			r.log.Warn("not registering a table", "table", e.Served, "err", err)
			continue
		}
		key := e.Key(r.cfg.Prefix)
		if _, dup := want[key]; dup {
			r.log.Warn("not registering a table twice", "key", key, "served_as", e.Served)
			continue
		}
		b, _ := json.Marshal(&e)
		want[key] = string(b)
	}
	r.mu.Lock()
	have := make(map[string]string, len(r.keys))
	for k, v := range r.keys {
		have[k] = v
	}
	r.mu.Unlock()
	var errs []error
	for k, v := range want {
		if have[k] == v {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := r.cfg.Client.Put(cctx, k, v, clientv3.WithLease(lease))
		cancel()
		if errors.Is(err, rpctypes.ErrLeaseNotFound) {
			r.mu.Lock()
			r.lease, r.keys = 0, map[string]string{}
			r.mu.Unlock()
			return fmt.Errorf("put %s: the lease expired: %w", k, err)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("put %s: %w", k, err))
			continue
		}
		r.mu.Lock()
		r.keys[k] = v
		r.mu.Unlock()
		r.log.Info("registered table", "key", k)
	}
	for k := range have {
		if _, ok := want[k]; ok {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := r.cfg.Client.Delete(cctx, k)
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("delete %s: %w", k, err))
			continue
		}
		r.mu.Lock()
		delete(r.keys, k)
		r.mu.Unlock()
		r.log.Info("deregistered table", "key", k)
	}
	return errors.Join(errs...)
}
