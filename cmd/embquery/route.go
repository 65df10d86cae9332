package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/embstore/embstore/internal/pooling"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/embstore/embstore/client"
	"github.com/embstore/embstore/client/cluster"
	"github.com/embstore/embstore/internal/cli"
	"github.com/embstore/embstore/internal/server"
	"github.com/embstore/embstore/store"
)

var routeCommand = cli.Command{
	Name:     "embquery route",
	Synopsis: "embquery route --etcd ENDPOINTS [--addr 127.0.0.1:8080] [--table NAME]... [flags]",
	Help: `
Route serves the tables of a cluster (servers registered in etcd with
'embquery serve --etcd') behind the same HTTP API as 'embquery serve':
OpenAI's POST /v1/embeddings, TEI's POST /embed, /embed_all and GET /info,
the native POST /v1/lookup and /v1/bag (JSON or binary), GET /v1/models,
GET /v1/tables[/NAME], /health and /metrics. It holds no rows: each request
is split by row range over the shards' live replicas, which answer its parts,
and is answered from one version of the table. Failed parts go to another
replica, slow ones are hedged (see the Go package client/cluster, which does
the work).

It serves the tables named with --table, or every table registered, as they
appear. A table with no version served by a replica of every shard answers
503. /v1/tables/NAME describes the version served, its shards and replicas.`,
}

func runRoute(e env, args []string) error {
	fs := cli.NewFlagSet(routeCommand)
	hf := addHTTPFlags(fs)
	ef := addEtcdFlags(fs, "serve the tables registered")
	tables := fs.StringArray("table", nil, "serve table `NAME` of the registry (repeatable; default: every table registered)")
	upstreamKey := fs.String("upstream-api-key-file", "", "send the key in `FILE` (its first line) to the shard servers")
	upstreamTimeout := fs.Duration("upstream-timeout", 10*time.Second, "how long a request's parts may take, retries included")
	hedge := fs.Duration("hedge", 0, "send a slow part to a second replica after this long (0: after the shard's observed p95; negative: never)")
	if err := cli.Parse(fs, routeCommand, args, e.Stdout); err != nil {
		return err
	}
	switch {
	case fs.NArg() != 0:
		return cli.Usagef("route takes no arguments (tables come from the registry), got %d", fs.NArg())
	case len(ef.list()) == 0:
		return cli.Usagef("--etcd ENDPOINTS is required")
	case *upstreamTimeout <= 0:
		return cli.Usagef("--upstream-timeout %v: want a positive duration", *upstreamTimeout)
	}
	for _, n := range *tables {
		if !server.ValidName(n) {
			return cli.Usagef("--table %q: want letters, digits, '.', '_' or '-', not starting with '.'", n)
		}
	}
	if err := ef.check(); err != nil {
		return err
	}
	if err := hf.check(); err != nil {
		return err
	}
	log, err := newLogger(e, *hf.logFormat, *hf.logLevel)
	if err != nil {
		return err
	}
	key := ""
	if *upstreamKey != "" {
		b, err := os.ReadFile(*upstreamKey)
		if err != nil {
			return fmt.Errorf("--upstream-api-key-file: %w", err)
		}
		key, _, _ = strings.Cut(strings.TrimSpace(string(b)), "\n")
		key = strings.TrimSpace(key)
	}
	etcd, err := ef.client()
	if err != nil {
		return err
	}
	defer etcd.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	c, err := cluster.Connect(ctx, nil, &cluster.Options{Etcd: etcd, Prefix: *ef.prefix, APIKey: key,
		Timeout: *upstreamTimeout, Hedge: *hedge, Logger: log})
	cancel()
	if err != nil {
		return fmt.Errorf("--etcd %s: %w", *ef.endpoints, err)
	}
	defer c.Close()
	srv, err := server.New(hf.config(log))
	if err != nil {
		return err
	}
	defer srv.Close()
	add := func(name string) {
		if slices.Contains(srv.Tables(), name) {
			return
		}
		if err := srv.AddSource(name, &clusterSource{t: c.Table(name)}); err != nil {
			log.Error("serving a table of the registry", "table", name, "err", err)
		}
	}
	for _, n := range *tables {
		add(n)
	}
	if len(*tables) == 0 {
		// Every table, as it appears; a table whose versions all go stays
		// served, answering 503, until it comes back.
		changes := c.Notify()
		for _, n := range c.Tables() {
			add(n)
		}
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			for {
				select {
				case <-stop:
					return
				case <-changes:
					for _, n := range c.Tables() {
						add(n)
					}
				}
			}
		}()
	}
	return serveHTTP(e, hf, srv, log, hooks{reload: srv.Reload})
}

