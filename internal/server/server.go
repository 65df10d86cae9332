package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/embstore/embstore/store"
	"github.com/klauspost/compress/gzhttp"
)

// Defaults of the limits in Config.
const (
	DefaultMaxBody       = 16 << 20 // bytes of request body
	DefaultMaxInputs     = 2048     // inputs per request, as OpenAI
	DefaultMaxTokens     = 300000   // token ids per request, as OpenAI
	DefaultMaxConcurrent = 64       // requests answered at once
	DefaultQueueWait     = 100 * time.Millisecond
)

// Config configures a Server. Zero values mean the defaults above.
type Config struct {
	Logger *slog.Logger // nil: discard logs
	// Follow is how tables are opened and followed (store.Options such as
	// Threads, Mode and Verify; the reload interval).
	Follow store.FollowOptions
	// Encoder gives a table's tokenizer for text inputs (TableTokenizer:
	// the table's own); nil (or a nil result) means the table takes token
	// ids only.
	Encoder EncoderFunc
	// APIKeyFile, if set, holds the accepted bearer keys, one per line.
	APIKeyFile    string
	MaxBody       int64         // request body bytes; larger bodies get 413
	MaxInputs     int           // inputs (or bags) per request
	MaxTokens     int           // token ids per request
	MaxConcurrent int           // requests answered at once
	QueueWait     time.Duration // how long a request waits for a slot before 429; negative: not at all
	Version       string        // reported by /info
	// OnChange, if set, is called after a table is added, removed or
	// reloaded (a new file swapped in), so that a registry can announce
	// the change. It is called from the goroutine that made the change,
	// possibly with the server's locks held: it must return at once
	// (signal a goroutine of its own) and not call the Server.
	OnChange func()
}

// A Server answers the HTTP API for a set of tables. Create it with New, add
// tables with AddTable or WatchDir, and serve Handler with an http.Server.
type Server struct {
	cfg     Config
	log     *slog.Logger
	tables  *tables
	keys    *keys
	gate    *gate
	metrics *metrics
	routes  map[string]*route
	handler http.Handler
	promh   http.Handler // the /metrics handler

	draining atomic.Bool
	dirsMu   sync.Mutex
	dirs     []string
	stop     chan struct{}
	wg       sync.WaitGroup
}

// New returns a Server with no tables.
func New(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.MaxInputs <= 0 {
		cfg.MaxInputs = DefaultMaxInputs
	}
	if cfg.MaxTokens <= 0 {
		cfg.MaxTokens = DefaultMaxTokens
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = DefaultMaxConcurrent
	}
	if cfg.QueueWait == 0 {
		cfg.QueueWait = DefaultQueueWait
	}
	if cfg.Encoder == nil {
		cfg.Encoder = func(*store.Table) (TextEncoder, error) { return nil, nil }
	}
	k, err := loadKeys(cfg.APIKeyFile)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, keys: k, gate: newGate(cfg.MaxConcurrent, cfg.QueueWait), stop: make(chan struct{})}
	s.metrics = newMetrics(func() *tables { return s.tables })
	s.tables = newTables(cfg.Follow, cfg.Logger, s.metrics, cfg.OnChange)
	s.promh = s.metrics.handler()
	s.routes = s.routeTable()
	gz, err := gzhttp.NewWrapper(gzhttp.MinSize(1024))
	if err != nil {
		return nil, err
	}
	s.handler = gz(http.HandlerFunc(s.dispatch))
	return s, nil
}

// AddTable serves the table file at path under name.
func (s *Server) AddTable(name, path string) error { return s.tables.add(name, path, false) }

