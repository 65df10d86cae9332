// Package client looks rows up in a table served by embquery serve, with the
// same lookup methods as store.Table, so that a Go service can swap a local
// table for a remote one:
//
//	t, err := client.Open(ctx, "http://emb:8080", "gpt2", nil)
//	if err != nil { ... }
//	defer t.Close()
//	out := make([]float32, len(ids)*t.Dim())
//	err = t.Lookup(ctx, out, ids)
//
// Requests use the server's binary routes (little-endian ids in, float32
// rows out, straight into the caller's buffer) over keep-alive connections.
// Every method takes a context: its deadline bounds the whole call, retries
// included. Lookups are pure reads, so a request that fails in a way that
// may succeed on a second try (a connection refused or cut, 429, 502, 503,
// 504) is retried with backoff, up to Options.Retries times.
//
// Every argument is checked against the table's shape before anything is
// sent, by the store's own checks (store.Bounds): an id out of range is a
// *store.IndexError, a position past the positional table a
// *store.PositionError, a bad bag argument the store's error, exactly as
// from store.Table. Errors the server returns are *Error values carrying its
// status, message, field and code.
//
// Source is the interface a Table, a mapped store.Table (through Local) and
// a table sharded over a cluster (package client/cluster) share, so that a
// service can move from one to another without changing its code.
package client

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/embstore/embstore/store"
)

// Options configure Open. A nil *Options means the defaults.
type Options struct {
	// HTTPClient sends the requests; nil means a client of its own with
	// keep-alive connections (up to 64 idle per host) and no transparent
	// compression (float32 rows do not compress).
	HTTPClient *http.Client
	// APIKey, if set, is sent as Authorization: Bearer APIKey.
	APIKey string
	// Retries is how many times a failed request is tried again; 0 means
	// the default, 2; a negative value means never.
	Retries int
	// Backoff is the wait before the first retry, doubled (with jitter)
	// for each further one; 0 means 20 ms.
	Backoff time.Duration
}

// A Table is a table on a server. It is safe for concurrent use.
type Table struct {
	base    string // "http://host:port", no trailing slash
	name    string
	hc      *http.Client
	own     bool // hc is ours: Close closes its idle connections
	key     string
	retries int
	backoff time.Duration

	info Info
}

// Info is what the server reports about a table (GET /v1/tables/NAME).
type Info struct {
	Name           string  `json:"name"`
	Rows           int64   `json:"rows"`
	Dim            int     `json:"dim"`
	DType          string  `json:"dtype"`
	Positions      int64   `json:"positions"`
	PositionOffset int64   `json:"position_offset"`
	TokenScale     float32 `json:"token_scale"`
	ComputeDType   string  `json:"compute_dtype"`
	Tokenizer      bool    `json:"tokenizer"`
	Generation     uint64  `json:"generation"`
	// Shard is set when the table is a shard made by embpack shard: the
	// rows of the whole table it holds.
	Shard *ShardInfo `json:"shard,omitempty"`
}

// ShardInfo is the range of a shard: rows [RowStart, RowEnd) of the
// RowsTotal rows of version Version of table Table, as shard Index of
// Count.
type ShardInfo struct {
	Table     string `json:"table"`
	Version   uint64 `json:"version"`
	Index     int    `json:"index"`
	Count     int    `json:"count"`
	RowStart  int64  `json:"row_start"`
	RowEnd    int64  `json:"row_end"`
	RowsTotal int64  `json:"rows_total"`
}

// An Error is a request the server refused or failed: its HTTP status and
// the error it sent (OpenAI's shape: message, param, code).
type Error struct {
	Status  int
	Message string
	Param   string
	Code    string
}

func (e *Error) Error() string {
	if e.Param != "" {
		return fmt.Sprintf("embquery server: %d: %s (param %s)", e.Status, e.Message, e.Param)
	}
	return fmt.Sprintf("embquery server: %d: %s", e.Status, e.Message)
}

