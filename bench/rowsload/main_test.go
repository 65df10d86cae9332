package main

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/embstore/embstore/internal/server"
	"github.com/embstore/embstore/pack"
)

// TestRowsload runs the load generator for a moment against a real server on
// a unix socket, as bench/serve.sh does.
func TestRowsload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "t.emb")
	if err := pack.Seed(context.Background(), path, pack.SeedSpec{Rows: 1000, Dim: 16, Seed: 123}, nil); err != nil {
		t.Fatal(err)
	}
	s, err := server.New(server.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.AddTable("t", path); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "s.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Skipf("no unix sockets: %v", err)
	}
	hs := &http.Server{Handler: s.Handler()}
	go hs.Serve(ln)
	defer hs.Close()
	if err := run("unix://"+sock, "t", 64, 2, 0.2, false, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := run("unix://"+sock, "nope", 64, 2, 0.2, false, 0, 0); err == nil {
		t.Fatal("an unknown table was measured")
	}
}