// WatchDir serves every *.emb file of dir under its base name, and from then
// on checks dir every interval (and on Reload) for tables added or removed.
// It fails if dir cannot be read; a file in it that fails to open is logged
// (and counted as a reload failure) and tried again when it changes.
func (s *Server) WatchDir(dir string, interval time.Duration) error {
	if _, err := os.ReadDir(dir); err != nil {
		return err
	}
	if err := s.tables.syncDir(dir, true); err != nil {
		s.log.Error("table directory", "dir", dir, "err", err)
	}
	s.dirsMu.Lock()
	s.dirs = append(s.dirs, dir)
	s.dirsMu.Unlock()
	if interval > 0 {
		s.wg.Go(func() {
			t := time.NewTicker(interval)
			defer t.Stop()
			for {
				select {
				case <-s.stop:
					return
				case <-t.C:
					if err := s.tables.syncDir(dir, false); err != nil {
						s.log.Error("table directory", "dir", dir, "err", err)
					}
				}
			}
		})
	}
	return nil
}

// AddSource serves src under name: a table whose rows are not in a file of
// this server (embquery route serves a cluster's tables this way). The
// server closes src when it stops serving it.
func (s *Server) AddSource(name string, src Source) error { return s.tables.addSource(name, src) }

// Remove stops serving the table name; requests using it finish first.
func (s *Server) Remove(name string) { s.tables.remove(name) }

// Tables returns the names of the tables served, sorted.
func (s *Server) Tables() []string { return s.tables.names() }

// TableInfos describes every table served, sorted by name, as GET
// /v1/tables does.
func (s *Server) TableInfos() []TableInfo {
	var out []TableInfo
	for _, name := range s.tables.names() {
		if sv := s.tables.get(name); sv != nil {
			out = append(out, s.describe(sv))
		}
	}
	return out
}

// describe describes the current version of a served table.
func (s *Server) describe(sv *served) TableInfo {
	t, release, err := sv.src.Acquire()
	if err != nil {
		return s.infoOf(sv, nil)
	}
	defer release()
	return s.infoOf(sv, t)
}

// Reload does what SIGHUP asks: it re-reads the API key file (keeping the
// old keys if that fails), makes every table check its file now, retrying
// files refused before, and rescans the watched directories.
func (s *Server) Reload() error {
	var errs []error
	if err := s.keys.reload(); err != nil {
		errs = append(errs, err)
	} else if s.keys.enabled() {
		s.log.Info("re-read the API key file", "file", s.cfg.APIKeyFile)
	}
	s.tables.check()
	s.dirsMu.Lock()
	dirs := append([]string(nil), s.dirs...)
	s.dirsMu.Unlock()
	for _, d := range dirs {
		if err := s.tables.syncDir(d, true); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// SetDraining makes /health answer 503 from now on, so that load balancers
// stop sending requests while the server shuts down.
func (s *Server) SetDraining() { s.draining.Store(true) }

// Close stops watching directories and stops serving every table; tables
// still used by a request are unmapped when it finishes.
func (s *Server) Close() {
	select {
	case <-s.stop:
		return
	default:
	}
	close(s.stop)
	s.wg.Wait()
	s.tables.closeAll()
}

// Handler returns the HTTP handler of every route, with response
// compression (gzip and zstd, when the client asks).
func (s *Server) Handler() http.Handler { return s.handler }

// A route is one path of the API.
type route struct {
	name    string
	method  string // GET or POST
	family  family
	guarded bool // needs the key (when set) and a slot of the gate
	h       func(w *reply, r *http.Request) *apiError
	metrics *routeMetrics
}

func (s *Server) routeTable() map[string]*route {
	rs := []*route{
		{name: "/v1/embeddings", method: http.MethodPost, family: familyOpenAI, guarded: true, h: s.embeddings},
		{name: "/v1/models", method: http.MethodGet, family: familyOpenAI, guarded: true, h: s.models},
		{name: "/v1/models/", method: http.MethodGet, family: familyOpenAI, guarded: true, h: s.model},
		{name: "/v1/lookup", method: http.MethodPost, family: familyOpenAI, guarded: true, h: s.lookup},
		{name: "/v1/bag", method: http.MethodPost, family: familyOpenAI, guarded: true, h: s.bag},
		{name: "/v1/tables", method: http.MethodGet, family: familyOpenAI, guarded: true, h: s.tableList},
		{name: "/v1/tables/", method: http.MethodGet, family: familyOpenAI, guarded: true, h: s.tableInfo},
		{name: "/embed", method: http.MethodPost, family: familyTEI, guarded: true, h: s.teiEmbed},
		{name: "/embed_all", method: http.MethodPost, family: familyTEI, guarded: true, h: s.teiEmbedAll},
		{name: "/info", method: http.MethodGet, family: familyTEI, guarded: true, h: s.teiInfo},
		{name: "/health", method: http.MethodGet, family: familyTEI, h: s.health},
		{name: "/metrics", method: http.MethodGet, family: familyTEI, h: s.serveMetrics},
	}
	m := map[string]*route{}
	for _, r := range rs {
		r.metrics = s.metrics.route(r.name)
		m[r.name] = r
	}
	return m
}

// find returns the route of path: an exact match, or a prefix route
// ("/v1/tables/") for a path below it.
func (s *Server) find(path string) *route {
	if r := s.routes[path]; r != nil {
		return r
	}
	if i := strings.LastIndexByte(path, '/'); i > 0 {
		if r := s.routes[path[:i+1]]; r != nil && strings.HasSuffix(r.name, "/") {
			return r
		}
	}
	return nil
}

// A reply is the ResponseWriter handlers write to: it records the status
// and size for metrics and logs.
type reply struct {
	http.ResponseWriter
	status int
	bytes  int64
	inputs int // what the handler served: inputs, bags or rows
}

func (w *reply) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *reply) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *reply) Unwrap() http.ResponseWriter { return w.ResponseWriter }