// Open connects to the table name served at baseURL (such as
// "http://127.0.0.1:8080", or "unix:///run/embstore.sock" for a server
// started with --addr unix:/run/embstore.sock on this machine, which
// answers large batches faster than loopback TCP) and reads its shape.
func Open(ctx context.Context, baseURL, name string, opts *Options) (*Table, error) {
	t, err := newTable(baseURL, name, opts)
	if err != nil {
		return nil, err
	}
	if err := t.Refresh(ctx); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

// New returns the table name served at baseURL with the shape info gives,
// without asking the server: for callers that know it already, as the
// cluster client does from its registry. info needs Rows, Dim, Positions
// and PositionOffset.
func New(baseURL, name string, info Info, opts *Options) (*Table, error) {
	if info.Dim < 1 || info.Rows < 1 {
		return nil, fmt.Errorf("embstore client: table %s: %d rows of %d values", name, info.Rows, info.Dim)
	}
	t, err := newTable(baseURL, name, opts)
	if err != nil {
		return nil, err
	}
	t.info = info
	return t, nil
}

func newTable(baseURL, name string, opts *Options) (*Table, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	u, err := url.Parse(baseURL)
	socket := ""
	switch {
	case err == nil && u.Scheme == "unix":
		// unix:///path/to.sock or unix:/path/to.sock: the server's
		// --addr unix:PATH; requests go to http://unix/... over it.
		socket = u.Path
		if u.Opaque != "" {
			socket = u.Opaque
		}
		if socket == "" || u.Host != "" {
			return nil, fmt.Errorf("embstore client: base URL %q: want unix:///PATH/TO.sock", baseURL)
		}
		if o.HTTPClient != nil {
			return nil, fmt.Errorf("embstore client: base URL %q: a unix socket needs the client's own transport (leave Options.HTTPClient nil)", baseURL)
		}
		baseURL = "http://unix"
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return nil, fmt.Errorf("embstore client: base URL %q: want http://HOST:PORT, https://HOST:PORT or unix:///PATH/TO.sock", baseURL)
	}
	t := &Table{base: strings.TrimRight(baseURL, "/"), name: name, hc: o.HTTPClient, key: o.APIKey,
		retries: o.Retries, backoff: o.Backoff}
	if t.hc == nil {
		dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
		tr := &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         dialer.DialContext,
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
			ForceAttemptHTTP2:   true,
		}
		if socket != "" {
			tr.Proxy = nil
			tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
				return dialer.DialContext(ctx, "unix", socket)
			}
		}
		t.hc = &http.Client{Transport: tr}
		t.own = true
	}
	switch {
	case t.retries == 0:
		t.retries = 2
	case t.retries < 0:
		t.retries = 0
	}
	if t.backoff <= 0 {
		t.backoff = 20 * time.Millisecond
	}
	return t, nil
}

// Refresh reads the table's shape from the server again (after its file was
// replaced by one of another shape, say).
func (t *Table) Refresh(ctx context.Context) error {
	body, err := t.do(ctx, http.MethodGet, "/v1/tables/"+url.PathEscape(t.name), "", nil, "")
	if err != nil {
		return err
	}
	var info Info
	if err := json.Unmarshal(body, &info); err != nil {
		return fmt.Errorf("embstore client: table %s: bad table description: %w", t.name, err)
	}
	if info.Dim < 1 || info.Rows < 1 {
		return fmt.Errorf("embstore client: table %s: server reports %d rows of %d values", t.name, info.Rows, info.Dim)
	}
	t.info = info
	return nil
}

// Close closes the idle connections of the client Open made; it does not
// affect an Options.HTTPClient.
func (t *Table) Close() error {
	if t.own {
		t.hc.CloseIdleConnections()
	}
	return nil
}

// Name returns the table's name on the server.
func (t *Table) Name() string { return t.name }

// Info returns what the server reported at Open (or the last Refresh).
func (t *Table) Info() Info { return t.info }

// Rows returns the number of rows of the token table.
func (t *Table) Rows() int64 { return t.info.Rows }

// Dim returns the number of values per row.
func (t *Table) Dim() int { return t.info.Dim }

// Positions returns the number of rows of the positional table, 0 if none.
func (t *Table) Positions() int64 { return t.info.Positions }

// PositionOffset returns the positional row that holds position 0.
func (t *Table) PositionOffset() int64 { return t.info.PositionOffset }

// bounds returns what the table's arguments are checked against (with
// store.Bounds, as store.Table's are).
func (t *Table) bounds() store.Bounds {
	return store.Bounds{Rows: t.info.Rows, Dim: t.info.Dim, Positions: t.info.Positions, PositionOffset: t.info.PositionOffset}
}

