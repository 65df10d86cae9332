package wordvec

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"
)

// synthText returns a word2vec text file of rows x dim values drawn like
// trained vectors (normal, scale 0.1) and written as gensim writes them
// (the shortest decimal that reads back).
func synthText(tb testing.TB, rows, dim int, f Format) []byte {
	tb.Helper()
	rng := rand.New(rand.NewPCG(5, 6))
	var out bytes.Buffer
	n := int64(rows)
	if f == GloVe {
		n = -1
	}
	w, err := NewWriter(&out, f, n, dim, nil)
	if err != nil {
		tb.Fatal(err)
	}
	vec := make([]float32, dim)
	for i := range rows {
		for j := range vec {
			vec[j] = float32(rng.NormFloat64() * 0.1)
		}
		if err := w.WriteRow([]byte(fmt.Sprintf("w%d", i)), vec); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return out.Bytes()
}

func benchRead(b *testing.B, data []byte, opts *Options) {
	b.SetBytes(int64(len(data)))
	rows := 0
	for b.Loop() {
		r, err := NewReader(bytes.NewReader(data), opts)
		if err != nil {
			b.Fatal(err)
		}
		rows = 0
		for {
			blk, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			rows += blk.Len()
		}
		r.Close()
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkReadText reads a 20000 x 300 word2vec text file (62 MB) on one
// worker and on every core.
func BenchmarkReadText(b *testing.B) {
	data := synthText(b, 20000, 300, Word2VecText)
	for _, w := range []int{1, runtime.GOMAXPROCS(0)} {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			benchRead(b, data, &Options{Workers: w})
		})
	}
}

// BenchmarkReadBinary reads the same table in word2vec binary.
func BenchmarkReadBinary(b *testing.B) {
	var out bytes.Buffer
	tb, err := readBytes(synthText(b, 20000, 300, Word2VecText), nil)
	if err != nil {
		b.Fatal(err)
	}
	w, _ := NewWriter(&out, Word2Vec, int64(len(tb.words)), 300, nil)
	for i, word := range tb.words {
		w.WriteRow(word, tb.row(i))
	}
	w.Close()
	benchRead(b, out.Bytes(), nil)
}

// BenchmarkParseValue parses values as trained vectors have them.
func BenchmarkParseValue(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	vals := make([][]byte, 4096)
	n := 0
	for i := range vals {
		vals[i] = appendValue(nil, float32(rng.NormFloat64()*0.1))
		n += len(vals[i])
	}
	b.SetBytes(int64(n / len(vals)))
	i := 0
	for b.Loop() {
		if _, ok := ParseValue(vals[i&4095]); !ok {
			b.Fatal(string(vals[i&4095]))
		}
		i++
	}
}

// BenchmarkWriteText writes word2vec text.
func BenchmarkWriteText(b *testing.B) {
	tb, err := readBytes(synthText(b, 2000, 300, Word2VecText), nil)
	if err != nil {
		b.Fatal(err)
	}
	var out bytes.Buffer
	for b.Loop() {
		out.Reset()
		w, _ := NewWriter(&out, Word2VecText, int64(len(tb.words)), 300, nil)
		for i, word := range tb.words {
			w.WriteRow(word, tb.row(i))
		}
		w.Close()
	}
	b.SetBytes(int64(out.Len()))
}

// BenchmarkSubwordBuckets computes the n-gram buckets of a word.
func BenchmarkSubwordBuckets(b *testing.B) {
	s := Subwords{MinN: 3, MaxN: 6, Bucket: 2000000}
	buf := make([]int64, 0, 64)
	word := []byte("internationalisation")
	for b.Loop() {
		buf = s.AppendBuckets(buf[:0], word)
	}
}

// BenchmarkStrconvParseFloat is the standard library on the same values,
// for scale.
func BenchmarkStrconvParseFloat(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	vals := make([]string, 4096)
	for i := range vals {
		vals[i] = string(appendValue(nil, float32(rng.NormFloat64()*0.1)))
	}
	i := 0
	for b.Loop() {
		if _, err := strconv.ParseFloat(vals[i&4095], 64); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// synthFastText returns a fastText .bin of words x dim with bucket n-gram
// rows (minn 3, maxn 6, as fastText's defaults), random values.
func synthFastText(words, bucket, dim int) []byte {
	s := ftSpec{version: 12, dim: int32(dim), bucket: int32(bucket), minn: 3, maxn: 6, model: 2, values: 0}
	for i := range words {
		s.words = append(s.words, fmt.Sprintf("word%d", i))
	}
	b := s.bytes()
	rng := rand.New(rand.NewPCG(9, 10))
	vals := make([]byte, 4*(words+bucket)*dim)
	for i := 0; i < len(vals); i += 4 {
		binary.LittleEndian.PutUint32(vals[i:], math.Float32bits(float32(rng.NormFloat64()*0.1)))
	}
	return append(b, vals...)
}

// BenchmarkReadFastTextBin reads a 20000-word fastText model (dim 100,
// 100000 buckets) from memory: each word's vector is its row and its 30
// or so n-gram rows.
func BenchmarkReadFastTextBin(b *testing.B) {
	data := synthFastText(20000, 100000, 100)
	for _, w := range []int{1, runtime.GOMAXPROCS(0)} {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			benchRead(b, data, &Options{Workers: w})
		})
	}
}
