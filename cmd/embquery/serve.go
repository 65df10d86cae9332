package main

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/embstore/embstore/internal/cli"
	"github.com/embstore/embstore/internal/registry"
	"github.com/embstore/embstore/internal/server"
	"github.com/embstore/embstore/store"
)

var serveCommand = cli.Command{
	Name:     "embquery serve",
	Synopsis: "embquery serve [--addr 127.0.0.1:8080] [FILE]... [--table NAME=FILE]... [--dir DIR] [--etcd ENDPOINTS --advertise URL] [flags]",
	Help: `
Serve answers HTTP requests for tables: OpenAI's POST /v1/embeddings (one
vector per input: its tokens' rows pooled as the table's metadata says, by
default their mean), Hugging Face TEI's POST /embed (the same pooling,
L2-normalised unless "normalize": false), POST /embed_all
and GET /info, the native POST /v1/lookup and POST /v1/bag (JSON, or
little-endian binary with Content-Type and Accept application/octet-stream),
GET /v1/models, GET /v1/tables[/NAME], GET /health and GET /metrics
(Prometheus).

Inputs are token ids, or texts for tables that carry a tokenizer (embpack
import stores it): texts are tokenized with the table's own tokenizer,
special tokens added, and --max-tokens counts the tokens they make.

A FILE argument serves that table under its base name without .emb;
--table NAME=FILE names it; --dir DIR serves every *.emb file in DIR and
picks up files added or removed there. A table file renamed over (as embpack
writes) is swapped in without failing a request; a new file that fails to
open (or to verify, with --verify) leaves the old one serving.

It prints "listening on ADDR" on standard output once it accepts requests,
and logs to standard error. --addr unix:PATH listens on a unix socket
instead of TCP, for clients on the same machine: large binary answers
travel faster through it than through loopback TCP. SIGHUP re-reads the API key file and checks every
table file and directory now. SIGTERM or SIGINT stop accepting requests,
finish those in flight (within --shutdown-timeout) and exit 0; if requests are
still running then, it exits 1.

With --etcd, it registers every table it serves in etcd, under a lease that
expires when the process dies (--etcd-ttl) and is revoked at SIGTERM: a shard
made by 'embpack shard' under its table's name, version and row range, any
other table whole, under its name. 'embquery route' and the Go cluster client
find the shards there. Registrations follow the tables: a file added,
replaced or removed is registered again.

For tables larger than memory (see "Larger than memory" in BENCHMARKS.md):
--map-mode random turns read-ahead off; --prefetch advises the kernel of
each batch's pages before gathering it, so that its disk reads overlap;
--lock-hot N locks the pages of the N most used rows in memory, learned from
the traffic and locked anew every --lock-hot-interval, or --lock-hot-file
FILE locks the rows whose ids FILE holds (a refusal then stops serve with an
error; a learned lock the kernel refuses is logged as a warning, and the rows
stay unlocked). Locking needs RLIMIT_MEMLOCK (ulimit -l) or CAP_IPC_LOCK.`,
}