var replyPool = sync.Pool{New: func() any { return new(reply) }}

// dispatch finds the route, applies auth, the gate and the body limit, runs
// the handler and records the outcome.
func (s *Server) dispatch(hw http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rt := s.find(r.URL.Path)
	if rt == nil {
		f := familyOpenAI
		if !strings.HasPrefix(r.URL.Path, "/v1/") {
			f = familyTEI
		}
		writeError(hw, f, errorf(http.StatusNotFound, "", "not_found", "no route %s %s", r.Method, r.URL.Path))
		return
	}
	w := replyPool.Get().(*reply)
	*w = reply{ResponseWriter: hw}
	defer func() {
		code := w.status
		if code == 0 {
			code = http.StatusOK
		}
		rt.metrics.counted(s.metrics, rt.name, code)
		rt.metrics.duration.Observe(time.Since(start).Seconds())
		rt.metrics.bytesOut.Add(float64(w.bytes))
		if code == http.StatusOK && rt.guarded && w.inputs > 0 {
			rt.metrics.inputs.Observe(float64(w.inputs))
		}
		if s.log.Enabled(r.Context(), slog.LevelDebug) {
			s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", code, "bytes", w.bytes,
				"took", time.Since(start), "remote", r.RemoteAddr)
		}
		*w = reply{}
		replyPool.Put(w)
	}()
	if err := s.admit(w, r, rt); err != nil {
		writeError(w, rt.family, err)
		return
	}
	if rt.guarded {
		defer s.gate.leave()
		s.metrics.inFlight.Inc()
		defer s.metrics.inFlight.Dec()
	}
	if err := rt.h(w, r); err != nil {
		if w.status != 0 {
			// The response had started: cut the connection rather than
			// append an error to a body the client may take as complete.
			panic(http.ErrAbortHandler)
		}
		if err.status >= 500 {
			s.log.Error("request failed", "path", r.URL.Path, "err", err.message)
		}
		writeError(w, rt.family, err)
	}
}

