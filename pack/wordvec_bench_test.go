package pack

import (
	"bufio"
	"context"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/embstore/embstore/internal/wordvec"
)

// BenchmarkImportWordVectors imports a 20000 x 300 word2vec text file
// (values with 5 decimals, as GloVe and fastText write them): "read" is the
// reader alone (parsing, duplicate check, vocabulary), "import" the whole
// import, from the file to the committed table, side by side.
func BenchmarkImportWordVectors(b *testing.B) {
	dir := b.TempDir()
	src := filepath.Join(dir, "vectors.txt")
	f, err := os.Create(src)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	const rows, dim = 20000, 300
	rng := rand.New(rand.NewPCG(1, 2))
	w.WriteString(strconv.Itoa(rows) + " " + strconv.Itoa(dim) + "\n")
	var buf []byte
	for i := range rows {
		buf = append(buf[:0], "w"...)
		buf = strconv.AppendInt(buf, int64(i), 10)
		for range dim {
			buf = append(buf, ' ')
			buf = strconv.AppendFloat(buf, rng.NormFloat64()*0.1, 'f', 5, 64)
		}
		buf = append(buf, '\n')
		w.Write(buf)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	st, _ := os.Stat(src)
	b.Run("read", func(b *testing.B) {
		b.SetBytes(st.Size())
		for range b.N {
			r, err := wordvec.Open(src, nil)
			if err != nil {
				b.Fatal(err)
			}
			for {
				if _, err := r.Next(); err == io.EOF {
					break
				} else if err != nil {
					b.Fatal(err)
				}
			}
			r.Close()
		}
		b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("import", func(b *testing.B) {
		dst := filepath.Join(dir, "t.emb")
		b.SetBytes(st.Size())
		for range b.N {
			if _, err := ImportWordVectors(context.Background(), dst, WordVectorSpec{Src: src}, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
}
