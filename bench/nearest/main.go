// Command nearest is the Go side of bench/compare_nearest.py: it writes a
// random table, times exact nearest-neighbour search over it with
// store.Table.Nearest and NearestBatch, and measures the machine's memory
// read bandwidth.
//
//	go run ./bench/nearest gen -rows 1000000 -dim 300 -dtype f32 -o t.emb
//	go run ./bench/nearest gen -from t.emb -norms -o t-norms.emb
//	go run ./bench/nearest query -threads 1 -batch 64 -k 10 t.emb
//	go run ./bench/nearest bandwidth -threads 2 -bytes 1215000000 t.emb
//
// query and bandwidth print one JSON line each.
package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"time"

	"github.com/embstore/embstore/format"
	"github.com/embstore/embstore/store"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: nearest gen|query|bandwidth ...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "gen":
		err = gen(os.Args[2:])
	case "query":
		err = query(os.Args[2:])
	case "bandwidth":
		err = bandwidth(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "nearest:", err)
		os.Exit(1)
	}
}

// gen writes a table of normal(0, 1) values drawn from a seeded generator,
// or, with -from, the rows of another table (as lookups return them).
func gen(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	rows := fs.Int64("rows", 1000000, "rows")
	dim := fs.Int("dim", 300, "values a row")
	dtype := fs.String("dtype", "f32", "f32, f16, bf16 or int8")
	seed := fs.Uint64("seed", 1, "seed")
	out := fs.String("o", "", "output table")
	norms := fs.Bool("norms", false, "add a norms section (format 1.1), which searches use")
	from := fs.String("from", "", "copy the rows of this table instead of drawing them (-rows and -dim are its)")
	fs.Parse(args)
	var src *store.Table
	if *from != "" {
		var err error
		if src, err = store.Open(*from, nil); err != nil {
			return err
		}
		defer src.Close()
		*rows, *dim = src.Header().Rows, src.Header().Dim
	}
	d, err := format.ParseDType(*dtype)
	if err != nil {
		return err
	}
	fw, err := format.Create(*out, format.Layout{Rows: *rows, Dim: *dim, DType: d, Norms: *norms})
	if err != nil {
		return err
	}
	defer fw.Abort()
	rng := rand.New(rand.NewPCG(*seed, 0))
	buf := make([]float32, 4096**dim)
	ids := make([]int64, 4096)
	for r := int64(0); r < *rows; r += 4096 {
		n := int(min(4096, *rows-r))
		if src != nil {
			for i := range ids[:n] {
				ids[i] = r + int64(i)
			}
			if err := src.Lookup(buf[:n**dim], ids[:n]); err != nil {
				return err
			}
		} else {
			for i := range buf[:n**dim] {
				buf[i] = float32(rng.NormFloat64())
			}
		}
		if err := fw.WriteTokens(buf[:n**dim]); err != nil {
			return err
		}
	}
	return fw.Commit()
}

// QueryIDs returns the rows used as queries: the same on the Python side.
func queryIDs(n int, rows int64) []int64 {
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = (int64(i)*7919 + 13) % rows
	}
	return ids
}

type queryResult struct {
	DType     string    `json:"dtype"`
	Rows      int64     `json:"rows"`
	Dim       int       `json:"dim"`
	Threads   int       `json:"threads"`
	Batch     int       `json:"batch"`
	K         int       `json:"k"`
	Metric    string    `json:"metric"`
	Norms     string    `json:"norms"`
	Mode      string    `json:"mode"`
	QPS       float64   `json:"qps"`
	PassS     float64   `json:"pass_s"`
	GBPerS    float64   `json:"gb_per_s"`
	PassTimes []float64 `json:"pass_times_s"`
	IDs       []int64   `json:"ids"`
	Scores    []float32 `json:"scores"`
}

