package client_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/embstore/embstore/client"
	"github.com/embstore/embstore/internal/server"
	"github.com/embstore/embstore/pack"
)

// Open connects to a table served by embquery serve (here a server on
// loopback in the same process); the Table has store.Table's lookups,
// with a context, and checks its arguments as the store does.
func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "gpt2-seed123.emb")
	if err := pack.Seed(context.Background(), path, pack.SeedSpec{Rows: 10, Dim: 4, Seed: 123, Positions: 3}, nil); err != nil {
		log.Fatal(err)
	}
	srv, err := server.New(server.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	if err := srv.AddTable("gpt2-seed123", path); err != nil {
		log.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()

	ctx := context.Background()
	t, err := client.Open(ctx, hs.URL, "gpt2-seed123", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer t.Close()
	ids := []int64{2, 7}
	out := make([]float32, len(ids)*t.Dim())
	if err := t.Lookup(ctx, out, ids); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%.4f\n", out)
	err = t.Lookup(ctx, out[:4], []int64{10})
	fmt.Println(err)
	var source client.Source = t // as a mapped table (client.Local) or a cluster would be
	fmt.Println(source.Rows(), source.Dim())
	// Output:
	// [0.7671 -1.1925 0.6984 -1.4097 -0.8199 -0.4210 -0.9620 1.2825]
	// embstore: ids[0] = 10 is out of range [0, 10) of the token table
	// 10 4
}