// admit checks the method, the key, the body size and takes a slot of the
// gate for guarded routes.
func (s *Server) admit(w *reply, r *http.Request, rt *route) *apiError {
	if r.Method != rt.method && !(rt.method == http.MethodGet && r.Method == http.MethodHead) {
		w.Header().Set("Allow", rt.method)
		return errorf(http.StatusMethodNotAllowed, "", "method_not_allowed", "%s %s: this route takes %s", r.Method, r.URL.Path, rt.method)
	}
	if !rt.guarded {
		return nil
	}
	if s.keys.enabled() && !s.keys.allowed(r.Header.Get("Authorization")) {
		s.metrics.rejected.WithLabelValues("unauthorized").Inc()
		if r.Header.Get("Authorization") == "" {
			return errorf(http.StatusUnauthorized, "", "invalid_api_key", "missing API key: send the header Authorization: Bearer KEY")
		}
		return errorf(http.StatusUnauthorized, "", "invalid_api_key", "incorrect API key")
	}
	if r.ContentLength > s.cfg.MaxBody {
		s.metrics.rejected.WithLabelValues("body_too_large").Inc()
		return errorf(http.StatusRequestEntityTooLarge, "", "body_too_large", "request body of %d bytes is larger than the limit of %d", r.ContentLength, s.cfg.MaxBody)
	}
	if !s.gate.enter(r.Context()) {
		s.metrics.rejected.WithLabelValues("overloaded").Inc()
		w.Header().Set("Retry-After", "1")
		return errorf(http.StatusTooManyRequests, "", "rate_limit_exceeded", "server busy: %d requests are being answered; retry shortly", s.cfg.MaxConcurrent)
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBody)
	return nil
}

// readBody reads the whole request body (at most MaxBody bytes, enforced by
// admit) into a pooled buffer; the caller gives it back with putBytes.
func (s *Server) readBody(r *http.Request) (*[]byte, *apiError) {
	bp := bytePool.Get().(*[]byte)
	b := (*bp)[:0]
	if n := r.ContentLength; n > 0 && int64(cap(b)) < n {
		b = make([]byte, 0, n)
	}
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			*bp = b[:0]
			putBytes(bp)
			var mb *http.MaxBytesError
			if errors.As(err, &mb) {
				s.metrics.rejected.WithLabelValues("body_too_large").Inc()
				return nil, errorf(http.StatusRequestEntityTooLarge, "", "body_too_large", "request body is larger than the limit of %d bytes", mb.Limit)
			}
			return nil, badRequest("", "reading the request body: %v", err)
		}
	}
	*bp = b
	return bp, nil
}

func putBytes(bp *[]byte) {
	if cap(*bp) <= 4*flushBytes {
		*bp = (*bp)[:0]
		bytePool.Put(bp)
	}
}

// acquire returns the served table name and a version of it held until
// release; or a 404 naming param.
func (s *Server) acquire(name, param string, f family) (*served, Table, func(), *apiError) {
	if name == "" {
		if f == familyTEI {
			return nil, nil, nil, errorf(http.StatusServiceUnavailable, "", "no_table", "no table is served")
		}
		return nil, nil, nil, badRequest(param, "%s: missing; name one of the tables: %s", param, strings.Join(s.tables.names(), ", "))
	}
	sv := s.tables.get(name)
	if sv == nil {
		return nil, nil, nil, errorf(http.StatusNotFound, param, "model_not_found", "%s %s: no such table (served: %s)", param, strconv.Quote(name), strings.Join(s.tables.names(), ", "))
	}
	t, release, err := sv.src.Acquire()
	if err != nil {
		return nil, nil, nil, errorf(http.StatusServiceUnavailable, param, "table_unavailable", "%s", trimPrefix(err.Error()))
	}
	return sv, t, release, nil
}

// health answers 200 once tables are served, 503 before, with none, and
// while shutting down.
func (s *Server) health(w *reply, r *http.Request) *apiError {
	if s.draining.Load() {
		return errorf(http.StatusServiceUnavailable, "", "", "shutting down")
	}
	if s.tables.count() == 0 {
		return errorf(http.StatusServiceUnavailable, "", "", "no table is served")
	}
	body := []byte(fmt.Sprintf("{\"status\":\"ok\",\"tables\":%d}\n", s.tables.count()))
	w.Header().Set("Content-Type", ctypeJSON)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
	return nil
}

func (s *Server) serveMetrics(w *reply, r *http.Request) *apiError {
	s.promh.ServeHTTP(w, r)
	return nil
}

// writeJSONValue writes a small precomputed JSON body.
func writeJSONBody(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", ctypeJSON)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// ctxErr turns a request's cancelled context into an error.
func ctxErr(ctx context.Context) *apiError {
	if err := ctx.Err(); err != nil {
		return errorf(499, "", "cancelled", "request cancelled: %v", err)
	}
	return nil
}