// CheckIDs returns the *store.IndexError a lookup of ids would return, or
// nil, as store.Table.CheckIDs does.
func (t *Table) CheckIDs(ids []int64) error { return t.bounds().CheckIDs(ids) }

// Lookup writes the rows of ids to dst, as store.Table.Lookup does.
func (t *Table) Lookup(ctx context.Context, dst []float32, ids []int64) error {
	if err := t.bounds().CheckLookup(dst, ids); err != nil || len(ids) == 0 {
		return err
	}
	return t.rows(ctx, "/v1/lookup", "", int64Bytes(ids), dst)
}

// LookupPositions is Lookup with the positional table added, as
// store.Table.LookupPositions: ids is a batch of sequences of seqLen ids,
// and the p-th id of each gets position start+p.
func (t *Table) LookupPositions(ctx context.Context, dst []float32, ids []int64, seqLen int, start int64) error {
	if err := t.bounds().CheckLookupPositions(dst, ids, seqLen, start); err != nil || len(ids) == 0 {
		return err
	}
	q := "positions=true&seq_len=" + strconv.Itoa(seqLen) + "&start=" + strconv.FormatInt(start, 10)
	return t.rows(ctx, "/v1/lookup", q, int64Bytes(ids), dst)
}

// LookupPositionRows writes rows of the positional table itself (raw row
// numbers, no offset applied), as store.Table.LookupPositionRows.
func (t *Table) LookupPositionRows(ctx context.Context, dst []float32, rows []int64) error {
	if err := t.bounds().CheckLookupPositionRows(dst, rows); err != nil || len(rows) == 0 {
		return err
	}
	return t.rows(ctx, "/v1/lookup", "section=positions", int64Bytes(rows), dst)
}

// Bag pools bags of ids, as store.Table.Bag: bag i holds
// ids[offsets[i]:offsets[i+1]]. A nil opts means mode sum, as in store.
// The arguments are checked here as the table checks them; the server
// pools the bags.
func (t *Table) Bag(ctx context.Context, dst []float32, ids, offsets []int64, opts *store.BagOptions) error {
	call, err := t.bounds().CheckBag(dst, ids, offsets, opts)
	if err != nil || call.Bags.Len() == 0 {
		return err
	}
	var o store.BagOptions
	if opts != nil {
		o = *opts
	}
	mode := map[store.BagMode]string{store.BagSum: "sum", store.BagMean: "mean", store.BagMax: "max"}[o.Mode]
	q := "mode=" + mode + "&offsets=" + strconv.Itoa(len(offsets))
	if o.IncludeLastOffset {
		q += "&include_last_offset=true"
	}
	if o.PaddingIdx != nil {
		q += "&padding_idx=" + strconv.FormatInt(*o.PaddingIdx, 10)
	}
	body := make([]byte, 0, 8*len(ids)+8*len(offsets)+4*len(o.PerSampleWeights))
	body = append(body, int64Bytes(ids)...)
	body = append(body, int64Bytes(offsets)...)
	if o.PerSampleWeights != nil {
		q += "&weights=true"
		for _, w := range o.PerSampleWeights {
			body = binary.LittleEndian.AppendUint32(body, math.Float32bits(w))
		}
	}
	return t.rows(ctx, "/v1/bag", q, body, dst)
}

// rows posts a binary request and reads the float32 rows of the answer
// into dst.
func (t *Table) rows(ctx context.Context, path, query string, body []byte, dst []float32) error {
	q := "table=" + url.QueryEscape(t.name)
	if query != "" {
		q += "&" + query
	}
	out := float32Bytes(dst)
	_, err := t.doInto(ctx, http.MethodPost, path, q, body, "application/octet-stream", out)
	if err == nil && !littleEndian {
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(out[4*i:]))
		}
	}
	return err
}

// do sends a request and returns the whole body of a 200 answer.
func (t *Table) do(ctx context.Context, method, path, query string, body []byte, ctype string) ([]byte, error) {
	return t.doInto(ctx, method, path, query, body, ctype, nil)
}

