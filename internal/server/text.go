package server

import (
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/embstore/embstore/internal/pooling"
	"github.com/embstore/embstore/internal/shardmeta"
	"github.com/embstore/embstore/store"
)

// Text inputs and pooling: the tokenizer and the default pooling of the
// version of a table a request uses.

// TableTokenizer is the EncoderFunc of tables that carry their tokenizer
// (embpack import stores it): the table's own, parsed on first use. A table
// without one takes token ids only; one whose tokenizer cannot be loaded
// gets the error, and its text requests fail with it.
func TableTokenizer(t *store.Table) (TextEncoder, error) {
	tk, err := t.Tokenizer()
	switch {
	case errors.Is(err, store.ErrNoTokenizer):
		return nil, nil
	case err != nil:
		return nil, err
	}
	return tk, nil
}

// partialShard describes a version of a served table if it is a table file
// that is a shard (embpack shard) holding part of its table's rows, and
// returns "" otherwise: its tokenizer gives the whole table's ids, so texts
// cannot become its rows.
func partialShard(sv *served, t Table) string {
	lt, ok := t.(*localTable)
	if !ok {
		return ""
	}
	return sv.meta.of(lt.st()).partial
}

// metaEntry is what the text routes read from the metadata of one version
// of a served table file, read once per version: its default pooling (or
// the error of a "pooling" key that is not one) and whether it is a shard
// holding part of its table's rows (partialShard).
type metaEntry struct {
	t       *store.Table
	p       pooling.Pooling
	err     error
	partial string
}

// metaCache holds the metaEntry of the last version of a table asked for.
type metaCache struct{ last atomic.Pointer[metaEntry] }

// of returns the metaEntry of st, reading st's metadata if st is not the
// version last asked for.
func (c *metaCache) of(st *store.Table) *metaEntry {
	e := c.last.Load()
	if e == nil || e.t != st {
		md := st.Metadata()
		p, err := pooling.FromMetadata(md)
		e = &metaEntry{t: st, p: p, err: err, partial: shardmeta.Partial(md, st.Header().Rows)}
		c.last.Store(e)
	}
	return e
}

// A PoolingTable is a Table whose rows are elsewhere (a cluster's) that
// knows its default pooling: what the table's metadata records, as its
// servers report it.
type PoolingTable interface {
	Table
	DefaultPooling() (pooling.Pooling, error)
}

// poolingOf returns the default pooling of a version of a served table:
// what its metadata records under "pooling", else the mean. Tables whose
// rows are elsewhere pool as they say (PoolingTable), else with the mean.
func (s *Server) poolingOf(sv *served, t Table) (pooling.Pooling, *apiError) {
	lt, ok := t.(*localTable)
	if !ok {
		pt, ok := t.(PoolingTable)
		if !ok {
			return pooling.Default, nil
		}
		p, err := pt.DefaultPooling()
		if err != nil {
			return p, errorf(http.StatusInternalServerError, "", "bad_table", "table %s: %s", sv.name, err)
		}
		return p, nil
	}
	e := sv.meta.of(lt.st())
	if e.err != nil {
		return e.p, errorf(http.StatusInternalServerError, "", "bad_table", "table %s: %s", sv.name, e.err)
	}
	return e.p, nil
}

// teiPoolingName is a pooling mode as TEI's /info names it.
func teiPoolingName(m pooling.Mode) string {
	if m == pooling.Last {
		return "last_token"
	}
	return m.String()
}

// poolRows computes one vector per input of b with pooling p into emit:
// mean and max pool with Bag (mean is bit for bit embquery bag --mode
// mean), cls and last look up the first or last token's row. Every input
// must hold at least one id (checkNonEmpty).
func poolRows(r *http.Request, t Table, b *batch, field string, p pooling.Pooling, emit emitFunc) *apiError {
	if p.Normalize {
		dim := t.Dim()
		inner := emit
		emit = func(vals []float32, first int) *apiError {
			pooling.Normalize(vals, dim)
			return inner(vals, first)
		}
	}
	param := func(k int) string { return b.paramOf(field, k) }
	switch p.Mode {
	case pooling.Mean, pooling.Max:
		mode := store.BagMean
		if p.Mode == pooling.Max {
			mode = store.BagMax
		}
		bq := &bagQuery{ids: b.ids, offsets: b.starts, opts: store.BagOptions{Mode: mode}, param: param}
		return bagRows(r.Context(), t, bq, emit)
	}
	if err := t.CheckIDs(b.ids); err != nil {
		return storeErr(err, param)
	}
	picked := pooling.Pick(make([]int64, 0, len(b.starts)), b.ids, b.starts, p.Mode)
	dim := t.Dim()
	chunk := chunkFor(t, dim)
	bufp := getFloats(min(chunk, len(picked)) * dim)
	defer putFloats(bufp)
	buf := *bufp
	for lo := 0; lo < len(picked); lo += chunk {
		hi := min(lo+chunk, len(picked))
		if err := t.Lookup(r.Context(), buf[:(hi-lo)*dim], picked[lo:hi]); err != nil {
			return storeErr(err, func(k int) string { return b.paramOf(field, int(b.starts[lo+k])) })
		}
		if err := emit(buf[:(hi-lo)*dim], lo); err != nil {
			return err
		}
	}
	return nil
}

// checkNonEmpty refuses an input that holds no token (a text the tokenizer
// turns into nothing): it has no vector to pool.
func checkNonEmpty(b *batch, field string, status int) *apiError {
	for i := range b.starts {
		if len(b.span(i)) == 0 {
			p := field
			if b.nested {
				p = field + "[" + strconv.Itoa(i) + "]"
			}
			return errorf(status, p, "empty_input", "%s: the text makes no tokens, so it has no vector", p)
		}
	}
	return nil
}
