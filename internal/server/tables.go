package server

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/embstore/embstore/internal/shardmeta"
	"github.com/embstore/embstore/store"
)

// A TextEncoder turns text into the token ids of a table: the table's
// tokenizer. Encode appends the ids of text to dst and returns it;
// addSpecial adds the special tokens the model adds (BOS, CLS, ...).
// Implementations must be safe for concurrent use.
type TextEncoder interface {
	Encode(dst []int64, text string, addSpecial bool) []int64
}

// EncoderFunc returns the text encoder of an open table, or nil (and no
// error) if the table has none; an error says the table's tokenizer cannot
// be used. It is called with the version of the table a request uses, so a
// reloaded file brings its own tokenizer. TableTokenizer is the one
// embquery serve uses.
type EncoderFunc func(t *store.Table) (TextEncoder, error)

// A served table: a name, its source (a followed file, or what AddSource
// gave), and where it came from.
type served struct {
	name    string
	path    string // the file, for tables served from files
	fromDir bool
	src     Source
	addedAt time.Time
	meta    metaCache // the pooling and shard range of the version last used
}

// tables is the set of served tables, by name. Reads are lock-free (a
// copy-on-write map); changes take mu.
type tables struct {
	mu     sync.Mutex
	byName atomic.Pointer[map[string]*served]
	order  []string // names in the order given, for the default table
	// refused holds the files of watched directories that failed to open,
	// with their size and modification time then.
	refused map[string]string

	follow   store.FollowOptions
	log      *slog.Logger
	metrics  *metrics
	onChange func() // Config.OnChange, or nil
}

func newTables(follow store.FollowOptions, log *slog.Logger, m *metrics, onChange func()) *tables {
	ts := &tables{follow: follow, log: log, metrics: m, refused: map[string]string{}, onChange: onChange}
	empty := map[string]*served{}
	ts.byName.Store(&empty)
	return ts
}

// get returns the table named name, or nil.
func (ts *tables) get(name string) *served { return (*ts.byName.Load())[name] }

