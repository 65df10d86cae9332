package registry

import (
	"context"
	"log/slog"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Watch calls fn with the entries registered under TablePrefix(prefix,
// table) (every table when table is ""), by key, now and after every change,
// until ctx is done. fn gets a map of its own each time. Entries that do not
// parse are logged and left out. When etcd cannot be reached, Watch keeps
// trying (the client moves to another endpoint of the cluster by itself)
// and fn is not called meanwhile; after a compaction it reads the prefix
// again.
func Watch(ctx context.Context, cli *clientv3.Client, prefix, table string, log *slog.Logger, fn func(map[string]*Entry)) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if prefix == "" {
		prefix = DefaultPrefix
	}
	p := TablePrefix(prefix, table)
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		resp, err := cli.Get(cctx, p, clientv3.WithPrefix())
		cancel()
		if err != nil {
			log.Warn("reading the registry failed; retrying", "prefix", p, "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 2*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		entries := map[string]*Entry{}
		for _, kv := range resp.Kvs {
			put(entries, prefix, kv.Key, kv.Value, log)
		}
		fn(copyEntries(entries))
		wctx, wcancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		for wr := range cli.Watch(wctx, p, clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1)) {
			if err := wr.Err(); err != nil {
				log.Warn("watching the registry failed; reading it again", "prefix", p, "err", err)
				break
			}
			for _, ev := range wr.Events {
				switch ev.Type {
				case clientv3.EventTypePut:
					put(entries, prefix, ev.Kv.Key, ev.Kv.Value, log)
				case clientv3.EventTypeDelete:
					delete(entries, string(ev.Kv.Key))
				}
			}
			if len(wr.Events) > 0 {
				fn(copyEntries(entries))
			}
		}
		wcancel()
	}
}

func put(entries map[string]*Entry, prefix string, key, value []byte, log *slog.Logger) {
	e, err := ParseEntry(prefix, key, value)
	if err != nil {
		log.Warn("ignoring a registry entry", "err", err)
		delete(entries, string(key))
		return
	}
	entries[string(key)] = e
}

func copyEntries(m map[string]*Entry) map[string]*Entry {
	out := make(map[string]*Entry, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
