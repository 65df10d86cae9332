// Command wordvec is the Go side of bench/compare_wordvec.py: it writes a
// synthetic word-vector file and times internal/wordvec reading one.
//
//	go run ./bench/wordvec gen -rows 1000000 -dim 300 -o vecs.txt
//	go run ./bench/wordvec read [-workers N] vecs.txt
//
// read prints one JSON line: rows, dim, bytes, wall and CPU seconds, MB/s,
// rows/s, the process's peak resident set size, and the float32 bits of the
// first, middle and last rows.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/embstore/embstore/internal/wordvec"
)

var runtimeGOOS = runtime.GOOS

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: wordvec gen|read ...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "gen":
		err = gen(os.Args[2:])
	case "read":
		err = read(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "wordvec:", err)
		os.Exit(1)
	}
}

// gen writes a word2vec text file of random vectors (normal, scale 0.1,
// as trained vectors are) with a fixed number of decimals, as GloVe and
// fastText write them, or the shortest decimal (-decimals -1), as gensim
// does.
func gen(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	rows := fs.Int("rows", 1000000, "rows")
	dim := fs.Int("dim", 300, "values a row")
	decimals := fs.Int("decimals", 5, "decimals a value; -1: the shortest that reads back")
	out := fs.String("o", "", "output file")
	fs.Parse(args)
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	fmt.Fprintf(w, "%d %d\n", *rows, *dim)
	var b []byte
	for i := range *rows {
		b = append(b[:0], "word"...)
		b = strconv.AppendInt(b, int64(i), 10)
		for range *dim {
			b = append(b, ' ')
			b = strconv.AppendFloat(b, float64(float32(rng.NormFloat64()*0.1)), 'f', *decimals, 32)
		}
		b = append(b, '\n')
		w.Write(b)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

func read(args []string) error {
	fs := flag.NewFlagSet("read", flag.ExitOnError)
	workers := fs.Int("workers", 0, "parsing goroutines (0: GOMAXPROCS)")
	fs.Parse(args)
	if fs.NArg() != 1 {
		return fmt.Errorf("read takes one file")
	}
	start := time.Now()
	cpu0, _ := usage()
	r, err := wordvec.Open(fs.Arg(0), &wordvec.Options{Workers: *workers})
	if err != nil {
		return err
	}
	// Probe rows (first, middle, last) as float32 bits, for the comparison
	// script to check against gensim.
	h := r.Header()
	probes := map[int64][]uint32{}
	want := []int64{0, h.Rows / 2, h.Rows - 1}
	for {
		b, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		for _, p := range want {
			if i := p - b.FirstRow(); i >= 0 && i < int64(b.Len()) {
				var bits []uint32
				for _, v := range b.Vector(int(i)) {
					bits = append(bits, math.Float32bits(v))
				}
				probes[p] = bits
			}
		}
	}
	st := r.Stats()
	r.Close()
	wall := time.Since(start).Seconds()
	cpu1, rss := usage()
	cpu := cpu1 - cpu0
	info, _ := os.Stat(fs.Arg(0))
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"rows": st.Rows, "dim": h.Dim, "format": h.Format.String(), "bytes": info.Size(),
		"workers": max(*workers, 0), "gomaxprocs": runtime.GOMAXPROCS(0),
		"wall_s": wall, "cpu_s": cpu, "mb_per_s": float64(info.Size()) / 1e6 / wall,
		"rows_per_s": float64(st.Rows) / wall, "max_rss_mb": rss, "probes": probes,
	})
}