// names returns the served names, sorted.
func (ts *tables) names() []string {
	m := *ts.byName.Load()
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// count returns how many tables are served.
func (ts *tables) count() int { return len(*ts.byName.Load()) }

// defaultName returns the table that routes without a table name (TEI's)
// use: the first one given that is still served, else the first by name.
func (ts *tables) defaultName() string {
	ts.mu.Lock()
	order := ts.order
	ts.mu.Unlock()
	m := *ts.byName.Load()
	for _, n := range order {
		if m[n] != nil {
			return n
		}
	}
	if names := ts.names(); len(names) > 0 {
		return names[0]
	}
	return ""
}

// ValidName reports whether name can name a table: 1 to 128 letters, digits
// and ._- characters, not starting with a dot.
func ValidName(name string) bool { return shardmeta.ValidName(name) }

// add opens path and serves it as name.
func (ts *tables) add(name, path string, fromDir bool) error {
	if !ValidName(name) {
		return fmt.Errorf("table name %q: want letters, digits, '.', '_' or '-', not starting with '.'", name)
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if (*ts.byName.Load())[name] != nil {
		return fmt.Errorf("table name %q is used twice (%s)", name, path)
	}
	opts := ts.follow
	opts.OnReload = func(r store.Reload) { ts.reloaded(name, r) }
	f, err := store.Follow(path, &opts)
	if err != nil {
		return fmt.Errorf("table %s: %w", name, err)
	}
	s := &served{name: name, path: path, fromDir: fromDir, src: &fileSource{path: path, follower: f}, addedAt: time.Now()}
	ts.store(func(m map[string]*served) { m[name] = s })
	if !fromDir {
		ts.order = append(ts.order, name)
	}
	t, release := f.Acquire()
	ts.log.Info("serving table", "table", name, "path", path, "rows", t.Header().Rows, "dim", t.Header().Dim, "dtype", t.Header().DType.String())
	release()
	ts.changed()
	return nil
}

// addSource serves src as name.
func (ts *tables) addSource(name string, src Source) error {
	if !ValidName(name) {
		return fmt.Errorf("table name %q: want letters, digits, '.', '_' or '-', not starting with '.'", name)
	}
	ts.mu.Lock()
	if (*ts.byName.Load())[name] != nil {
		ts.mu.Unlock()
		return fmt.Errorf("table name %q is used twice", name)
	}
	ts.store(func(m map[string]*served) { m[name] = &served{name: name, src: src, addedAt: time.Now()} })
	ts.order = append(ts.order, name)
	ts.mu.Unlock()
	ts.log.Info("serving table", "table", name)
	ts.changed()
	return nil
}

// changed tells the OnChange hook that the set of tables, or a table's
// file, changed.
func (ts *tables) changed() {
	if ts.onChange != nil {
		ts.onChange()
	}
}

// reloaded logs and counts a reload of table name.
func (ts *tables) reloaded(name string, r store.Reload) {
	if r.Err != nil {
		ts.log.Error("reload refused; the old file keeps serving", "table", name, "err", r.Err)
		ts.metrics.reloadFailures.WithLabelValues(name).Inc()
		return
	}
	ts.log.Info("reloaded table", "table", name, "path", r.Path, "generation", r.Generation, "took", r.Duration)
	ts.metrics.reloads.WithLabelValues(name).Inc()
	ts.changed()
}

// remove stops serving name; requests holding it finish first.
func (ts *tables) remove(name string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	s := (*ts.byName.Load())[name]
	if s == nil {
		return
	}
	ts.store(func(m map[string]*served) { delete(m, name) })
	s.src.Close()
	ts.metrics.forget(name)
	ts.log.Info("stopped serving table", "table", name, "path", s.path)
	ts.changed()
}

// store replaces the map with a changed copy (ts.mu held).
func (ts *tables) store(change func(map[string]*served)) {
	old := *ts.byName.Load()
	m := make(map[string]*served, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	change(m)
	ts.byName.Store(&m)
}

// check asks every table to look at its file now (SIGHUP), including files
// refused before.
func (ts *tables) check() {
	for _, s := range *ts.byName.Load() {
		if c, ok := s.src.(interface{ Check() error }); ok {
			_ = c.Check() // logged and counted by OnReload
		}
	}
}

// syncDir serves every *.emb file in dir under its base name and stops
// serving the tables that came from dir and whose file is gone. A file that
// fails to open is reported once and tried again when it changes, or on a
// forced sync (SIGHUP).
func (ts *tables) syncDir(dir string, force bool) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	present := map[string]string{}
	for _, e := range entries {
		n := e.Name()
		if !strings.HasSuffix(n, ".emb") || strings.HasPrefix(n, ".") || e.IsDir() {
			continue
		}
		present[strings.TrimSuffix(n, ".emb")] = filepath.Join(dir, n)
	}
	var errs []error
	for name, path := range present {
		if s := ts.get(name); s != nil {
			if !s.fromDir && s.path != path {
				errs = append(errs, fmt.Errorf("%s: table name %q is already served from %s", path, name, s.path))
			}
			continue
		}
		st, err := os.Stat(path)
		if err != nil {
			continue // gone since ReadDir
		}
		seen := fmt.Sprintf("%d %d", st.Size(), st.ModTime().UnixNano())
		ts.mu.Lock()
		refused := ts.refused[path] == seen
		ts.mu.Unlock()
		if refused && !force {
			continue
		}
		if err := ts.add(name, path, true); err != nil {
			ts.mu.Lock()
			ts.refused[path] = seen
			ts.mu.Unlock()
			ts.metrics.reloadFailures.WithLabelValues(name).Inc()
			errs = append(errs, err)
		}
	}
	for name, s := range *ts.byName.Load() {
		if s.fromDir && present[name] == "" {
			ts.remove(name)
		}
	}
	return errors.Join(errs...)
}

// closeAll stops serving every table.
func (ts *tables) closeAll() {
	for _, n := range ts.names() {
		ts.remove(n)
	}
}
