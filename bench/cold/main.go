//go:build linux

// Command cold measures lookups from a table larger than the memory the
// process may use, through the store library: batches of ids drawn uniformly
// or from a Zipf distribution, timed one by one, with the process's major
// page faults, its reads from storage and the table's resident fraction
// sampled every second. bench/cold.sh runs it inside a memory cgroup, once
// per configuration, and then runs "cold summarize" over the results.
//
//	cold --table FILE [--map-mode M] [--dist uniform|zipf] [--batch 256]
//	     [--seconds 12] [--warmup S] [--prefetch] [--lock-hot N]
//	     [--cold] [--warm] [--label NAME]
//	cold summarize FILE.jsonl
//
// It prints one JSON line per run.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/embstore/embstore/store"
)

// result is the JSON line one run prints.
type result struct {
	Label            string    `json:"label"`
	MapMode          string    `json:"map_mode"`
	Dist             string    `json:"dist"`
	Prefetch         bool      `json:"prefetch"`
	LockHot          int       `json:"lock_hot"`
	Batch            int       `json:"batch"`
	Threads          int       `json:"threads"`
	MemLimitBytes    int64     `json:"mem_limit_bytes"` // the memory cgroup's limit, 0 if none
	TableBytes       int64     `json:"table_bytes"`
	OpenSeconds      float64   `json:"open_s"`
	Batches          int       `json:"batches"`
	Seconds          float64   `json:"seconds"`
	RowsPerS         float64   `json:"rows_per_s"`
	P50us            float64   `json:"p50_us"`
	P99us            float64   `json:"p99_us"`
	P999us           float64   `json:"p999_us"`
	MajfltPerLookup  float64   `json:"majflt_per_lookup"`
	ReadKiBPerLookup float64   `json:"read_kib_per_lookup"` // bytes read from storage (/proc/self/io read_bytes)
	ReadKiBPerMajflt float64   `json:"read_kib_per_majflt"`
	WarmupResident   []float64 `json:"warmup_resident,omitempty"` // resident fraction during --warmup, once a second
	Resident         []float64 `json:"resident"`                  // resident fraction of the table, once a second
	LockedBytes      int64     `json:"locked_bytes"`
	LockErr          string    `json:"lock_err,omitempty"`
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "summarize" {
		if err := summarize(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "cold summarize:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "cold:", err)
		os.Exit(1)
	}
}

func run() error {
	table := flag.String("table", "", "table `FILE` (required)")
	mapMode := flag.String("map-mode", "lazy", "lazy, populate, random, hugepages or anon-hugepages")
	dist := flag.String("dist", "zipf", "id distribution: uniform, zipf (hot rows scattered over the table) or zipf-packed (row = rank)")
	zipfS := flag.Float64("zipf-s", 1.05, "Zipf exponent (above 1)")
	batch := flag.Int("batch", 256, "ids per batch")
	threads := flag.Int("threads", 1, "store Options.Threads")
	seconds := flag.Float64("seconds", 12, "measure for this long")
	prefetch := flag.Bool("prefetch", false, "store Options.Prefetch")
	lockHot := flag.Int("lock-hot", 0, "lock the N hottest rows, learned from the traffic")
	lockInterval := flag.Duration("lock-hot-interval", 2*time.Second, "relock learned hot rows this often")
	cold := flag.Bool("cold", false, "drop the file's pages from the page cache before opening (posix_fadvise DONTNEED)")
	warm := flag.Bool("warm", false, "read the whole file before measuring")
	warmup := flag.Float64("warmup", 0, "before measuring, look up ids of the same distribution (another seed) for this many seconds "+
		"through a second table opened with prefetch, to fill the page cache to its steady state fast")
	seed := flag.Int64("seed", 1, "seed of the ids")
	label := flag.String("label", "", "label of the run")
	flag.Parse()
	if *table == "" || flag.NArg() != 0 {
		return fmt.Errorf("want --table FILE and no arguments")
	}
	mm, err := store.ParseMapMode(*mapMode)
	if err != nil {
		return err
	}
	if *dist != "uniform" && *dist != "zipf" && *dist != "zipf-packed" {
		return fmt.Errorf("--dist %q: want uniform, zipf or zipf-packed", *dist)
	}
	if *cold {
		if err := dropCache(*table); err != nil {
			return err
		}
	}
	if *warm {
		if err := readAll(*table); err != nil {
			return err
		}
	}
	var warmRes []float64
	if *warmup > 0 {
		if warmRes, err = warmUp(*table, *dist, *zipfS, *batch, *seed+1000, *warmup); err != nil {
			return err
		}
	}
	start := time.Now()
	t, err := store.Open(*table, &store.Options{Mode: mm, Threads: *threads, Prefetch: *prefetch, LockHot: *lockHot, LockHotInterval: *lockInterval})
	if err != nil {
		return err
	}
	defer t.Close()
	res := result{Label: *label, MapMode: mm.String(), Dist: *dist, Prefetch: *prefetch, LockHot: *lockHot, Batch: *batch,
		Threads: *threads, MemLimitBytes: cgroupLimit(), TableBytes: t.Header().FileSize, OpenSeconds: time.Since(start).Seconds()}
	res.WarmupResident = warmRes
	rows := t.Header().Rows
	next := idSource(*dist, *zipfS, rows, *seed)
	ids := make([]int64, *batch)
	dst := make([]float32, *batch*t.Header().Dim)

	var mu sync.Mutex
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() { // the resident fraction, once a second
		defer close(sampled)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			if s, err := t.Stats(); err == nil {
				mu.Lock()
				res.Resident = append(res.Resident, round3(s.ResidentFraction()))
				mu.Unlock()
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()

	lat := make([]time.Duration, 0, 1<<20)
	flt0, rd0 := majflt(), readBytes()
	budget := time.Duration(*seconds * float64(time.Second))
	var total time.Duration
	for total < budget {
		for i := range ids {
			ids[i] = next()
		}
		s := time.Now()
		if err := t.Lookup(dst, ids); err != nil {
			return err
		}
		d := time.Since(s)
		lat = append(lat, d)
		total += d
	}
	flt1, rd1 := majflt(), readBytes()
	close(stop)
	<-sampled
	if s, err := t.Stats(); err == nil {
		res.LockedBytes = s.LockedBytes
		if s.LockErr != nil {
			res.LockErr = s.LockErr.Error()
		}
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / 1e3 }
	lookups := float64(len(lat) * *batch)
	res.Batches, res.Seconds = len(lat), total.Seconds()
	res.RowsPerS = lookups / total.Seconds()
	res.P50us, res.P99us, res.P999us = q(0.5), q(0.99), q(0.999)
	res.MajfltPerLookup = float64(flt1-flt0) / lookups
	res.ReadKiBPerLookup = float64(rd1-rd0) / 1024 / lookups
	if flt1 > flt0 {
		res.ReadKiBPerMajflt = float64(rd1-rd0) / 1024 / float64(flt1-flt0)
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// warmUp looks up batches of ids for the given seconds through the table
// opened with MapRandom and Prefetch (whatever the measured run's
// map mode: the page cache it fills is shared, and the fastest way to the
// steady state of a cache of hot rows), and returns its resident fraction once a
// second.
func warmUp(path string, dist string, s float64, batch int, seed int64, seconds float64) ([]float64, error) {
	t, err := store.Open(path, &store.Options{Mode: store.MapRandom, Prefetch: true})
	if err != nil {
		return nil, err
	}
	defer t.Close()
	next := idSource(dist, s, t.Header().Rows, seed)
	ids := make([]int64, batch)
	dst := make([]float32, batch*t.Header().Dim)
	var resident []float64
	start, lastSample := time.Now(), time.Time{}
	for time.Since(start) < time.Duration(seconds*float64(time.Second)) {
		if time.Since(lastSample) >= time.Second {
			if st, err := t.Stats(); err == nil {
				resident = append(resident, round3(st.ResidentFraction()))
			}
			lastSample = time.Now()
		}
		for i := range ids {
			ids[i] = next()
		}
		if err := t.Lookup(dst, ids); err != nil {
			return nil, err
		}
	}
	return resident, nil
}

// idSource returns a generator of ids: uniform over the rows, or Zipf with
// exponent s over the ranks 0..rows-1, rank r mapped to row r*a mod rows
// for an a coprime to rows, so that the hot rows are scattered over the
// table as hashed ids are ("zipf"), or to row r, the hot rows packed at the
// table's start as in a vocabulary sorted by frequency ("zipf-packed").
func idSource(dist string, s float64, rows int64, seed int64) func() int64 {
	rng := rand.New(rand.NewSource(seed))
	if dist == "uniform" {
		return func() int64 { return rng.Int63n(rows) }
	}
	z := rand.NewZipf(rng, s, 1, uint64(rows-1))
	if dist == "zipf-packed" {
		return func() int64 { return int64(z.Uint64()) }
	}
	a := int64(2654435761 % rows)
	for gcd(a, rows) != 1 {
		a++
	}
	return func() int64 {
		r := int64(z.Uint64())
		return int64((uint64(r) * uint64(a)) % uint64(rows))
	}
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func round3(f float64) float64 { return float64(int64(float64(f*1000)+0.5)) / 1000 }

// dropCache evicts the file's clean pages from the page cache.
func dropCache(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return fmt.Errorf("fadvise %s: %w", path, err)
	}
	return nil
}

// readAll reads the file once, so that it is in the page cache.
func readAll(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for {
		_, err := f.Read(buf)
		if err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

// majflt returns the process's major page faults so far.
func majflt() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Majflt
}

// readBytes returns the bytes the process has read from storage so far
// (/proc/self/io read_bytes), 0 if unknown.
func readBytes() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "read_bytes: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// cgroupLimit returns the limit of the process's cgroup v1 memory cgroup,
// 0 if it has none (or it is the root's unlimited one).
func cgroupLimit() int64 {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && parts[1] == "memory" {
			v, err := os.ReadFile("/sys/fs/cgroup/memory" + parts[2] + "/memory.limit_in_bytes")
			if err != nil {
				return 0
			}
			n, _ := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
			if n >= 1<<60 {
				return 0
			}
			return n
		}
	}
	return 0
}

// summarize prints, for each label, the medians of its runs' figures as a
// Markdown table, with p99 as a multiple of the "ram" label's p99 per
// distribution.
func summarize(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("want one FILE.jsonl")
	}
	f, err := os.Open(args[0])
	if err != nil {
		return err
	}
	defer f.Close()
	type key struct{ label, dist string }
	var order []key
	runs := map[key][]result{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return err
		}
		k := key{r.Label, r.Dist}
		if _, ok := runs[k]; !ok {
			order = append(order, k)
		}
		runs[k] = append(runs[k], r)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	med := func(rs []result, f func(result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	fmt.Println("| run | ids | runs | rows/s | p50 µs | p99 µs | p999 µs | p99 / RAM p99 | major faults / lookup | KiB read / lookup | resident (first s, last s) |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|")
	for _, k := range order {
		rs := runs[k]
		p99 := med(rs, func(r result) float64 { return r.P99us })
		ratio := "-"
		if ram, ok := runs[key{"ram", k.dist}]; ok {
			ratio = fmt.Sprintf("%.1fx", p99/med(ram, func(r result) float64 { return r.P99us }))
		}
		first := med(rs, func(r result) float64 { return at(r.Resident, 0) })
		last := med(rs, func(r result) float64 { return at(r.Resident, len(r.Resident)-1) })
		fmt.Printf("| %s | %s | %d | %.0f | %.0f | %.0f | %.0f | %s | %.3f | %.2f | %.2f, %.2f |\n", k.label, k.dist, len(rs),
			med(rs, func(r result) float64 { return r.RowsPerS }), med(rs, func(r result) float64 { return r.P50us }), p99,
			med(rs, func(r result) float64 { return r.P999us }), ratio,
			med(rs, func(r result) float64 { return r.MajfltPerLookup }), med(rs, func(r result) float64 { return r.ReadKiBPerLookup }),
			first, last)
	}
	return nil
}

func at(v []float64, i int) float64 {
	if i < 0 || i >= len(v) {
		return -1
	}
	return v[i]
}