func runServe(e env, args []string) error {
	fs := cli.NewFlagSet(serveCommand)
	hf := addHTTPFlags(fs)
	tableSpecs := fs.StringArray("table", nil, "serve table `NAME=FILE` (repeatable)")
	dir := fs.String("dir", "", "serve every *.emb file of `DIR`, following additions and removals")
	dirInterval := fs.Duration("dir-interval", 2*time.Second, "how often --dir is rescanned")
	reloadInterval := fs.Duration("reload-interval", time.Second, "how often each table file is checked for a replacement (0: only on SIGHUP)")
	threads := fs.Int("threads", runtime.GOMAXPROCS(0), "goroutines that gather one large batch together")
	mapMode := fs.String("map-mode", "lazy", "lazy, populate, random, hugepages or anon-hugepages")
	verify := fs.Bool("verify", false, "check every checksum of a table file before serving it (at start and on reload)")
	cold := addColdFlags(fs, true)
	ef := addEtcdFlags(fs, "register every table served (a shard under its table's name, version and range)")
	advertise := fs.String("advertise", "", "with --etcd: the base `URL` clients reach this server at (default: http://ADDR when --addr names an address)")
	ttl := fs.Duration("etcd-ttl", 10*time.Second, "with --etcd: how long the tables of a server that died stay registered (the lease's time to live)")
	if err := cli.Parse(fs, serveCommand, args, e.Stdout); err != nil {
		return err
	}
	mode, err := store.ParseMapMode(*mapMode)
	if err != nil {
		return cli.Usagef("--map-mode: %v", err)
	}
	switch {
	case *threads < 1:
		return cli.Usagef("--threads %d: want at least 1", *threads)
	case fs.NArg() == 0 && len(*tableSpecs) == 0 && *dir == "":
		return cli.Usagef("nothing to serve: give table FILEs, --table NAME=FILE or --dir DIR")
	case *ef.endpoints == "" && (fs.Changed("advertise") || fs.Changed("etcd-ttl") || fs.Changed("etcd-prefix")):
		return cli.Usagef("--advertise, --etcd-ttl and --etcd-prefix go with --etcd")
	case *ef.endpoints != "" && *ttl < time.Second:
		return cli.Usagef("--etcd-ttl %v: want at least 1s", *ttl)
	}
	if err := hf.check(); err != nil {
		return err
	}
	if *ef.endpoints != "" {
		if err := ef.check(); err != nil {
			return err
		}
		if *advertise != "" {
			if _, err := registry.MemberOf(*advertise); err != nil {
				return cli.Usagef("--advertise: %v", err)
			}
		} else if strings.HasPrefix(*hf.addr, "unix:") {
			return cli.Usagef("--etcd needs --advertise URL when listening on a unix socket (--addr %s): the URL clients on other machines reach this server at", *hf.addr)
		} else if host, _, err := net.SplitHostPort(*hf.addr); err == nil {
			if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
				return cli.Usagef("--etcd needs --advertise URL when listening on all addresses (--addr %s): the URL clients reach this server at", *hf.addr)
			}
		}
	}
	log, err := newLogger(e, *hf.logFormat, *hf.logLevel)
	if err != nil {
		return err
	}
	type spec struct{ name, path string }
	var specs []spec
	for _, f := range fs.Args() {
		specs = append(specs, spec{strings.TrimSuffix(filepath.Base(f), ".emb"), f})
	}
	for _, t := range *tableSpecs {
		name, path, ok := strings.Cut(t, "=")
		if !ok || name == "" || path == "" {
			return cli.Usagef("--table %q: want NAME=FILE", t)
		}
		specs = append(specs, spec{name, path})
	}
	seen := map[string]string{}
	for _, s := range specs {
		if !server.ValidName(s.name) {
			return cli.Usagef("table name %q (from %s): want letters, digits, '.', '_' or '-', not starting with '.'", s.name, s.path)
		}
		if prev, dup := seen[s.name]; dup {
			return cli.Usagef("table name %q is used twice (%s and %s); name them with --table NAME=FILE", s.name, prev, s.path)
		}
		seen[s.name] = s.path
	}
	interval := *reloadInterval
	if interval == 0 {
		interval = -1 // store.Follow: no polling
	}
	// The registrar is made once the server listens; changes before then
	// are picked up by its first sync.
	var reg atomic.Pointer[registry.Registrar]
	cfg := hf.config(log)
	cfg.Encoder = server.TableTokenizer // text inputs: each table's own tokenizer
	open := &store.Options{Threads: *threads, Mode: mode, Verify: *verify}
	if err := cold.apply(fs, open); err != nil {
		return err
	}
	open.OnLockError = func(err error) { log.Warn("hot rows stay unlocked", "err", err) }
	cfg.Follow = store.FollowOptions{
		Open:     open,
		Interval: interval,
	}
	cfg.OnChange = func() {
		if r := reg.Load(); r != nil {
			r.Changed()
		}
	}
	srv, err := server.New(cfg)
	if err != nil {
		return err
	}
	defer srv.Close()
	for _, s := range specs {
		if err := srv.AddTable(s.name, s.path); err != nil {
			return err
		}
	}
	if *dir != "" {
		if err := srv.WatchDir(*dir, *dirInterval); err != nil {
			return fmt.Errorf("--dir %s: %w", *dir, err)
		}
	}
	hk := hooks{reload: srv.Reload}
	if *ef.endpoints != "" {
		etcd, err := ef.client()
		if err != nil {
			return err
		}
		defer etcd.Close()
		hk.listening = func(addr net.Addr, scheme string) error {
			u, err := advertiseURL(*advertise, addr, scheme)
			if err != nil {
				return err
			}
			r, err := registry.NewRegistrar(registry.RegistrarConfig{
				Client: etcd, Prefix: *ef.prefix, TTL: *ttl, Advertise: u, Logger: log,
				Entries: func() []registry.Entry { return registryEntries(srv) },
			})
			if err != nil {
				return cli.Usagef("--advertise: %v", err)
			}
			reg.Store(r)
			log.Info("registering tables in etcd", "etcd", *ef.endpoints, "advertise", u, "ttl", *ttl)
			return nil
		}
		hk.stopping = func() {
			if r := reg.Load(); r != nil {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				if err := r.Close(ctx); err != nil {
					log.Warn("deregistering from etcd failed; the tables expire with the lease", "err", err)
				}
				cancel()
			}
		}
		defer hk.stopping() // on a failure too: the lease goes at once
	}
	return serveHTTP(e, hf, srv, log, hk)
}