// clusterSource is a table of a cluster as a server.Source: each request
// takes the snapshot (one version) serving when it starts.
type clusterSource struct{ t *cluster.Table }

func (s *clusterSource) Acquire() (server.Table, func(), error) {
	snap, err := s.t.Snapshot()
	if err != nil {
		return nil, nil, err
	}
	return (*clusterTable)(snap), func() {}, nil
}

func (s *clusterSource) Close() error { return s.t.Close() }

func (s *clusterSource) Info(t server.Table) server.TableInfo {
	ct, ok := t.(*clusterTable)
	if !ok {
		_, err := s.t.Snapshot()
		msg := "no version is served"
		if err != nil {
			msg = err.Error()
		}
		return server.TableInfo{Pooling: "mean", Cluster: map[string]string{"error": msg}}
	}
	info := (*cluster.Snapshot)(ct).Info()
	return server.TableInfo{
		Rows: info.Rows, Dim: info.Dim, DType: info.DType, Positions: info.Positions, PositionOffset: info.PositionOffset,
		TokenScale: info.TokenScale, ComputeDType: info.ComputeDType, Pooling: info.Pooling, Normalize: info.Normalize,
		Generation: info.Version, LoadedAt: info.Since.UTC(), Cluster: info,
	}
}

// clusterTable is a snapshot of a cluster's table as a server.Table: its
// failures become 502, 503 or 504 answers.
type clusterTable cluster.Snapshot

func (t *clusterTable) s() *cluster.Snapshot { return (*cluster.Snapshot)(t) }

// ChunkValues asks the server for large pieces: each piece is a round of
// requests to the shards.
func (t *clusterTable) ChunkValues() int { return 1 << 22 }

func (t *clusterTable) Rows() int64 { return t.s().Rows() }
func (t *clusterTable) Dim() int    { return t.s().Dim() }

// DefaultPooling is the pooling the table's servers report (its
// metadata's), which the router's /v1/embeddings and /embed apply.
func (t *clusterTable) DefaultPooling() (pooling.Pooling, error) {
	mode, normalize := t.s().Pooling()
	m, err := pooling.ParseMode(mode)
	if err != nil {
		return pooling.Default, err
	}
	return pooling.Pooling{Mode: m, Normalize: normalize}, nil
}
func (t *clusterTable) Positions() int64           { return t.s().Positions() }
func (t *clusterTable) CheckIDs(ids []int64) error { return t.s().CheckIDs(ids) }
func (t *clusterTable) CheckPositions(seqLen int, start int64) error {
	return t.s().CheckPositions(seqLen, start)
}
func (t *clusterTable) Lookup(ctx context.Context, dst []float32, ids []int64) error {
	return upstream(t.s().Lookup(ctx, dst, ids))
}
func (t *clusterTable) LookupPositions(ctx context.Context, dst []float32, ids []int64, seqLen int, start int64) error {
	return upstream(t.s().LookupPositions(ctx, dst, ids, seqLen, start))
}
func (t *clusterTable) LookupPositionRows(ctx context.Context, dst []float32, rows []int64) error {
	return upstream(t.s().LookupPositionRows(ctx, dst, rows))
}
func (t *clusterTable) Bag(ctx context.Context, dst []float32, ids, offsets []int64, opts *store.BagOptions) error {
	return upstream(t.s().Bag(ctx, dst, ids, offsets, opts))
}

// upstream maps the failures of the shards' servers to the status the
// router answers with; errors of the request (ids out of range, ...) pass.
func upstream(err error) error {
	var pe *cluster.PartError
	var ce *client.Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.DeadlineExceeded):
		return &server.UpstreamError{Status: http.StatusGatewayTimeout, Err: err}
	case errors.Is(err, cluster.ErrNoVersion), errors.Is(err, cluster.ErrClosed):
		return &server.UpstreamError{Status: http.StatusServiceUnavailable, Err: err}
	case errors.As(err, &pe), errors.As(err, &ce):
		return &server.UpstreamError{Status: http.StatusBadGateway, Err: err}
	}
	return err
}

var _ server.PoolingTable = (*clusterTable)(nil)
