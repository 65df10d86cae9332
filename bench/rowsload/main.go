// Rowsload measures how fast a Go service gets rows from embquery serve
// through the client package, over TCP or a unix socket: --conns goroutines
// each look up batches of --batch uniform random ids (from a pool prepared
// before the clock starts) into their own buffer for --seconds, and it
// prints one JSON line:
//
//	{"url": ..., "batch": ..., "conns": ..., "requests": ..., "req_per_s": ..., "rows_per_s": ..., "p50_ms": ..., "p99_ms": ...}
//
// bench/serve.sh runs it beside wrk (which has no unix sockets) against the
// server and against bench/httpfloor. With --floor it does not ask the
// server for the table's shape (httpfloor answers every request with the
// same body): --rows and --dim give it.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/embstore/embstore/client"
)

func main() {
	url := flag.String("url", "", "the server: http://HOST:PORT or unix:///PATH/TO.sock")
	table := flag.String("table", "t", "the table's name")
	batch := flag.Int("batch", 8192, "ids per request")
	conns := flag.Int("conns", 2, "requests in flight at once (one goroutine each)")
	seconds := flag.Float64("seconds", 5, "how long to measure, after a warm-up of one request per goroutine")
	floor := flag.Bool("floor", false, "the server is bench/httpfloor: take the shape from --rows and --dim")
	rows := flag.Int64("rows", 50257, "with --floor: the table's rows")
	dim := flag.Int("dim", 256, "with --floor: the table's dim")
	flag.Parse()
	if err := run(*url, *table, *batch, *conns, *seconds, *floor, *rows, *dim); err != nil {
		fmt.Fprintln(os.Stderr, "rowsload:", err)
		os.Exit(1)
	}
}

func run(url, table string, batch, conns int, seconds float64, floor bool, rows int64, dim int) error {
	ctx := context.Background()
	var t *client.Table
	var err error
	if floor {
		t, err = client.New(url, table, client.Info{Rows: rows, Dim: dim}, &client.Options{Retries: -1})
	} else {
		t, err = client.Open(ctx, url, table, &client.Options{Retries: -1})
	}
	if err != nil {
		return err
	}
	defer t.Close()
	r := rand.New(rand.NewPCG(1, 2))
	pool := make([][]int64, 64)
	for i := range pool {
		pool[i] = make([]int64, batch)
		for j := range pool[i] {
			pool[i][j] = r.Int64N(t.Rows())
		}
	}
	var (
		mu    sync.Mutex
		times []time.Duration
		wg    sync.WaitGroup
		start = make(chan struct{})
		fail  error
		stop  time.Time
	)
	for g := range conns {
		wg.Go(func() {
			dst := make([]float32, batch*t.Dim())
			if err := t.Lookup(ctx, dst, pool[g%len(pool)]); err != nil { // warm-up
				mu.Lock()
				fail = err
				mu.Unlock()
			}
			<-start
			var mine []time.Duration
			for i := g; time.Now().Before(stop); i++ {
				t0 := time.Now()
				if err := t.Lookup(ctx, dst, pool[i%len(pool)]); err != nil {
					mu.Lock()
					fail = err
					mu.Unlock()
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			times = append(times, mine...)
			mu.Unlock()
		})
	}
	began := time.Now()
	stop = began.Add(time.Duration(seconds * float64(time.Second)))
	close(start)
	wg.Wait()
	took := time.Since(began).Seconds()
	if fail != nil {
		return fail
	}
	if len(times) == 0 {
		return fmt.Errorf("no request finished in %v s", seconds)
	}
	slices.Sort(times)
	ms := func(q float64) float64 { return float64(times[int(q*float64(len(times)-1))]) / 1e6 }
	out, _ := json.Marshal(map[string]any{
		"url": url, "batch": batch, "conns": conns, "requests": len(times),
		"req_per_s": float64(len(times)) / took, "rows_per_s": float64(len(times)*batch) / took,
		"p50_ms": ms(0.5), "p99_ms": ms(0.99),
	})
	fmt.Println(string(out))
	return nil
}
