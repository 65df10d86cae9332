package main

import (
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/embstore/embstore/internal/cli"
	"github.com/embstore/embstore/internal/registry"
	"github.com/embstore/embstore/internal/server"
	"github.com/embstore/embstore/internal/shardmeta"
	"github.com/spf13/pflag"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// etcdFlags are the flags that name the registry.
type etcdFlags struct {
	endpoints *string
	prefix    *string
}

func addEtcdFlags(fs *pflag.FlagSet, what string) *etcdFlags {
	return &etcdFlags{
		endpoints: fs.String("etcd", "", what+" in the etcd cluster at `ENDPOINTS` (comma-separated URLs, e.g. http://etcd-0:2379,http://etcd-1:2379)"),
		prefix:    fs.String("etcd-prefix", registry.DefaultPrefix, "the registry's key `PREFIX` in etcd"),
	}
}

func (f *etcdFlags) list() []string {
	var out []string
	for _, e := range strings.Split(*f.endpoints, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

func (f *etcdFlags) check() error {
	if !strings.HasPrefix(*f.prefix, "/") || !strings.HasSuffix(*f.prefix, "/") {
		return cli.Usagef("--etcd-prefix %q: want a key prefix that starts and ends with /", *f.prefix)
	}
	return nil
}

// client returns a client of the etcd cluster. It does not wait for a
// connection: the registry's users retry until etcd answers.
func (f *etcdFlags) client() (*clientv3.Client, error) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: f.list(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("--etcd %s: %w", *f.endpoints, err)
	}
	return cli, nil
}

// advertiseURL returns the URL clients reach a server at: the one given, or
// the listener's address when it is a specific one.
func advertiseURL(given string, addr net.Addr, scheme string) (string, error) {
	if given != "" {
		return given, nil
	}
	ta, ok := addr.(*net.TCPAddr)
	if !ok || ta.IP.IsUnspecified() {
		return "", cli.Usagef("--etcd needs --advertise URL when listening on all addresses (%s): the URL clients reach this server at", addr)
	}
	return scheme + "://" + ta.String(), nil
}

// registryEntries returns the registry entries of the tables srv serves: a
// shard (embpack shard) under its table's name, version and range; a
// whole table under its served name as version 0, shard 0 of 1.
func registryEntries(srv *server.Server) []registry.Entry {
	var out []registry.Entry
	for _, info := range srv.TableInfos() {
		e := registry.Entry{
			Table: info.Name, Shards: 1, RowEnd: info.Rows, RowsTotal: info.Rows,
			Dim: info.Dim, DType: info.DType, Positions: info.Positions, PositionOffset: info.PositionOffset,
			TokenScale: info.TokenScale, ComputeDType: info.ComputeDType, Served: info.Name,
			Pooling: info.Pooling, Normalize: info.Normalize,
		}
		if info.File != nil {
			e.Origin = info.File.HeaderCRC
		}
		if s := info.Shard; s != nil {
			e.Table, e.Version, e.Shard, e.Shards = s.Table, s.Version, s.Index, s.Count
			e.RowStart, e.RowEnd, e.RowsTotal = s.RowStart, s.RowEnd, s.RowsTotal
			if d, err := shardmeta.Parse(info.Metadata); err == nil {
				e.Origin = d.Original.HeaderCRC
			}
		}
		out = append(out, e)
	}
	return out
}
