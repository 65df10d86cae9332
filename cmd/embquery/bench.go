package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/embstore/embstore/internal/cli"
	"github.com/embstore/embstore/internal/errctx"
	"github.com/embstore/embstore/store"
)

var benchCommand = cli.Command{
	Name:     "embquery bench",
	Synopsis: "embquery bench FILE [--batch N] [--threads T] [--positions] [--mode gather|bag] [--ids FILE] [--seconds S] [--prefetch] [--lock-hot N]",
	Help: `
Bench measures lookups on this machine and prints one JSON line:

    {"rows_per_s": ..., "gb_per_s": ..., "p50_ms": ..., "p99_ms": ..., ...}

It looks up batches of --batch ids (uniform random ids, or the ids of --ids
FILE, cycled) for --seconds after a short warm-up, and reports ids looked up
per second (rows_per_s; pooled ids in bag mode too), table bytes read per
second (gb_per_s: ids x stored row size), output bytes written per second
(out_gb_per_s) and the median and 99th percentile time of one batch.
--positions treats each batch as consecutive sequences as long as the
positional table (the batch is rounded down to whole sequences); --mode bag
pools bags of --bag-size ids with --bag-mode.

For tables larger than memory: --prefetch, --lock-hot N or --lock-hot-file
FILE (see 'embquery serve --help'); bench/cold.sh measures them in a memory
cgroup.`,
}

// benchResult is the JSON line bench prints.
type benchResult struct {
	File             string  `json:"file"`
	Rows             int64   `json:"rows"`
	Dim              int     `json:"dim"`
	DType            string  `json:"dtype"`
	Mode             string  `json:"mode"`
	BagMode          string  `json:"bag_mode,omitempty"`
	BagSize          int     `json:"bag_size,omitempty"`
	Positions        bool    `json:"positions"`
	SeqLen           int     `json:"seq_len,omitempty"`
	Batch            int     `json:"batch"`
	Threads          int     `json:"threads"`
	MapMode          string  `json:"map_mode"`
	Batches          int     `json:"batches"`
	Seconds          float64 `json:"seconds"`
	RowsPerS         float64 `json:"rows_per_s"`
	GBPerS           float64 `json:"gb_per_s"`
	OutGBPerS        float64 `json:"out_gb_per_s"`
	P50ms            float64 `json:"p50_ms"`
	P99ms            float64 `json:"p99_ms"`
	ResidentFraction float64 `json:"resident_fraction"`
	HugePageFraction float64 `json:"hugepage_fraction"`
	Prefetch         bool    `json:"prefetch"`
	LockHot          int     `json:"lock_hot,omitempty"`     // rows locked: --lock-hot, or the ids of --lock-hot-file
	LockedBytes      int64   `json:"locked_bytes,omitempty"` // bytes locked at the end
	P999ms           float64 `json:"p999_ms"`
	GoMaxProcs       int     `json:"gomaxprocs"`
}

