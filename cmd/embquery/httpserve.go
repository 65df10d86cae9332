package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/embstore/embstore/internal/cli"
	"github.com/embstore/embstore/internal/server"
	"github.com/spf13/pflag"
)

// httpFlags are the flags serve and route share: where to listen, the
// request limits, keys, TLS, timeouts and logs.
type httpFlags struct {
	addr            *string
	keyFile         *string
	maxInputs       *int
	maxTokens       *int
	maxBody         *int64
	maxConcurrent   *int
	queueWait       *time.Duration
	tlsCert, tlsKey *string
	headerTimeout   *time.Duration
	readTimeout     *time.Duration
	writeTimeout    *time.Duration
	idleTimeout     *time.Duration
	shutdownTimeout *time.Duration
	logFormat       *string
	logLevel        *string
}

// addHTTPFlags declares the shared flags on fs.
func addHTTPFlags(fs *pflag.FlagSet) *httpFlags {
	return &httpFlags{
		addr:            fs.String("addr", envOr("EMBQUERY_ADDR", "127.0.0.1:8080"), "listen on `HOST:PORT` (port 0 picks a free one), or on the unix socket unix:PATH [env EMBQUERY_ADDR]"),
		keyFile:         fs.String("api-key-file", "", "require Authorization: Bearer KEY, with the keys listed one per line in `FILE`"),
		maxInputs:       fs.Int("max-inputs", server.DefaultMaxInputs, "inputs (or bags) per request"),
		maxTokens:       fs.Int("max-tokens", server.DefaultMaxTokens, "token ids per request"),
		maxBody:         fs.Int64("max-body", server.DefaultMaxBody, "request body `BYTES`; larger bodies get 413"),
		maxConcurrent:   fs.Int("max-concurrent", server.DefaultMaxConcurrent, "requests answered at once; more wait --queue-wait, then get 429"),
		queueWait:       fs.Duration("queue-wait", server.DefaultQueueWait, "how long a request waits for a free slot before 429"),
		tlsCert:         fs.String("tls-cert", "", "serve HTTPS with this certificate `FILE` (PEM; with --tls-key)"),
		tlsKey:          fs.String("tls-key", "", "the private key `FILE` of --tls-cert (PEM)"),
		headerTimeout:   fs.Duration("read-header-timeout", 10*time.Second, "time a client has to send a request's headers"),
		readTimeout:     fs.Duration("read-timeout", time.Minute, "time a client has to send a whole request"),
		writeTimeout:    fs.Duration("write-timeout", 2*time.Minute, "time to answer a request, from the end of its headers"),
		idleTimeout:     fs.Duration("idle-timeout", 2*time.Minute, "how long an idle keep-alive connection is kept"),
		shutdownTimeout: fs.Duration("shutdown-timeout", 30*time.Second, "on SIGTERM, how long requests in flight may take to finish"),
		logFormat:       fs.String("log-format", "text", "log lines as text or json (log/slog)"),
		logLevel:        fs.String("log-level", "info", "debug (one line per request), info, warn or error"),
	}
}

// check returns a usage error for inconsistent shared flags.
func (h *httpFlags) check() error {
	switch {
	case (*h.tlsCert == "") != (*h.tlsKey == ""):
		return cli.Usagef("--tls-cert and --tls-key go together")
	case *h.maxInputs < 1 || *h.maxTokens < 1 || *h.maxBody < 1 || *h.maxConcurrent < 1:
		return cli.Usagef("--max-inputs, --max-tokens, --max-body and --max-concurrent must be positive")
	case *h.shutdownTimeout < 0:
		return cli.Usagef("--shutdown-timeout %v: want a duration of at least 0", *h.shutdownTimeout)
	case *h.addr == "unix:":
		return cli.Usagef("--addr unix:PATH: the socket's path is missing")
	}
	return nil
}

// config returns the server configuration of the shared flags.
func (h *httpFlags) config(log *slog.Logger) server.Config {
	return server.Config{
		Logger: log, APIKeyFile: *h.keyFile, MaxBody: *h.maxBody, MaxInputs: *h.maxInputs, MaxTokens: *h.maxTokens,
		MaxConcurrent: *h.maxConcurrent, QueueWait: *h.queueWait, Version: cli.Version,
	}
}

// hooks are what a command adds to the HTTP server's life.
type hooks struct {
	// listening runs once the listener is open, before "listening on" is
	// printed (serve registers in etcd here).
	listening func(addr net.Addr, scheme string) error
	// reload runs on SIGHUP.
	reload func() error
	// stopping runs on SIGTERM or SIGINT, before the server drains
	// (serve deregisters here).
	stopping func()
}

// serveHTTP serves srv's handler as the flags say until SIGTERM or SIGINT,
// then drains requests in flight.
func serveHTTP(e env, h *httpFlags, srv *server.Server, log *slog.Logger, hk hooks) error {
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: *h.headerTimeout,
		ReadTimeout:       *h.readTimeout,
		WriteTimeout:      *h.writeTimeout,
		IdleTimeout:       *h.idleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if *h.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(*h.tlsCert, *h.tlsKey)
		if err != nil {
			return fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := listen(*h.addr)
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
	if hk.listening != nil {
		if err := hk.listening(ln.Addr(), scheme); err != nil {
			hs.Close()
			return err
		}
	}
	log.Info("serving", "addr", listenAddr(ln), "scheme", scheme, "tables", strings.Join(srv.Tables(), ","),
		"auth", *h.keyFile != "", "max_concurrent", *h.maxConcurrent)
	fmt.Fprintf(e.Stdout, "listening on %s\n", listenAddr(ln))
	for {
		select {
		case err := <-served:
			return err
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				if err := hk.reload(); err != nil {
					log.Error("reload on SIGHUP", "err", err)
				} else {
					log.Info("reloaded on SIGHUP")
				}
				continue
			}
			log.Info("shutting down: finishing requests in flight", "signal", sig.String(), "timeout", *h.shutdownTimeout)
			if hk.stopping != nil {
				hk.stopping()
			}
			srv.SetDraining()
			ctx, cancel := context.WithTimeout(context.Background(), *h.shutdownTimeout)
			err := hs.Shutdown(ctx)
			cancel()
			if err != nil {
				hs.Close()
				return fmt.Errorf("requests still in flight after --shutdown-timeout %v: %w", *h.shutdownTimeout, err)
			}
			log.Info("shut down")
			return nil
		}
	}
}

// listen opens the listener of --addr: HOST:PORT for TCP, or unix:PATH for
// a unix socket, for clients on the same machine (no TCP stack between
// them: BENCHMARKS.md). A socket file left at PATH by a server that died is
// replaced; a live server's socket, or any other file, is an error. The
// socket file is removed when the listener closes.
func listen(addr string) (net.Listener, error) {
	path, ok := strings.CutPrefix(addr, "unix:")
	if !ok {
		return net.Listen("tcp", addr)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("--addr %s: %s exists and is not a socket", addr, path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("--addr %s: a server is listening on %s already", addr, path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("--addr %s: removing the stale socket: %w", addr, err)
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	return unixListener{ln}, nil
}

// unixSendBuffer is the send buffer asked for each connection of a unix
// socket (the kernel caps it at net.core.wmem_max): a unix socket's
// default (net.core.wmem_default, 208 KiB) cuts a batch of 8 MiB of rows
// into many small writes; 4 MiB made the fixed-body floor about 7% faster
// (BENCHMARKS.md). TCP connections are left to the kernel's autotuning,
// which setting a size would turn off.
const unixSendBuffer = 4 << 20

// A unixListener is a unix socket listener whose connections get a send
// buffer of unixSendBuffer bytes.
type unixListener struct{ net.Listener }

func (l unixListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if uc, ok := c.(*net.UnixConn); ok {
		uc.SetWriteBuffer(unixSendBuffer) // a hint: a failure leaves the default
	}
	return c, err
}

// listenAddr returns the address ln listens on as --addr takes it.
func listenAddr(ln net.Listener) string {
	if a, ok := ln.Addr().(*net.UnixAddr); ok {
		return "unix:" + a.Name
	}
	return ln.Addr().String()
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