// doInto sends a request, retrying what can be retried, and reads the body
// of a 200 answer into out (which it must fill exactly) or, with out nil,
// returns it.
func (t *Table) doInto(ctx context.Context, method, path, query string, body []byte, ctype string, out []byte) ([]byte, error) {
	u := t.base + path
	if query != "" {
		u += "?" + query
	}
	wait := t.backoff
	for attempt := 0; ; attempt++ {
		res, retryAfter, err := t.once(ctx, method, u, body, ctype, out)
		if err == nil || attempt >= t.retries || !retryable(err) || ctx.Err() != nil {
			return res, err
		}
		d := wait/2 + rand.N(wait)
		if retryAfter > 0 {
			d = retryAfter
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
			return res, err // no time left for another try
		}
		timer := time.NewTimer(d)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, err
		case <-timer.C:
		}
		wait *= 2
	}
}

// errTransport marks failures of the connection, which may pass on a retry.
type errTransport struct{ err error }

func (e *errTransport) Error() string { return "embstore client: " + e.err.Error() }
func (e *errTransport) Unwrap() error { return e.err }

// Temporary reports whether err, from a method of Table, is a failure that
// may pass on a second try or on another server (a connection refused or
// cut, 429, 502, 503, 504), as opposed to a request the server refused.
func Temporary(err error) bool { return retryable(err) }

func retryable(err error) bool {
	var te *errTransport
	if errors.As(err, &te) {
		return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
	}
	var se *Error
	if errors.As(err, &se) {
		switch se.Status {
		case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
	}
	return false
}

func (t *Table) once(ctx context.Context, method, u string, body []byte, ctype string, out []byte) ([]byte, time.Duration, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, 0, fmt.Errorf("embstore client: %w", err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Accept", "application/octet-stream")
	}
	if t.key != "" {
		req.Header.Set("Authorization", "Bearer "+t.key)
	}
	resp, err := t.hc.Do(req)
	if err != nil {
		return nil, 0, &errTransport{err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, retryAfter(resp), readError(resp)
	}
	if out == nil {
		b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		if err != nil {
			return nil, 0, &errTransport{err}
		}
		return b, 0, nil
	}
	if resp.ContentLength >= 0 && resp.ContentLength != int64(len(out)) {
		return nil, 0, fmt.Errorf("embstore client: server sent %d bytes, want %d", resp.ContentLength, len(out))
	}
	if _, err := io.ReadFull(resp.Body, out); err != nil {
		return nil, 0, &errTransport{fmt.Errorf("reading %d bytes of rows: %w", len(out), err)}
	}
	// Drain so that the connection is reused.
	if n, _ := io.Copy(io.Discard, io.LimitReader(resp.Body, 1)); n != 0 {
		return nil, 0, fmt.Errorf("embstore client: server sent more than the %d bytes of rows asked for", len(out))
	}
	return nil, 0, nil
}

func retryAfter(resp *http.Response) time.Duration {
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 && s < 60 {
		return time.Duration(s) * time.Second
	}
	return 0
}

// readError decodes an error body of OpenAI's or TEI's shape.
func readError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &Error{Status: resp.StatusCode}
	var oa struct {
		Error struct {
			Message string  `json:"message"`
			Param   *string `json:"param"`
			Code    *string `json:"code"`
		} `json:"error"`
	}
	var tei struct {
		Error string `json:"error"`
	}
	switch {
	case json.Unmarshal(b, &oa) == nil && oa.Error.Message != "":
		e.Message = oa.Error.Message
		if oa.Error.Param != nil {
			e.Param = *oa.Error.Param
		}
		if oa.Error.Code != nil {
			e.Code = *oa.Error.Code
		}
	case json.Unmarshal(b, &tei) == nil && tei.Error != "":
		e.Message = tei.Error
	default:
		e.Message = strings.TrimSpace(string(b))
		if e.Message == "" {
			e.Message = resp.Status
		}
	}
	return e
}

var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// int64Bytes returns the little-endian bytes of v, without a copy where
// memory is little-endian.
func int64Bytes(v []int64) []byte {
	if len(v) == 0 {
		return []byte{}
	}
	if littleEndian {
		return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 8*len(v))
	}
	b := make([]byte, 0, 8*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint64(b, uint64(x))
	}
	return b
}

// float32Bytes returns memory to receive dst's little-endian bytes: dst's
// own on little-endian machines, a buffer to convert from elsewhere.
func float32Bytes(dst []float32) []byte {
	if len(dst) == 0 {
		return []byte{}
	}
	if littleEndian {
		return unsafe.Slice((*byte)(unsafe.Pointer(&dst[0])), 4*len(dst))
	}
	return make([]byte, 4*len(dst))
}
