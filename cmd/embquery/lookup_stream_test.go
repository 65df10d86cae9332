package main

import (
	"bytes"
	"io"
	"math/rand/v2"
	"strconv"
	"testing"
)

// BenchmarkLookupStream measures embquery lookup streaming ids from standard
// input (one per line, as seq writes them) to standard output: 1 M random
// ids of a 50257 x 16 table (narrow rows, so that reading ids and batching
// weigh as much as they can), raw and text output. MB/s counts the output.
func BenchmarkLookupStream(b *testing.B) {
	path, _, _ := seedTable(b, 50257, 16, 0)
	rng := rand.New(rand.NewPCG(5, 6))
	var in []byte
	const n = 1 << 20
	for range n {
		in = strconv.AppendInt(in, rng.Int64N(50257), 10)
		in = append(in, '\n')
	}
	for _, format := range []string{"raw", "text"} {
		b.Run(format, func(b *testing.B) {
			var out countingDiscard
			for b.Loop() {
				out.n = 0
				code := run([]string{"lookup", path, "--format", format, "--threads", "1"},
					env{Stdin: bytes.NewReader(in), Stdout: &out, Stderr: io.Discard})
				if code != 0 {
					b.Fatalf("exit %d", code)
				}
			}
			b.SetBytes(out.n)
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mids/s")
		})
	}
}

// countingDiscard counts what is written to it.
type countingDiscard struct{ n int64 }

func (c *countingDiscard) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }
