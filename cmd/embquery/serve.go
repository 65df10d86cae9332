package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/embstore/embstore/internal/cli"
	"github.com/embstore/embstore/internal/server"
	"github.com/embstore/embstore/store"
)

var serveCommand = cli.Command{
	Name:     "embquery serve",
	Synopsis: "embquery serve [--addr 127.0.0.1:8080] [FILE]... [--table NAME=FILE]... [--dir DIR] [flags]",
	Help: `
Serve answers HTTP requests for tables: OpenAI's POST /v1/embeddings (one
vector per input: the mean of its tokens' rows), Hugging Face TEI's POST
/embed (the same, L2-normalised unless "normalize": false), POST /embed_all
and GET /info, the native POST /v1/lookup and POST /v1/bag (JSON, or
little-endian binary with Content-Type and Accept application/octet-stream),
GET /v1/models, GET /v1/tables[/NAME], GET /health and GET /metrics
(Prometheus).

A FILE argument serves that table under its base name without .emb;
--table NAME=FILE names it; --dir DIR serves every *.emb file in DIR and
picks up files added or removed there. A table file renamed over (as embpack
writes) is swapped in without failing a request; a new file that fails to
open (or to verify, with --verify) leaves the old one serving.

It prints "listening on ADDR" on standard output once it accepts requests,
and logs to standard error. SIGHUP re-reads the API key file and checks every
table file and directory now. SIGTERM or SIGINT stop accepting requests,
finish those in flight (within --shutdown-timeout) and exit 0; if requests are
still running then, it exits 1.`,
}

func runServe(e env, args []string) error {
	fs := cli.NewFlagSet(serveCommand)
	addr := fs.String("addr", envOr("EMBQUERY_ADDR", "127.0.0.1:8080"), "listen on `HOST:PORT` (port 0 picks a free one) [env EMBQUERY_ADDR]")
	tableSpecs := fs.StringArray("table", nil, "serve table `NAME=FILE` (repeatable)")
	dir := fs.String("dir", "", "serve every *.emb file of `DIR`, following additions and removals")
	dirInterval := fs.Duration("dir-interval", 2*time.Second, "how often --dir is rescanned")
	reloadInterval := fs.Duration("reload-interval", time.Second, "how often each table file is checked for a replacement (0: only on SIGHUP)")
	keyFile := fs.String("api-key-file", "", "require Authorization: Bearer KEY, with the keys listed one per line in `FILE`")
	threads := fs.Int("threads", runtime.GOMAXPROCS(0), "goroutines that gather one large batch together")
	mapMode := fs.String("map-mode", "lazy", "lazy, populate, random, hugepages or anon-hugepages")
	verify := fs.Bool("verify", false, "check every checksum of a table file before serving it (at start and on reload)")
	maxInputs := fs.Int("max-inputs", server.DefaultMaxInputs, "inputs (or bags) per request")
	maxTokens := fs.Int("max-tokens", server.DefaultMaxTokens, "token ids per request")
	maxBody := fs.Int64("max-body", server.DefaultMaxBody, "request body `BYTES`; larger bodies get 413")
	maxConcurrent := fs.Int("max-concurrent", server.DefaultMaxConcurrent, "requests answered at once; more wait --queue-wait, then get 429")
	queueWait := fs.Duration("queue-wait", server.DefaultQueueWait, "how long a request waits for a free slot before 429")
	tlsCert := fs.String("tls-cert", "", "serve HTTPS with this certificate `FILE` (PEM; with --tls-key)")
	tlsKey := fs.String("tls-key", "", "the private key `FILE` of --tls-cert (PEM)")
	headerTimeout := fs.Duration("read-header-timeout", 10*time.Second, "time a client has to send a request's headers")
	readTimeout := fs.Duration("read-timeout", time.Minute, "time a client has to send a whole request")
	writeTimeout := fs.Duration("write-timeout", 2*time.Minute, "time to answer a request, from the end of its headers")
	idleTimeout := fs.Duration("idle-timeout", 2*time.Minute, "how long an idle keep-alive connection is kept")
	shutdownTimeout := fs.Duration("shutdown-timeout", 30*time.Second, "on SIGTERM, how long requests in flight may take to finish")
	logFormat := fs.String("log-format", "text", "log lines as text or json (log/slog)")
	logLevel := fs.String("log-level", "info", "debug (one line per request), info, warn or error")
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
	case (*tlsCert == "") != (*tlsKey == ""):
		return cli.Usagef("--tls-cert and --tls-key go together")
	case *maxInputs < 1 || *maxTokens < 1 || *maxBody < 1 || *maxConcurrent < 1:
		return cli.Usagef("--max-inputs, --max-tokens, --max-body and --max-concurrent must be positive")
	case *shutdownTimeout < 0:
		return cli.Usagef("--shutdown-timeout %v: want a duration of at least 0", *shutdownTimeout)
	case fs.NArg() == 0 && len(*tableSpecs) == 0 && *dir == "":
		return cli.Usagef("nothing to serve: give table FILEs, --table NAME=FILE or --dir DIR")
	}
	log, err := newLogger(e, *logFormat, *logLevel)
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
	srv, err := server.New(server.Config{
		Logger: log,
		Follow: store.FollowOptions{
			Open:     &store.Options{Threads: *threads, Mode: mode, Verify: *verify},
			Interval: interval,
		},
		APIKeyFile: *keyFile, MaxBody: *maxBody, MaxInputs: *maxInputs, MaxTokens: *maxTokens,
		MaxConcurrent: *maxConcurrent, QueueWait: *queueWait, Version: cli.Version,
	})
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
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: *headerTimeout,
		ReadTimeout:       *readTimeout,
		WriteTimeout:      *writeTimeout,
		IdleTimeout:       *idleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if *tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
		if err != nil {
			return fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	// hs is not read here once it serves: Serve configures it.
	scheme := "http"
	if hs.TLSConfig != nil {
		scheme = "https"
	}
	served := make(chan error, 1)
	go func() {
		if scheme == "https" {
			served <- hs.ServeTLS(ln, "", "")
		} else {
			served <- hs.Serve(ln)
		}
	}()
	log.Info("serving", "addr", ln.Addr().String(), "scheme", scheme, "tables", strings.Join(srv.Tables(), ","),
		"auth", *keyFile != "", "max_concurrent", *maxConcurrent)
	fmt.Fprintf(e.Stdout, "listening on %s\n", ln.Addr())
	for {
		select {
		case err := <-served:
			return err
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				if err := srv.Reload(); err != nil {
					log.Error("reload on SIGHUP", "err", err)
				} else {
					log.Info("reloaded on SIGHUP")
				}
				continue
			}
			log.Info("shutting down: finishing requests in flight", "signal", sig.String(), "timeout", *shutdownTimeout)
			srv.SetDraining()
			ctx, cancel := context.WithTimeout(context.Background(), *shutdownTimeout)
			err := hs.Shutdown(ctx)
			cancel()
			if err != nil {
				hs.Close()
				return fmt.Errorf("requests still in flight after --shutdown-timeout %v: %w", *shutdownTimeout, err)
			}
			log.Info("shut down")
			return nil
		}
	}
}

// newLogger returns the slog logger of --log-format and --log-level, writing
// to standard error.
func newLogger(e env, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, cli.Usagef("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(e.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(e.Stderr, opts)), nil
	}
	return nil, cli.Usagef("--log-format %q: want text or json", format)
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