// query opens the table and times passes: each pass answers -batch queries
// (rows of the table, as gensim's most_similar of a word), with Nearest
// for one and NearestBatch for more. It reports the median pass.
func query(args []string) error {
	fs := flag.NewFlagSet("query", flag.ExitOnError)
	threads := fs.Int("threads", 1, "store.Options.Threads (GOMAXPROCS is set to it)")
	batch := fs.Int("batch", 1, "queries per pass")
	k := fs.Int("k", 10, "neighbours per query")
	metric := fs.String("metric", "cosine", "cosine, dot or l2")
	norms := fs.String("norms", "table", "table: NearestOptions.Norms nil (the table's norms section if it has one, else computed in the pass); slice: given (computed once beforehand)")
	mode := fs.String("mode", "populate", "map mode")
	minTime := fs.Duration("time", 3*time.Second, "time to spend timing, at least")
	minPasses := fs.Int("passes", 5, "passes to time, at least")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the timed passes to this file")
	fs.Parse(args)
	if fs.NArg() != 1 {
		return fmt.Errorf("query: one table file")
	}
	runtime.GOMAXPROCS(*threads)
	m, err := store.ParseMetric(*metric)
	if err != nil {
		return err
	}
	mm, err := store.ParseMapMode(*mode)
	if err != nil {
		return err
	}
	t, err := store.Open(fs.Arg(0), &store.Options{Threads: *threads, Mode: mm})
	if err != nil {
		return err
	}
	defer t.Close()
	dim := t.Header().Dim
	ids := queryIDs(max(*batch, 64), t.Header().Rows)
	all := make([]float32, len(ids)*dim)
	if err := t.Lookup(all, ids); err != nil {
		return err
	}
	opts := &store.NearestOptions{Metric: m}
	switch *norms {
	case "table":
	case "slice":
		ns := make(store.NormSlice, t.Header().Rows)
		row := make([]float32, dim)
		for i := range ns {
			if err := t.Lookup(row, []int64{int64(i)}); err != nil {
				return err
			}
			var s float64
			for _, x := range row {
				s += float64(float64(x) * float64(x))
			}
			ns[i] = float32(math.Sqrt(s))
		}
		opts.Norms = ns
	default:
		return fmt.Errorf("-norms %q: want table or slice", *norms)
	}
	dst := make([]store.Neighbour, *batch**k)
	counts := make([]int, *batch)
	pass := func(p int) error {
		if *batch == 1 {
			q := p % len(ids)
			_, err := t.Nearest(dst, all[q*dim:(q+1)*dim], *k, opts)
			return err
		}
		return t.NearestBatch(dst, counts, all[:*batch*dim], *k, opts)
	}
	if err := pass(0); err != nil { // warm-up (and page the table in)
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var times []float64
	start := time.Now()
	for p := 0; p < *minPasses || time.Since(start) < *minTime; p++ {
		t0 := time.Now()
		if err := pass(p); err != nil {
			return err
		}
		times = append(times, time.Since(t0).Seconds())
	}
	med := median(times)
	res := queryResult{
		DType: t.Header().DType.String(), Rows: t.Header().Rows, Dim: dim, Threads: *threads, Batch: *batch, K: *k,
		Metric: m.String(), Norms: *norms, Mode: mm.String(),
		QPS: float64(*batch) / med, PassS: med,
		GBPerS:    float64(t.Header().Rows*t.Header().DType.RowSize(dim)) / med / 1e9,
		PassTimes: times,
	}
	// The first query's neighbours, for the driver to compare with numpy.
	n, err := t.Nearest(dst, all[:dim], *k, opts)
	if err != nil {
		return err
	}
	for _, nb := range dst[:n] {
		res.IDs = append(res.IDs, nb.ID)
		res.Scores = append(res.Scores, nb.Score)
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

type bandwidthResult struct {
	Threads int       `json:"threads"`
	Bytes   int64     `json:"bytes"`
	Anon    float64   `json:"anon_gb_per_s"`   // bytes.IndexByte over zeroed anonymous memory
	Mapped  float64   `json:"mapped_gb_per_s"` // 64-bit loads over the table file's mapping
	Best    float64   `json:"read_gb_per_s"`   // the better of the two
	AnonRun []float64 `json:"anon_runs"`
	MapRun  []float64 `json:"mapped_runs"`
}

// bandwidth measures streaming reads of -bytes bytes on -threads
// goroutines: bytes.IndexByte (the standard library's vector loop) over a
// zeroed anonymous buffer, looking for a byte it does not hold, and a loop
// of 64-bit loads into 8 sums over the table's own mapping (populated).
func bandwidth(args []string) error {
	fs := flag.NewFlagSet("bandwidth", flag.ExitOnError)
	threads := fs.Int("threads", 1, "goroutines")
	size := fs.Int64("bytes", 1215000000, "bytes to read a pass")
	passes := fs.Int("passes", 7, "passes")
	fs.Parse(args)
	if fs.NArg() != 1 {
		return fmt.Errorf("bandwidth: one table file")
	}
	runtime.GOMAXPROCS(*threads)
	anon := make([]byte, *size)
	for i := 0; i < len(anon); i += 4096 {
		anon[i] = 0 // fault it in
	}
	mapped, unmap, err := mapFile(fs.Arg(0))
	if err != nil {
		return err
	}
	defer unmap()
	mapped = mapped[:min(int64(len(mapped)), *size)&^63]
	timeIt := func(buf []byte, read func([]byte) uint64) []float64 {
		var runs []float64
		for range *passes {
			var wg sync.WaitGroup
			t0 := time.Now()
			part := len(buf) / *threads &^ 63
			for i := range *threads {
				end := (i + 1) * part
				if i == *threads-1 {
					end = len(buf)
				}
				wg.Add(1)
				go func(b []byte) {
					defer wg.Done()
					sink.Add(read(b))
				}(buf[i*part : end])
			}
			wg.Wait()
			runs = append(runs, float64(len(buf))/time.Since(t0).Seconds()/1e9)
		}
		return runs
	}
	res := bandwidthResult{Threads: *threads, Bytes: *size}
	res.AnonRun = timeIt(anon, func(b []byte) uint64 { return uint64(bytes.IndexByte(b, 1) + 1) })
	res.MapRun = timeIt(mapped, sum64)
	res.Anon, res.Mapped = median(res.AnonRun), median(res.MapRun)
	res.Best = max(res.Anon, res.Mapped)
	return json.NewEncoder(os.Stdout).Encode(res)
}

var sink syncSink

type syncSink struct {
	mu sync.Mutex
	v  uint64
}

func (s *syncSink) Add(v uint64) { s.mu.Lock(); s.v += v; s.mu.Unlock() }

// sum64 adds the 64-bit words of b (a multiple of 64 bytes) into 8 sums.
func sum64(b []byte) uint64 {
	var s0, s1, s2, s3, s4, s5, s6, s7 uint64
	for i := 0; i+64 <= len(b); i += 64 {
		c := b[i : i+64 : i+64]
		s0 += binary.LittleEndian.Uint64(c[0:])
		s1 += binary.LittleEndian.Uint64(c[8:])
		s2 += binary.LittleEndian.Uint64(c[16:])
		s3 += binary.LittleEndian.Uint64(c[24:])
		s4 += binary.LittleEndian.Uint64(c[32:])
		s5 += binary.LittleEndian.Uint64(c[40:])
		s6 += binary.LittleEndian.Uint64(c[48:])
		s7 += binary.LittleEndian.Uint64(c[56:])
	}
	return s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7
}