func runBench(e env, args []string) error {
	fs := cli.NewFlagSet(benchCommand)
	batch := fs.Int("batch", 8192, "ids per batch")
	threads := fs.Int("threads", runtime.GOMAXPROCS(0), "goroutines per batch (store Options.Threads)")
	positions := fs.Bool("positions", false, "add the positional table (sequences as long as the table)")
	mode := fs.String("mode", "gather", "gather or bag")
	bagSize := fs.Int("bag-size", 32, "with --mode bag: ids per bag")
	bagMode := fs.String("bag-mode", "mean", "with --mode bag: sum, mean or max")
	idFile := cli.ListFlag(fs, "ids", "read ids from `FILE` (whitespace-separated), cycled to fill batches")
	seconds := fs.Float64("seconds", 3, "measure for about this long")
	mapMode := fs.String("map-mode", "lazy", "mapping: lazy, populate, random, hugepages or anon-hugepages")
	seed := fs.Uint64("seed", 1, "seed of the random ids")
	spin := fs.Duration("worker-spin", store.DefaultWorkerSpin, "how long idle workers poll before sleeping (store Options.WorkerSpin; negative: sleep at once)")
	cold := addColdFlags(fs, true)
	if err := cli.Parse(fs, benchCommand, args, e.Stdout); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return cli.Usagef("want exactly one table FILE, got %d arguments", fs.NArg())
	}
	mm, err := store.ParseMapMode(*mapMode)
	switch {
	case err != nil:
		return cli.Usagef("--map-mode: %v", err)
	case *batch < 1:
		return cli.Usagef("--batch %d: want a positive batch", *batch)
	case *threads < 1 || *threads > store.MaxThreads():
		return cli.Usagef("--threads %d: want 1 to %d (4 per CPU)", *threads, store.MaxThreads())
	case !(*seconds > 0 && *seconds <= maxBenchSeconds): // NaN fails both
		return cli.Usagef("--seconds %v: want a duration above 0 and at most %d", *seconds, maxBenchSeconds)
	case *mode != "gather" && *mode != "bag":
		return cli.Usagef("--mode %q: want gather or bag", *mode)
	case *mode == "bag" && *positions:
		return cli.Usagef("--positions applies to --mode gather")
	case *mode == "bag" && (*bagSize < 1 || *batch%*bagSize != 0):
		return cli.Usagef("--bag-size %d must divide --batch %d", *bagSize, *batch)
	}
	var bm store.BagMode
	switch *bagMode {
	case "sum":
		bm = store.BagSum
	case "mean":
		bm = store.BagMean
	case "max":
		bm = store.BagMax
	default:
		return cli.Usagef("--bag-mode %q: want sum, mean or max", *bagMode)
	}

	opts := &store.Options{Mode: mm, Threads: *threads, WorkerSpin: *spin}
	if err := cold.apply(fs, opts); err != nil {
		return err
	}
	t, err := store.Open(fs.Arg(0), opts)
	if err != nil {
		return err
	}
	defer t.Close()
	res := benchResult{File: fs.Arg(0), Rows: t.Header().Rows, Dim: t.Header().Dim, DType: t.Header().DType.String(), Mode: *mode,
		Positions: *positions, Batch: *batch, Threads: *threads, MapMode: mm.String(), GoMaxProcs: runtime.GOMAXPROCS(0),
		Prefetch: opts.Prefetch, LockHot: max(opts.LockHot, len(opts.LockHotIDs))}
	if *positions {
		avail := t.Header().Positions() - t.Header().PositionOffset
		if avail <= 0 {
			return errctx.In("embstore", fs.Arg(0), store.ErrNoPositions)
		}
		res.SeqLen = int(min(avail, int64(*batch)))
		res.Batch = *batch / res.SeqLen * res.SeqLen
	}
	var offsets []int64
	if *mode == "bag" {
		res.BagMode, res.BagSize = bm.String(), *bagSize
		for o := 0; o < res.Batch; o += *bagSize {
			offsets = append(offsets, int64(o))
		}
	}

	ring, err := benchIDs(*idFile, t.Header().Rows, res.Batch, *seed)
	if err != nil {
		return err
	}
	if err := t.CheckIDs(ring); err != nil {
		return errctx.In("embstore", "--ids "+*idFile, err)
	}
	outRows := res.Batch
	if *mode == "bag" {
		outRows = len(offsets)
	}
	dst := make([]float32, outRows*t.Header().Dim)
	ids := make([]int64, res.Batch)
	next := 0
	fill := func() {
		for i := range ids {
			ids[i] = ring[next]
			if next++; next == len(ring) {
				next = 0
			}
		}
	}
	one := func() error {
		switch {
		case *mode == "bag":
			return t.Bag(dst, ids, offsets, &store.BagOptions{Mode: bm})
		case *positions:
			return t.LookupPositions(dst, ids, res.SeqLen, 0)
		}
		return t.Lookup(dst, ids)
	}

	// Warm up for a tenth of the time (at most a second), then measure.
	warm := time.Duration(min(*seconds/10, 1) * float64(time.Second))
	for start := time.Now(); time.Since(start) < warm; {
		fill()
		if err := one(); err != nil {
			return err
		}
	}
	var times []time.Duration
	total := time.Duration(0)
	budget := time.Duration(*seconds * float64(time.Second))
	for total < budget || len(times) < 5 {
		fill()
		start := time.Now()
		if err := one(); err != nil {
			return err
		}
		d := time.Since(start)
		times = append(times, d)
		total += d
	}
	slices.Sort(times)
	res.Batches = len(times)
	res.Seconds = total.Seconds()
	looked := float64(res.Batch) * float64(len(times))
	res.RowsPerS = looked / res.Seconds
	res.GBPerS = looked * float64(t.Header().DType.RowSize(t.Header().Dim)) / res.Seconds / 1e9
	res.OutGBPerS = float64(outRows) * float64(len(times)) * 4 * float64(t.Header().Dim) / res.Seconds / 1e9
	res.P50ms = float64(times[len(times)/2]) / 1e6
	res.P99ms = float64(times[min(len(times)-1, len(times)*99/100)]) / 1e6
	res.P999ms = float64(times[min(len(times)-1, len(times)*999/1000)]) / 1e6
	if st, err := t.Stats(); err == nil {
		res.ResidentFraction, res.HugePageFraction = st.ResidentFraction(), st.HugePageFraction()
		res.LockedBytes = st.LockedBytes
	}
	if err := json.NewEncoder(e.Stdout).Encode(res); err != nil {
		return err
	}
	return tableUnchanged(t)
}

// maxBenchSeconds bounds --seconds: a day.
const maxBenchSeconds = 86400

// benchIDs returns the ring of ids bench draws batches from: the ids of
// file, or uniform random ids (enough for many batches, so that repeated
// batches do not keep hitting the same cached rows).
func benchIDs(file string, rows int64, batch int, seed uint64) ([]int64, error) {
	if file == "" {
		rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		ring := make([]int64, max(1<<20, 4*batch))
		for i := range ring {
			ring[i] = rng.Int64N(rows)
		}
		return ring, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ring, err := readAll(newStdinIDs(f, file))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return ring, nil
}
