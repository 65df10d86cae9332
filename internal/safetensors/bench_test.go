package safetensors

import (
	"io"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/embstore/embstore/internal/floatconv"
)

// writeBig writes a rows x cols tensor of dtype dt to a file in dir, row by
// row, without holding it in memory, and returns the path.
func writeBig(tb testing.TB, dir string, dt DType, rows, cols int64) string {
	tb.Helper()
	path := filepath.Join(dir, "big-"+string(dt)+".safetensors")
	row := make([]float32, cols)
	enc := make([]byte, cols*int64(dt.Bits()/8))
	rng := splitmix(9)
	err := WriteFile(path, nil, []WriteTensor{{Name: "w", DType: dt, Shape: []int64{rows, cols}, Data: func(w io.Writer) error {
		for range rows {
			for i := range row {
				row[i] = float32(int32(rng.next())) / (1 << 36)
			}
			switch dt {
			case BF16:
				floatconv.F32ToBF16(enc, row)
			case F16:
				floatconv.F32ToF16(enc, row)
			default:
				floatconv.F32ToF32LE(enc, row)
			}
			if _, err := w.Write(enc); err != nil {
				return err
			}
		}
		return nil
	}}})
	if err != nil {
		tb.Fatal(err)
	}
	return path
}

// TestRowReaderHeapBounded converts a 32 MiB tensor and checks that the Go
// heap grows by no more than the scratch buffer and the caller's rows.
func TestRowReaderHeapBounded(t *testing.T) {
	const rows, cols = 16384, 1024
	path := writeBig(t, t.TempDir(), BF16, rows, cols)
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rr, err := f.Rows("w")
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float32, 64*cols)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for r0 := int64(0); r0 < rows; r0 += 64 {
		if err := rr.ReadRows(dst, r0, 64); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if grew := int64(after.TotalAlloc - before.TotalAlloc); grew > ScratchSize+64<<10 {
		t.Errorf("converting %d MiB allocated %d bytes; want at most the %d-byte scratch buffer", rows*cols*2>>20, grew, ScratchSize)
	}
}

func benchmarkRows(b *testing.B, dt DType) {
	const rows, cols, batch = 32768, 768, 512
	path := writeBig(b, b.TempDir(), dt, rows, cols)
	f, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	rr, err := f.Rows("w")
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]float32, batch*cols)
	b.SetBytes(rows * cols * int64(dt.Bits()/8))
	b.ReportAllocs()
	for b.Loop() {
		for r0 := int64(0); r0 < rows; r0 += batch {
			if err := rr.ReadRows(dst, r0, batch); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(rows*cols)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mvalues/s")
}

// The row reader over a mapped 32768 x 768 tensor (a BERT-sized table),
// 512 rows at a time; MB/s counts source bytes.
func BenchmarkRowsBF16(b *testing.B) { benchmarkRows(b, BF16) }
func BenchmarkRowsF16(b *testing.B)  { benchmarkRows(b, F16) }
func BenchmarkRowsF32(b *testing.B)  { benchmarkRows(b, F32) }
